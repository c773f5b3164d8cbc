// mlx-sched CUDA kernels of the fused optimizer step: indexing only; the
// update and the schedules come from the shared math (math/optim.h).
//
// One block per chunk of 4096 elements of one tensor (launch.h: OptLaunch).
// Thread 0 finds the chunk's tensor and evaluates its group's schedules at
// the step read from the device; every thread then updates 16 elements, 256
// apart, so each load and store of a warp is one contiguous segment.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "cuda/launch.h"
#include "math/optim.h"

namespace mlx_sched::cuda {

namespace {

static_assert(SCHED_OPT_LANES == 256, "one lane per thread");

template <int KIND>
__global__ void __launch_bounds__(SCHED_OPT_LANES, 4) fused_step_impl(const __grid_constant__ OptLaunch L) {
  __shared__ sched_opt_scalars S;
  __shared__ int32_t t_index;
  const uint64_t step = *L.step;
  if (blockIdx.x == 0 && L.step_out != nullptr) {
    for (int32_t g = threadIdx.x; g < L.ngroups; g += blockDim.x) {
      L.lr_out[g] = sched_opt_group_scalars(L.groups[g], L.programs, L.R, step).lr;
    }
    if (threadIdx.x == 0) *L.step_out = step + 1;
  }
  if (static_cast<int32_t>(blockIdx.x) >= L.nchunks) return;  // a step without elements
  if (threadIdx.x == 0) {
    const int32_t t = sched_opt_find_tensor(L.tensors, L.ntensors, blockIdx.x);
    t_index = t;
    S = sched_opt_group_scalars(L.groups[L.tensors[t].group], L.programs, L.R, step);
  }
  __syncthreads();
  const sched_opt_tensor& t = L.tensors[t_index];
  const sched_i64 base = static_cast<sched_i64>(blockIdx.x - t.first_chunk) * SCHED_OPT_CHUNK;
  const sched_opt_group G = L.groups[t.group];
  switch (t.dtype) {
    case SCHED_OPT_F32:
      sched_opt_lane<float, KIND>(t, L.layouts, base, threadIdx.x, G, S);
      break;
    case SCHED_OPT_F16:
      sched_opt_lane<__half, KIND>(t, L.layouts, base, threadIdx.x, G, S);
      break;
    default:
      sched_opt_lane<__nv_bfloat16, KIND>(t, L.layouts, base, threadIdx.x, G, S);
  }
}

CUfunction handle(const void* kernel) {
  cudaFunction_t f;
  cudaError_t err = cudaGetFuncBySymbol(&f, kernel);
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("[FusedStep::eval_gpu] cannot get the kernel's driver handle: ") +
                             cudaGetErrorString(err));
  }
  return reinterpret_cast<CUfunction>(f);
}

}  // namespace

const void* fused_step_symbol(int kind) {
  switch (kind) {
    case SCHED_OPT_SGD: return reinterpret_cast<const void*>(&fused_step_impl<SCHED_OPT_SGD>);
    case SCHED_OPT_ADAM: return reinterpret_cast<const void*>(&fused_step_impl<SCHED_OPT_ADAM>);
    default: return reinterpret_cast<const void*>(&fused_step_impl<SCHED_OPT_ADAMW>);
  }
}

CUfunction fused_step_kernel(int kind) {
  static CUfunction f[3] = {handle(fused_step_symbol(0)), handle(fused_step_symbol(1)), handle(fused_step_symbol(2))};
  return f[kind];
}

}  // namespace mlx_sched::cuda
