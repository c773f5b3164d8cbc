// FusedStep::eval_gpu for a build whose MLX has neither Metal nor CUDA.
#include <stdexcept>

#include "primitives.h"

namespace mlx_sched {

void FusedStep::eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) {
  throw std::runtime_error(
      "[FusedStep::eval_gpu] this build of mlx-sched has no GPU backend: the MLX it was built against "
      "has neither Metal nor CUDA. Run the optimizer on the CPU (mx.set_default_device(mx.cpu)).");
}

}  // namespace mlx_sched
