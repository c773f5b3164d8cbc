// The primitives' parts common to every backend: equivalence, shapes, transforms,
// ScheduleEval's GPU arguments and FusedStep's table.
#include "primitives.h"

#include <cstring>
#include <iterator>
#include <stdexcept>
#include <string>

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

void require_row_contiguous_program(const mx::array& program, const char* who) {
  if (!program.flags().row_contiguous) {
    throw std::invalid_argument(std::string("[") + who + "] the program must be row-contiguous.");
  }
}

sched_eval_args ScheduleEval::gpu_args(const std::vector<mx::array>& inputs, const mx::array& out) const {
  const auto& program = inputs[0];
  const auto& arg = inputs[1];
  sched_eval_args a = {};
  a.G = program.shape(0);
  a.R = program.shape(1);
  a.N = static_cast<int64_t>(out.size()) / a.G;
  if (mode_ == Mode::Steps) {
    a.contiguous = arg.flags().row_contiguous ? 1 : 0;
    if (!a.contiguous && static_cast<int>(arg.ndim()) > SCHED_MAX_DIMS) {
      throw std::invalid_argument("[ScheduleEval::eval_gpu] strided step arrays of more than " +
                                  std::to_string(SCHED_MAX_DIMS) + " dims are not supported.");
    }
    a.ndim = static_cast<int32_t>(arg.ndim());
    for (int d = 0; d < a.ndim && d < SCHED_MAX_DIMS; ++d) {
      a.shape[d] = arg.shape(d);
      a.strides[d] = arg.strides(d);
    }
  }
  return a;
}

int ScheduleEval::gpu_step_type(mx::Dtype dt) {
#define SCHED_STEP_DTYPE(name, short_name, type) mx::name,
  static constexpr mx::Dtype kDtypes[] = {SCHED_STEP_TYPES(SCHED_STEP_DTYPE)};
#undef SCHED_STEP_DTYPE
  for (int k = 0; k < static_cast<int>(std::size(kDtypes)); ++k) {
    if (kDtypes[k] == dt) return k;
  }
  throw std::invalid_argument("[ScheduleEval::eval_gpu] unsupported step dtype on the GPU.");
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
  return kind_ == o.kind_ && layout_ == o.layout_ && groups_.size() == o.groups_.size() &&
      std::memcmp(groups_.data(), o.groups_.data(), groups_.size() * sizeof(sched_opt_group)) == 0;
}

std::vector<mx::Shape> FusedStep::output_shapes(const std::vector<mx::array>& inputs) {
  // Only a shapeless mx.compile asks: the layout (every tensor's offset in
  // the flat buffers) was fixed when the step was traced, so the gradients
  // must keep their sizes.
  const FusedIo io = this->io(inputs.size());
  for (int i = 0; i < num_tensors(); ++i) {
    if (static_cast<int64_t>(inputs[io.grad(i)].size()) != layout_.size[i]) {
      throw std::invalid_argument(
          "[FusedStep] under mx.compile(..., shapeless=True) a fused optimizer step keeps the parameter shapes "
          "it was traced with (its flat layout is fixed then): gradient " + std::to_string(i) + " has " +
          std::to_string(inputs[io.grad(i)].size()) + " elements, the trace " + std::to_string(layout_.size[i]) +
          ". Compile without shapeless=True, or trace again.");
    }
  }
  const int ngroups = static_cast<int>(groups_.size());
  std::vector<mx::Shape> shapes = {{}, rates_shape(ngroups, layout_.members), hypers_shape(ngroups, layout_.members)};
  for (int b = 0; b < num_buckets(); ++b) shapes.push_back({static_cast<int>(layout_.bucket_size[b])});
  for (int b = 0; b < io.nb; ++b) {
    for (int k = 0; k < io.ns; ++k) shapes.push_back(inputs[io.state(b, k)].shape());
  }
  return shapes;
}

