// mlx-sched CUDA kernels of the fused optimizer step: indexing only; the
// update and the schedules come from the shared math (math/optim.h).
//
// One block per chunk of 4096 elements of one tensor (launch.h: OptLaunch).
// Thread 0 finds the chunk's tensor and evaluates its group's schedules at
// the step read from the device; every thread then updates 16 elements: 4
// runs of 4 consecutive ones, 1024 apart, loaded and stored as vectors where
// the buffers allow (else one by one, 256 apart), so each access of a warp
// is one contiguous segment.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "cuda/launch.h"
#include "math/optim.h"

namespace mlx_sched::cuda {

namespace {

static_assert(SCHED_OPT_LANES == 256, "one lane per thread");

// Four consecutive elements, loaded and stored as one 16-byte (float) or
// 8-byte (half, bfloat16) access.
template <typename T>
struct alignas(4 * sizeof(T)) Vec4 {
  T v[4];
};

// The lane's 16 elements as 4 groups of 4 consecutive ones (base + (k * 256
// + lane) * 4), vectorized where the tensor is contiguous and its buffers
// aligned; the shared update per element either way.
template <typename T, int KIND>
__device__ __forceinline__ void lane_vec4(const sched_opt_tensor& t, sched_i64 base, int lane,
                                          const sched_opt_group& G, const sched_opt_scalars& S) {
  const T* P = reinterpret_cast<const T*>(t.param);
  const T* Gr = reinterpret_cast<const T*>(t.grad);
  const T* S0 = reinterpret_cast<const T*>(t.s0);
  const T* S1 = reinterpret_cast<const T*>(t.s1);
  T* OP = reinterpret_cast<T*>(t.out_param);
  T* OS0 = reinterpret_cast<T*>(t.out_s0);
  T* OS1 = reinterpret_cast<T*>(t.out_s1);
  const sched_opt_uses U = sched_opt_uses_of<KIND>(t, G);
#pragma unroll
  for (int k = 0; k < SCHED_OPT_PER_LANE / 4; ++k) {
    const sched_i64 j = base + (static_cast<sched_i64>(k) * SCHED_OPT_LANES + lane) * 4;
    if (j >= t.size) break;
    if (j + 4 <= t.size) {
      Vec4<T> p = *reinterpret_cast<const Vec4<T>*>(P + j);
      const Vec4<T> g = *reinterpret_cast<const Vec4<T>*>(Gr + j);
      Vec4<T> m = {}, v = {};
      if (U.one) m = *reinterpret_cast<const Vec4<T>*>(S0 + j);
      if (U.two) v = *reinterpret_cast<const Vec4<T>*>(S1 + j);
      if (U.copy_s0) *reinterpret_cast<Vec4<T>*>(OS0 + j) = m = *reinterpret_cast<const Vec4<T>*>(S0 + j);
#pragma unroll
      for (int q = 0; q < 4; ++q) {
        float pf = static_cast<float>(p.v[q]), s0 = static_cast<float>(m.v[q]), s1 = static_cast<float>(v.v[q]);
        sched_opt_update<T, KIND>(pf, static_cast<float>(g.v[q]), s0, s1, G, S);
        p.v[q] = static_cast<T>(pf);
        m.v[q] = static_cast<T>(s0);
        v.v[q] = static_cast<T>(s1);
      }
      *reinterpret_cast<Vec4<T>*>(OP + j) = p;
      if (U.one) *reinterpret_cast<Vec4<T>*>(OS0 + j) = m;
      if (U.two) *reinterpret_cast<Vec4<T>*>(OS1 + j) = v;
    } else {
      for (sched_i64 jj = j; jj < t.size; ++jj) sched_opt_element<T, KIND>(t, jj, jj, jj, U, G, S);
    }
  }
}

template <typename T>
__device__ __forceinline__ bool vec4_ok(const sched_opt_tensor& t) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(t.param) | reinterpret_cast<uintptr_t>(t.grad) |
      reinterpret_cast<uintptr_t>(t.s0) | reinterpret_cast<uintptr_t>(t.s1) |
      reinterpret_cast<uintptr_t>(t.out_param) | reinterpret_cast<uintptr_t>(t.out_s0) |
      reinterpret_cast<uintptr_t>(t.out_s1);
  return t.grad_layout < 0 && t.param_layout < 0 && (a % (4 * sizeof(T))) == 0;
}

template <typename T, int KIND>
__device__ __forceinline__ void run_lane(const sched_opt_layout* layouts, const sched_opt_tensor& t, sched_i64 base,
                                         const sched_opt_group& G, const sched_opt_scalars& S) {
  if (vec4_ok<T>(t)) {
    lane_vec4<T, KIND>(t, base, threadIdx.x, G, S);
  } else {
    sched_opt_lane<T, KIND>(t, layouts, base, threadIdx.x, G, S);
  }
}

template <int KIND>
__global__ void __launch_bounds__(SCHED_OPT_LANES, 4) fused_step_impl(const __grid_constant__ OptLaunch L) {
  __shared__ sched_opt_scalars S;
  __shared__ int32_t t_index;
  const uint64_t step = *L.step;
  const sched_opt_group* groups = L.table_groups != nullptr ? L.table_groups : L.groups;
  if (blockIdx.x == 0) {
    for (int32_t g = threadIdx.x; g < L.ngroups; g += blockDim.x) {
      sched_opt_report(L.lr_out, L.ngroups, g, sched_opt_group_scalars(groups[g], L.programs, L.R, step));
    }
    if (threadIdx.x == 0) *L.step_out = step + 1;
  }
  if (static_cast<int32_t>(blockIdx.x) >= L.nchunks) return;  // a step without elements
  const sched_opt_tensor* table = L.table != nullptr ? L.table : L.tensors;
  const sched_opt_layout* layouts = L.table_layouts != nullptr ? L.table_layouts : L.layouts;
  if (threadIdx.x == 0) {
    const int32_t t = sched_opt_find_tensor(table, L.ntensors, blockIdx.x);
    t_index = t;
    S = sched_opt_group_scalars(groups[table[t].group], L.programs, L.R, step);
  }
  __syncthreads();
  const sched_opt_tensor& t = table[t_index];
  const sched_i64 base = static_cast<sched_i64>(blockIdx.x - t.first_chunk) * SCHED_OPT_CHUNK;
  const sched_opt_group G = groups[t.group];
  switch (t.dtype) {
    case SCHED_OPT_F32:
      run_lane<float, KIND>(layouts, t, base, G, S);
      break;
    case SCHED_OPT_F16:
      run_lane<__half, KIND>(layouts, t, base, G, S);
      break;
    default:
      run_lane<__nv_bfloat16, KIND>(layouts, t, base, G, S);
  }
}

}  // namespace

