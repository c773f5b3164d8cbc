// FusedStep::eval_gpu for MLX's CUDA backend: allocate (donating), bind,
// and launch the fused kernel through MLX's command encoder, with the tensor
// table as the kernel's argument, or in a buffer when it is too large for
// one (launch.h). One launch per step.
#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "cuda/launch.h"
#include "mlx/allocator.h"
#include "mlx/backend/cuda/device.h"
#include "mlx/backend/cuda/utils.h"
#include "primitives.h"

namespace mlx_sched {

void FusedStep::eval_gpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) {
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
  L->step = mx::gpu_ptr<uint64_t>(inputs[FusedIo::step]);
  L->programs = mx::gpu_ptr<int32_t>(inputs[FusedIo::programs]);
  L->R = inputs[FusedIo::programs].shape(1);
  L->ngroups = static_cast<int32_t>(groups_.size());
  L->step_out = mx::gpu_ptr<uint64_t>(outputs[FusedIo::step_out]);
  L->lr_out = mx::gpu_ptr<float>(outputs[FusedIo::rates]);
  CUfunction kernel = cuda::fused_step_kernel(kind_);
  const auto& T = table.tensors;
  const auto& Ls = table.layouts;
  L->ntensors = static_cast<int32_t>(T.size());
  L->nchunks = static_cast<int32_t>(table.chunks);
  if (T.size() <= static_cast<size_t>(cuda::kOptMaxTensors) && Ls.size() <= static_cast<size_t>(cuda::kOptMaxLayouts) &&
      groups_.size() <= static_cast<size_t>(cuda::kOptMaxGroups)) {
    std::copy(T.begin(), T.end(), L->tensors);
    std::copy(Ls.begin(), Ls.end(), L->layouts);
    std::copy(groups_.begin(), groups_.end(), L->groups);
  } else {
    // Too large for the argument: a unified-memory buffer the host writes
    // now (it is fresh, no kernel reads it yet) and the encoder keeps alive.
    const size_t tb = T.size() * sizeof(sched_opt_tensor), lb = Ls.size() * sizeof(sched_opt_layout);
    const size_t gb = groups_.size() * sizeof(sched_opt_group);
    mx::array buf({static_cast<int>(tb + lb + gb)}, mx::uint8, nullptr, {});
    buf.set_data(mx::allocator::malloc(tb + lb + gb));
    std::memcpy(buf.data<uint8_t>(), T.data(), tb);
    if (lb) std::memcpy(buf.data<uint8_t>() + tb, Ls.data(), lb);
    std::memcpy(buf.data<uint8_t>() + tb + lb, groups_.data(), gb);
    enc.add_temporary(buf);
    enc.set_input_array(buf);
    const auto* base = mx::gpu_ptr<uint8_t>(buf);
    L->table = reinterpret_cast<const sched_opt_tensor*>(base);
    L->table_layouts = lb ? reinterpret_cast<const sched_opt_layout*>(base + tb) : nullptr;
    L->table_groups = reinterpret_cast<const sched_opt_group*>(base + tb + lb);
  }
  enc.add_kernel_node(kernel, dim3(std::max<int32_t>(L->nchunks, 1)), dim3(SCHED_OPT_LANES), *L);
}

}  // namespace mlx_sched
