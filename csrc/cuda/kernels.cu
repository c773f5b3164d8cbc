// mlx-sched CUDA kernels: indexing and stores only; every formula comes from
// the shared math header, as on the CPU and in the Metal shaders.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "cuda/launch.h"
#include "math/schedule.h"

namespace mlx_sched::cuda {

namespace {

template <typename T>
__device__ __forceinline__ sched_step load_step(T v) {
  if constexpr (std::is_same_v<T, uint64_t>) {
    return sched_step_from_u64(v);
  } else if constexpr (std::is_integral_v<T>) {
    return sched_step_from_i64(static_cast<sched_i64>(v));
  } else {
    return sched_step_from_float(static_cast<float>(v));
  }
}

__device__ __forceinline__ int64_t strided_offset(const Launch& L, int64_t j) {
  int64_t off = 0;
  for (int d = L.ndim - 1; d >= 0; --d) {
    off += (j % L.shape[d]) * L.strides[d];
    j /= L.shape[d];
  }
  return off;
}

// Stores kPerThread values at out[base ..]: float4 stores when aligned and whole.
__device__ __forceinline__ void store(float* out, int64_t base, int cnt, const float (&v)[kPerThread]) {
  if (cnt == kPerThread && (base & 3) == 0) {
    float4* o = reinterpret_cast<float4*>(out + base);
#pragma unroll
    for (int q = 0; q < kPerThread / 4; ++q) o[q] = make_float4(v[4 * q], v[4 * q + 1], v[4 * q + 2], v[4 * q + 3]);
  } else {
#pragma unroll
    for (int k = 0; k < kPerThread; ++k) {
      if (k < cnt) out[base + k] = v[k];
    }
  }
}

// Range mode: thread -> kPerThread consecutive steps of one member, sharing
// one plan (a new one only where a run ends inside the thread's steps).
__global__ void __launch_bounds__(kBlockDim, 2) range_kernel_impl(Launch L) {
  const int64_t per_member = (L.N + kPerThread - 1) / kPerThread;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= per_member * L.G) return;
  const int64_t g = idx / per_member;
  const int64_t j0 = (idx % per_member) * kPerThread;
  const int cnt = static_cast<int>(L.N - j0 < kPerThread ? L.N - j0 : kPerThread);
  const int32_t* member = L.program + g * L.R * SCHED_WORDS;
  const int32_t nseg = sched_member_nseg(member, L.R);
  const sched_i64 s0 = sched_sat_add(*L.start, j0);
  float v[kPerThread];
  sched_run run;
  run.len = 0;
  int run_start = 0;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    if (k < cnt && nseg > 0) {
      if (k >= run_start + run.len) {
        run = sched_plan_run(member, nseg, sched_sat_add(s0, k), cnt - k);
        run_start = k;
      }
      v[k] = sched_plan_eval(run.plan, k - run_start, 0.0f);
    } else {
      v[k] = sched_nan();
    }
  }
  store(L.out, g * L.N + j0, cnt, v);
}

// Steps mode: thread -> kPerThread consecutive elements of the step array, for
// one member. Nearby steps (an arange, an optimizer's counter) share one plan;
// others are evaluated one by one.
template <typename T>
__global__ void __launch_bounds__(kBlockDim, 2) steps_kernel_impl(Launch L) {
  const int64_t per_member = (L.N + kPerThread - 1) / kPerThread;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= per_member * L.G) return;
  const int64_t g = idx / per_member;
  const int64_t j0 = (idx % per_member) * kPerThread;
  const int cnt = static_cast<int>(L.N - j0 < kPerThread ? L.N - j0 : kPerThread);
  const int32_t* member = L.program + g * L.R * SCHED_WORDS;
  const int32_t nseg = sched_member_nseg(member, L.R);
  const T* steps = static_cast<const T*>(L.steps);

  sched_step st[kPerThread];
  sched_i64 lo = SCHED_I64_MAX, hi = SCHED_I64_MIN;
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    if (k < cnt) {
      int64_t j = j0 + k;
      st[k] = load_step<T>(steps[L.contiguous ? j : strided_offset(L, j)]);
      if (!st[k].nan) {
        lo = st[k].ip < lo ? st[k].ip : lo;
        hi = st[k].ip > hi ? st[k].ip : hi;
      }
    } else {
      st[k] = sched_step_from_i64(0);
    }
  }
  float v[kPerThread];
  bool shared = false;
  sched_plan P;
  if (nseg > 0 && lo <= hi && hi <= sched_sat_add(lo, SCHED_RUN_MAX - 1)) {
    sched_i32 jseg = sched_find_segment(member, nseg, lo);
    if (sched_find_segment(member, nseg, hi) == jseg) {
      sched_segment seg = sched_load_segment(member, jseg);
      P = sched_make_plan(seg, sched_sat_sub(lo, seg.offset));
      shared = sched_sat_sub(hi, seg.offset) <= P.limit;
    }
  }
#pragma unroll
  for (int k = 0; k < kPerThread; ++k) {
    if (shared) {
      v[k] = st[k].nan ? sched_nan() : sched_plan_eval(P, static_cast<sched_i32>(st[k].ip - lo), st[k].frac);
    } else {
      v[k] = k < cnt ? sched_eval(member, nseg, st[k]) : 0.0f;
    }
  }
  store(L.out, g * L.N + j0, cnt, v);
}

CUfunction driver_handle(const void* kernel) {
  cudaFunction_t f;
  cudaError_t err = cudaGetFuncBySymbol(&f, kernel);
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("[ScheduleEval::eval_gpu] cannot get the kernel's driver handle: ") +
                             cudaGetErrorString(err));
  }
  return reinterpret_cast<CUfunction>(f);
}

template <typename T>
CUfunction steps_handle() {
  static CUfunction f = driver_handle(reinterpret_cast<const void*>(&steps_kernel_impl<T>));
  return f;
}

}  // namespace

CUfunction range_kernel() {
  static CUfunction f = driver_handle(reinterpret_cast<const void*>(&range_kernel_impl));
  return f;
}

CUfunction steps_kernel(StepType t) {
  switch (t) {
    case StepType::u8: return steps_handle<uint8_t>();
    case StepType::u16: return steps_handle<uint16_t>();
    case StepType::u32: return steps_handle<uint32_t>();
    case StepType::u64: return steps_handle<uint64_t>();
    case StepType::i8: return steps_handle<int8_t>();
    case StepType::i16: return steps_handle<int16_t>();
    case StepType::i32: return steps_handle<int32_t>();
    case StepType::i64: return steps_handle<int64_t>();
    case StepType::f16: return steps_handle<__half>();
    case StepType::bf16: return steps_handle<__nv_bfloat16>();
    case StepType::f32: return steps_handle<float>();
  }
  throw std::runtime_error("[ScheduleEval::eval_gpu] unsupported step dtype.");
}

}  // namespace mlx_sched::cuda