const void* fused_step_symbol(int kind) {
#define SCHED_OPT_CASE(name, k, ns) \
  if (kind == k) return reinterpret_cast<const void*>(&fused_step_impl<k>);
  SCHED_OPTIMIZERS(SCHED_OPT_CASE)
#undef SCHED_OPT_CASE
  throw std::invalid_argument("[FusedStep::eval_gpu] no kernel for optimizer kind " + std::to_string(kind) + ".");
}

CUfunction fused_step_kernel(int kind) {
  // one driver handle per optimizer of SCHED_OPTIMIZERS, looked up once
#define SCHED_OPT_HANDLE(name, k, ns) driver_handle(fused_step_symbol(k), "FusedStep"),
  static const CUfunction f[SCHED_NUM_OPTIMIZERS] = {SCHED_OPTIMIZERS(SCHED_OPT_HANDLE)};
#undef SCHED_OPT_HANDLE
  static_assert(sizeof(f) / sizeof(f[0]) == SCHED_NUM_OPTIMIZERS, "one handle per optimizer");
  if (kind < 0 || kind >= SCHED_NUM_OPTIMIZERS) {
    throw std::invalid_argument("[FusedStep::eval_gpu] no kernel for optimizer kind " + std::to_string(kind) + ".");
  }
  return f[kind];
}

}  // namespace mlx_sched::cuda
