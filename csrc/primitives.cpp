// ScheduleEval: what is common to every backend (transforms, shapes, equality).
#include "primitives.h"

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

}  // namespace mlx_sched
