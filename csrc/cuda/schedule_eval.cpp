// ScheduleEval::eval_gpu for MLX's CUDA backend: allocate, bind, launch one
// kernel through MLX's command encoder (it joins MLX's stream and CUDA graph).
#include <algorithm>
#include <stdexcept>

#include "cuda/launch.h"
#include "mlx/allocator.h"
#include "mlx/backend/cuda/device.h"
#include "mlx/backend/cuda/utils.h"
#include "primitives.h"

namespace mlx_sched {

void ScheduleEval::eval_gpu(const std::vector<mx::array>& inputs, mx::array& out) {
  const auto& program = inputs[0];
  const auto& arg = inputs[1];
  require_row_contiguous_program(program, "ScheduleEval::eval_gpu");
  // MLX's own kernels allocate device memory (cu::malloc_async, not exported);
  // allocator::malloc gives unified memory, and a tiny request comes from a
  // pool of small buffers that the host also touches, so every launch would
  // migrate pages. A whole page keeps a scalar output on the device.
  out.set_data(mx::allocator::malloc(std::max<size_t>(out.nbytes(), 4096)));
  if (out.size() == 0) return;

  auto& enc = mx::cu::get_command_encoder(stream());
  enc.set_input_array(program);
  enc.set_input_array(arg);
  enc.set_output_array(out);

  cuda::Launch L{gpu_args(inputs, out)};
  L.program = mx::gpu_ptr<int32_t>(program);
  L.out = mx::gpu_ptr<float>(out);
  cuda::load_kernels();
  CUfunction kernel;
  if (mode_ == Mode::Range) {
    L.start = mx::gpu_ptr<int64_t>(arg);
    kernel = cuda::range_kernel();
  } else {
    L.steps = mx::gpu_ptr<void>(arg);
    kernel = cuda::steps_kernel(static_cast<cuda::StepType>(gpu_step_type(arg.dtype())));
  }
  // one block per kBlockDim * kPerThread values of a member
  const int64_t per_block = int64_t(cuda::kBlockDim) * cuda::kPerThread;
  dim3 grid(static_cast<unsigned>(((L.N + per_block - 1) / per_block) * L.G));
  enc.add_kernel_node(kernel, grid, dim3(cuda::kBlockDim), L);
}

}  // namespace mlx_sched
