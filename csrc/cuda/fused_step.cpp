// FusedStep::eval_gpu for MLX's CUDA backend: allocate (donating), bind,
// and launch the fused kernel through MLX's command encoder, with the tensor
// table as the kernel's argument (launch.h). One launch unless the step has
// more tensors or strided gradients than a table holds.
#include <algorithm>
#include <memory>
#include <stdexcept>

#include "cuda/launch.h"
#include "mlx/allocator.h"
#include "mlx/backend/cuda/device.h"
#include "mlx/backend/cuda/utils.h"
#include "primitives.h"

namespace mlx_sched {

void FusedStep::eval_gpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) {
  if (groups_.size() > static_cast<size_t>(cuda::kOptMaxGroups)) {
    throw std::invalid_argument("[FusedStep::eval_gpu] at most 64 parameter groups on the GPU.");
  }
  // A whole page keeps the step and the learning rates on the device (see ScheduleEval::eval_gpu).
  Table table = prepare(
      inputs, outputs, [](size_t n) { return mx::allocator::malloc(std::max<size_t>(n, 4096)); },
      [](const mx::array& a) -> sched_u8* {
        return a.size() ? const_cast<sched_u8*>(mx::gpu_ptr<sched_u8>(a)) : nullptr;
      });
  auto& enc = mx::cu::get_command_encoder(stream());
  for (const auto& in : inputs) enc.set_input_array(in);
  for (const auto& out : outputs) enc.set_output_array(out);

  auto L = std::make_unique<cuda::OptLaunch>();
  L->step = mx::gpu_ptr<uint64_t>(inputs[0]);
  L->programs = mx::gpu_ptr<int32_t>(inputs[1]);
  L->R = inputs[1].shape(1);
  L->ngroups = static_cast<int32_t>(groups_.size());
  std::copy(groups_.begin(), groups_.end(), L->groups);
  L->step_out = mx::gpu_ptr<uint64_t>(outputs[0]);
  L->lr_out = mx::gpu_ptr<float>(outputs[1]);
  CUfunction kernel = cuda::fused_step_kernel(kind_);
  const auto& T = table.tensors;
  size_t i = 0;
  do {  // at least one launch: it writes the step and the learning rates
    L->ntensors = 0;
    int32_t nlayouts = 0, first = T.empty() ? 0 : T[i].first_chunk;
    for (; i < T.size() && L->ntensors < cuda::kOptMaxTensors; ++i) {
      sched_opt_tensor e = T[i];
      if (e.grad_layout >= 0) {
        if (nlayouts == cuda::kOptMaxLayouts) break;
        L->layouts[nlayouts] = table.layouts[e.grad_layout];
        e.grad_layout = nlayouts++;
      }
      e.first_chunk -= first;
      L->tensors[L->ntensors++] = e;
    }
    const int64_t end = i < T.size() ? T[i].first_chunk : table.chunks;
    L->nchunks = static_cast<int32_t>(end - first);
    enc.add_kernel_node(kernel, dim3(std::max<int32_t>(L->nchunks, 1)), dim3(SCHED_OPT_LANES), *L);
    L->step_out = nullptr;
  } while (i < T.size());
}

}  // namespace mlx_sched
