// ScheduleEval: what is common to every backend (transforms, shapes, equality).
#include "primitives.h"

#include <cstring>

#include "mlx/ops.h"
#include "ops.h"

namespace mlx_sched {

bool ScheduleEval::is_equivalent(const mx::Primitive& other) const {
  const auto& o = static_cast<const ScheduleEval&>(other);
  return mode_ == o.mode_ && batched_ == o.batched_ && n_ == o.n_;
}

std::vector<mx::Shape> ScheduleEval::output_shapes(const std::vector<mx::array>& inputs) {
  mx::Shape shape;
  if (batched_) shape.push_back(inputs[0].shape(0));
  if (mode_ == Mode::Range) {
    shape.push_back(n_);
  } else {
    shape.insert(shape.end(), inputs[1].shape().begin(), inputs[1].shape().end());
  }
  return {shape};
}

// A schedule is piecewise constant in the integer step and its program is
// data, not a differentiable quantity: all derivatives are zero.
std::vector<mx::array> ScheduleEval::jvp(
    const std::vector<mx::array>& primals,
    const std::vector<mx::array>& tangents,
    const std::vector<int>& argnums) {
  return {mx::zeros(output_shapes(primals)[0], mx::float32, stream())};
}

std::vector<mx::array> ScheduleEval::vjp(
    const std::vector<mx::array>& primals,
    const std::vector<mx::array>& cotangents,
    const std::vector<int>& argnums,
    const std::vector<mx::array>& outputs) {
  std::vector<mx::array> grads;
  for (int i : argnums) {
    grads.push_back(mx::zeros_like(primals[i], stream()));
  }
  return grads;
}

// vmap over the steps: the steps' mapped axis stays where it is in the
// output (after the batch axis when batched). Mapping over programs is
// what batches are for.
std::pair<std::vector<mx::array>, std::vector<int>> ScheduleEval::vmap(
    const std::vector<mx::array>& inputs, const std::vector<int>& axes) {
  if (axes[0] >= 0) {
    throw std::invalid_argument(
        "[ScheduleEval::vmap] vmap over a schedule's program is not supported; "
        "use a batch of schedules (mlx_sched.stack) instead.");
  }
  if (mode_ == Mode::Range || axes[1] < 0) {
    // Nothing mapped that reaches the output: evaluate once.
    return {{mx::array(
                output_shapes(inputs)[0],
                mx::float32,
                std::make_shared<ScheduleEval>(stream(), mode_, batched_, n_),
                inputs)},
            {-1}};
  }
  auto out = schedule_eval(inputs[0], inputs[1], batched_, stream());
  return {{out}, {axes[1] + (batched_ ? 1 : 0)}};
}

// ------------------------------------------------------------------ FusedStep

bool FusedStep::is_equivalent(const mx::Primitive& other) const {
  const auto& o = static_cast<const FusedStep&>(other);
  return kind_ == o.kind_ && group_of_ == o.group_of_ && groups_.size() == o.groups_.size() &&
      std::memcmp(groups_.data(), o.groups_.data(), groups_.size() * sizeof(sched_opt_group)) == 0;
}

std::vector<mx::Shape> FusedStep::output_shapes(const std::vector<mx::array>& inputs) {
  std::vector<mx::Shape> shapes = {{}, groups_.size() == 1 ? mx::Shape{} : mx::Shape{int(groups_.size())}};
  const int n = num_tensors();
  for (int k = 0; k < 1 + num_states(); ++k) {
    for (int i = 0; i < n; ++i) shapes.push_back(inputs[2 + i].shape());
  }
  return shapes;
}

namespace {

// Dims of a strided array merged where they are contiguous with each other.
bool collapse(const mx::array& a, sched_opt_layout& L) {
  L = {};
  int nd = 0;
  for (int d = 0; d < a.ndim(); ++d) {
    if (a.shape(d) == 1) continue;
    if (nd > 0 && L.strides[nd - 1] == a.strides(d) * a.shape(d)) {
      L.shape[nd - 1] *= a.shape(d);
      L.strides[nd - 1] = a.strides(d);
      continue;
    }
    if (nd == SCHED_OPT_MAX_DIMS) return false;
    L.shape[nd] = a.shape(d);
    L.strides[nd] = a.strides(d);
    ++nd;
  }
  L.ndim = nd;
  return true;
}

}  // namespace

FusedStep::Table FusedStep::prepare(
    const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs, const Malloc& malloc,
    const Address& address) {
  const int n = num_tensors(), ns = num_states();
  // Each output holds its own copy of the inputs: drop the other outputs'
  // copies (MLX detaches them after this eval anyway) so that an input only
  // this step holds counts as donatable.
  if (!outputs[0].is_tracer()) {
    for (auto& o : outputs) {
      if (&o.inputs() != &inputs) o.inputs().clear();
    }
  }
  outputs[0].set_data(malloc(outputs[0].nbytes()));
  outputs[1].set_data(malloc(outputs[1].nbytes()));
  Table t;
  for (int i = 0; i < n; ++i) {
    const auto& group = groups_[group_of_[i]];
    const bool keeps_s0 = kind_ == SCHED_OPT_SGD && !(group.flags & SCHED_OPT_MOMENTUM);
    auto bind = [&](const mx::array& in, mx::array& out, bool share) -> sched_u8* {
      if (!in.flags().row_contiguous) {
        throw std::invalid_argument(
            "[FusedStep::eval] parameters and optimizer states must be row-contiguous (gradients may be strided).");
      }
      if (share || in.is_donatable()) {
        out.copy_shared_buffer(in);
      } else {
        out.set_data(malloc(out.nbytes()));
      }
      return address(out);
    };
    sched_opt_tensor e{};
    const auto& g = inputs[2 + n + i];
    e.param = address(inputs[2 + i]);
    e.grad = address(g);
    e.out_param = bind(inputs[2 + i], outputs[2 + i], false);
    e.s0 = address(inputs[2 + 2 * n + i]);
    e.out_s0 = bind(inputs[2 + 2 * n + i], outputs[2 + n + i], keeps_s0);
    if (ns == 2) {
      e.s1 = address(inputs[2 + 3 * n + i]);
      e.out_s1 = bind(inputs[2 + 3 * n + i], outputs[2 + 2 * n + i], false);
    }
    e.size = static_cast<sched_i64>(g.size());
    e.first_chunk = static_cast<sched_i32>(t.chunks);
    e.group = group_of_[i];
    e.dtype = g.dtype() == mx::float32 ? SCHED_OPT_F32 : g.dtype() == mx::float16 ? SCHED_OPT_F16 : SCHED_OPT_BF16;
    e.grad_layout = -1;
    if (!g.flags().row_contiguous) {
      sched_opt_layout L;
      if (!collapse(g, L)) {
        throw std::invalid_argument("[FusedStep::eval] a gradient has more than 4 strided dims.");
      }
      e.grad_layout = static_cast<sched_i32>(t.layouts.size());
      t.layouts.push_back(L);
    }
    t.chunks += sched_opt_chunks(e.size);
    t.tensors.push_back(e);
  }
  return t;
}

}  // namespace mlx_sched