void FlatView::eval(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    auto& out = outputs[i];
    mx::Strides strides(out.ndim(), 1);
    for (int d = out.ndim() - 2; d >= 0; --d) strides[d] = strides[d + 1] * out.shape(d + 1);
    auto flags = inputs[0].flags();
    flags.row_contiguous = true;
    flags.contiguous = true;
    flags.col_contiguous = out.ndim() <= 1 || out.size() <= 1;
    out.copy_shared_buffer(inputs[0], strides, flags, out.size(), offsets_[i]);
  }
}

namespace {

// Dims of a strided array from dim `first` on (1: one member's sub-array)
// merged where they are contiguous with each other.
bool collapse(const mx::array& a, int first, sched_opt_layout& L) {
  L = {};
  int nd = 0;
  for (int d = first; d < a.ndim(); ++d) {
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

// The index in `layouts` (added) of a's layout from dim `first` on, or -1
// where those dims are row-contiguous.
sched_i32 layout_index(const mx::array& a, std::vector<sched_opt_layout>& layouts, int first = 0) {
  if (a.flags().row_contiguous) return -1;
  sched_opt_layout L;
  if (!collapse(a, first, L)) {
    throw std::invalid_argument("[FusedStep::eval] a gradient or parameter has more than 4 strided dims.");
  }
  if (L.ndim == 0 || (L.ndim == 1 && L.strides[0] == 1)) return -1;  // one member's part is contiguous
  layouts.push_back(L);
  return static_cast<sched_i32>(layouts.size() - 1);
}

}  // namespace

FusedStep::Table FusedStep::prepare(
    const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs, const Malloc& malloc,
    const Address& address) {
  // Everything that can fail comes first, before any output is touched: a
  // failed eval must leave the graph as it was.
  validate(inputs);
  allocate(inputs, outputs, malloc);
  return make_table(inputs, outputs, address);
}

void FusedStep::validate(const std::vector<mx::array>& inputs) const {
  const FusedIo io = this->io(inputs.size());
  require_row_contiguous_program(inputs[FusedIo::programs], "FusedStep::eval");
  std::vector<sched_opt_layout> scratch;
  const int first = layout_.members > 1 ? 1 : 0;
  for (int i = 0; i < io.n; ++i) {
    const auto& p = inputs[io.source(layout_.param_src[i])];
    if (!p.flags().row_contiguous && layout_.param_off[i] != 0) {
      throw std::invalid_argument("[FusedStep::eval] a strided parameter source must start at offset 0.");
    }
    layout_index(p, scratch, first);
    layout_index(inputs[io.grad(i)], scratch, first);
  }
}

void FusedStep::allocate(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs, const Malloc& malloc) {
  const FusedIo io = this->io(inputs.size());
  const int n = io.n, nb = io.nb, ns = io.ns;
  // Each output holds its own copy of the inputs: drop the other outputs'
  // copies (MLX detaches them after this eval anyway) so that an input only
  // this step holds counts as donatable.
  if (!outputs[FusedIo::step_out].is_tracer()) {
    for (auto& o : outputs) {
      if (&o.inputs() != &inputs) o.inputs().clear();
    }
  }
  outputs[FusedIo::step_out].set_data(malloc(outputs[FusedIo::step_out].nbytes()));
  // the rates, then the hypers (sched_opt_report), in one buffer
  auto& rates = outputs[FusedIo::rates];
  auto& hypers = outputs[FusedIo::hypers];
  rates.set_data(malloc(rates.nbytes() + hypers.nbytes()));
  mx::Strides hs(hypers.ndim(), 1);
  for (int d = hypers.ndim() - 2; d >= 0; --d) hs[d] = hs[d + 1] * hypers.shape(d + 1);
  auto hflags = rates.flags();
  hflags.contiguous = hflags.row_contiguous = true;
  hflags.col_contiguous = hypers.ndim() <= 1;
  hypers.copy_shared_buffer(rates, hs, hflags, hypers.size(), rates.size());
  auto donate_or_malloc = [&](const mx::array& in, mx::array& out) {
    if (in.is_donatable() && in.flags().row_contiguous && in.size() == out.size() && in.dtype() == out.dtype()) {
      out.copy_shared_buffer(in);
    } else {
      out.set_data(malloc(out.nbytes()));
    }
  };
  // A bucket's flat parameters are donated when its one source is the previous flat buffer.
  for (int b = 0; b < nb; ++b) {
    int src = -1;
    bool single = true;
    for (int i = 0; i < n; ++i) {
      if (layout_.bucket_of[i] != b) continue;
      if (src >= 0 && src != layout_.param_src[i]) single = false;
      if (layout_.param_off[i] != layout_.offset[i]) single = false;
      src = layout_.param_src[i];
    }
    auto& out = outputs[io.param_out(b)];
    if (src >= 0 && single && inputs[io.source(src)].ndim() == 1) {
      donate_or_malloc(inputs[io.source(src)], out);
    } else {
      out.set_data(malloc(out.nbytes()));
    }
    for (int k = 0; k < ns; ++k) donate_or_malloc(inputs[io.state(b, k)], outputs[io.state_out(b, k)]);
  }
}

FusedStep::Table FusedStep::make_table(const std::vector<mx::array>& inputs, const std::vector<mx::array>& outputs,
                                       const Address& address) const {
  const FusedIo io = this->io(inputs.size());
  const int n = io.n, ns = io.ns;
  // Members (a sweep): each tensor is M equal parts along axis 0, one table
  // entry each, in group group_of + m; a strided array's part m starts at
  // m * strides(0) and walks the layout of the dims after axis 0.
  const int M = layout_.members, first = M > 1 ? 1 : 0;
  auto at = [&](const mx::array& a, int64_t off) { return address(a) + off; };
  Table t;
  for (int i = 0; i < n; ++i) {
    const int b = layout_.bucket_of[i];
    const auto& g = inputs[io.grad(i)];
    const auto& p = inputs[io.source(layout_.param_src[i])];
    const int64_t bytes = static_cast<int64_t>(g.itemsize());
    const int64_t per = static_cast<int64_t>(g.size()) / M;  // elements per member
    const sched_i32 param_layout = layout_index(p, t.layouts, first);
    const sched_i32 grad_layout = layout_index(g, t.layouts, first);
    // element m * per of a row-contiguous array, else member m's start through axis 0's stride
    auto member_start = [&](const mx::array& a, int m) {
      return a.flags().row_contiguous || M == 1 ? m * per : m * static_cast<int64_t>(a.strides(0));
    };
    for (int m = 0; m < M; ++m) {
      const int64_t off = (layout_.offset[i] + m * per) * bytes;
      sched_opt_tensor e{};
      // A flat source (contiguous, at an offset), or the tensor itself (any layout).
      e.param_layout = param_layout;
      e.param = at(p, (layout_.param_off[i] + member_start(p, m)) * bytes);
      e.grad = at(g, member_start(g, m) * bytes);
      e.grad_layout = grad_layout;
      e.out_param = at(outputs[io.param_out(b)], off);
      e.s0 = at(inputs[io.state(b, 0)], off);
      e.out_s0 = at(outputs[io.state_out(b, 0)], off);
      if (ns == 2) {
        e.s1 = at(inputs[io.state(b, 1)], off);
        e.out_s1 = at(outputs[io.state_out(b, 1)], off);
      }
      e.size = static_cast<sched_i64>(per);
      e.first_chunk = static_cast<sched_i32>(t.chunks);
      e.group = static_cast<sched_i16>(layout_.group_of[i] + m);
      e.dtype = g.dtype() == mx::float32 ? SCHED_OPT_F32 : g.dtype() == mx::float16 ? SCHED_OPT_F16 : SCHED_OPT_BF16;
      t.chunks += sched_opt_chunks(e.size);
      t.tensors.push_back(e);
    }
  }
  return t;
}

}  // namespace mlx_sched
