// ScheduleEval::eval_gpu for MLX's Metal backend: load the metallib that sits
// next to this extension (library.h), take the kernel named by the
// shared rule (metal/kernel_names.h), bind program, input and output with
// MLX's command encoder and dispatch one thread per value: grid (N, G).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "metal/kernel_names.h"
#include "metal/library.h"
#include "mlx/backend/metal/device.h"
#include "mlx/backend/metal/utils.h"
#include "primitives.h"

namespace mlx_sched {

namespace {

// Kernel names: SCHED_METAL_STEPS_PREFIX + the MLX dtype name, in SCHED_STEP_TYPES order.
#define SCHED_METAL_STEP_NAME(name, short_name, type) SCHED_METAL_STEPS_PREFIX #name,
const char* const kStepKernels[] = {SCHED_STEP_TYPES(SCHED_METAL_STEP_NAME)};
#undef SCHED_METAL_STEP_NAME

}  // namespace

void ScheduleEval::eval_gpu(const std::vector<mx::array>& inputs, mx::array& out) {
  const auto& program = inputs[0];
  const auto& arg = inputs[1];
  require_row_contiguous_program(program, "ScheduleEval::eval_gpu");
  out.set_data(mx::allocator::malloc(out.nbytes()));
  if (out.size() == 0) return;

  // the kernel first: an unsupported dtype is reported before a layout
  const char* name = mode_ == Mode::Steps ? kStepKernels[gpu_step_type(arg.dtype())] : SCHED_METAL_RANGE;
  const sched_eval_args a = gpu_args(inputs, out);

  auto& s = stream();
  auto& d = mx::metal::device(s.device);
  auto* lib = d.get_library(SCHED_METAL_LIBRARY, metallib_path());
  auto* kernel = d.get_kernel(name, lib);
  auto& enc = mx::metal::get_command_encoder(s);
  enc.set_compute_pipeline_state(kernel);
  enc.set_input_array(program, 0);
  enc.set_input_array(arg, 1);  // the steps, or the int64 start in range mode
  enc.set_output_array(out, 2);
  enc.set_bytes(a, 3);
  size_t group = std::min<size_t>(static_cast<size_t>(a.N), kernel->maxTotalThreadsPerThreadgroup());
  enc.dispatch_threads(MTL::Size(a.N, a.G, 1), MTL::Size(group, 1, 1));
}

}  // namespace mlx_sched
