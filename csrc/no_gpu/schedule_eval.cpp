// ScheduleEval::eval_gpu for a build whose MLX has neither Metal nor CUDA.
#include <stdexcept>

#include "primitives.h"

namespace mlx_sched {

void ScheduleEval::eval_gpu(const std::vector<mx::array>&, mx::array&) {
  throw std::runtime_error(
      "[ScheduleEval::eval_gpu] this build of mlx-sched has no GPU backend: the MLX it was "
      "built against has neither Metal nor CUDA. Evaluate on the CPU (stream=mx.cpu).");
}

}  // namespace mlx_sched
