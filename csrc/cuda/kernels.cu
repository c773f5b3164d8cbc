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

// A block covers kBlockValues consecutive values of one member: thread t
// handles values t*4 + k*kBlockDim*4 (k < kIters), so every float4 store of
// a warp writes 512 contiguous bytes.
constexpr int kVec = 4;
constexpr int kIters = kPerThread / kVec;
constexpr int64_t kBlockValues = int64_t(kBlockDim) * kPerThread;
constexpr int kMaxRuns = 4;  // plans one block shares (window/segment changes inside it)

struct BlockRuns {
  sched_plan plan[kMaxRuns];
  int32_t start[kMaxRuns + 1];  // run r covers block values [start[r], start[r+1])
  int32_t count;                // 0: the block has no valid program (NaN)
};

__device__ __forceinline__ float run_value(const BlockRuns& R, int32_t v) {
  int r = 0;
#pragma unroll
  for (int q = 1; q < kMaxRuns; ++q) r += (q < R.count && v >= R.start[q]) ? 1 : 0;
  return sched_plan_eval(R.plan[r], v - R.start[r], 0.0f);
}

// out[row + j .. row + j + 3] for the values of a row of N.
__device__ __forceinline__ void store4(float* out, int64_t base, int64_t N, int64_t j, const float (&v)[kVec]) {
  if (j + kVec <= N && ((base + j) & 3) == 0) {
    *reinterpret_cast<float4*>(out + base + j) = make_float4(v[0], v[1], v[2], v[3]);
  } else {
#pragma unroll
    for (int q = 0; q < kVec; ++q) {
      if (j + q < N) out[base + j + q] = v[q];
    }
  }
}

// Range mode: thread 0 plans the block's runs (usually one: a plan covers a
// window of 4096 steps), every thread then evaluates branch-free formulas.
__global__ void __launch_bounds__(kBlockDim) range_kernel_impl(Launch L) {
  __shared__ BlockRuns R;
  const int64_t blocks_per_member = (L.N + kBlockValues - 1) / kBlockValues;
  const int64_t g = blockIdx.x / blocks_per_member;
  const int64_t j0 = (blockIdx.x % blocks_per_member) * kBlockValues;
  const int64_t len = L.N - j0 < kBlockValues ? L.N - j0 : kBlockValues;
  const int32_t* member = L.program + g * L.R * SCHED_WORDS;
  const sched_i64 s0 = sched_sat_add(*L.start, j0);
  if (threadIdx.x == 0) {
    const int32_t nseg = sched_member_nseg(member, L.R);
    int32_t v = 0, r = 0;
    while (nseg > 0 && v < len && r < kMaxRuns) {
      sched_run run = sched_plan_run(member, nseg, sched_sat_add(s0, v), len - v);
      R.plan[r] = run.plan;
      R.start[r] = v;
      v += static_cast<int32_t>(run.len);
      ++r;
    }
    R.count = r;
    R.start[r] = v;  // values from here on (if any) are evaluated one by one
  }
  __syncthreads();
  const int32_t nseg = R.count > 0 ? sched_member_nseg(member, L.R) : 0;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int32_t j = (it * kBlockDim + threadIdx.x) * kVec;
    if (j >= len) break;
    float v[kVec];
#pragma unroll
    for (int q = 0; q < kVec; ++q) {
      const int32_t jj = j + q;
      if (R.count == 0) {
        v[q] = sched_nan();
      } else if (jj < R.start[R.count]) {
        v[q] = run_value(R, jj);
      } else {
        v[q] = sched_eval(member, nseg, sched_step_from_i64(sched_sat_add(s0, jj)));
      }
    }
    store4(L.out, g * L.N, L.N, j0 + j, v);
  }
}

// Steps mode: same layout. The block's smallest step is planned once; if
// that plan covers the block's largest step (an arange, an optimizer's
// counter) every value is a branch-free formula, else each step is
// evaluated on its own.
template <typename T>
__global__ void __launch_bounds__(kBlockDim) steps_kernel_impl(Launch L) {
  __shared__ sched_plan P;
  __shared__ sched_i64 lo_s[kBlockDim / 32], hi_s[kBlockDim / 32];
  __shared__ int shared_ok;
  const int64_t blocks_per_member = (L.N + kBlockValues - 1) / kBlockValues;
  const int64_t g = blockIdx.x / blocks_per_member;
  const int64_t j0 = (blockIdx.x % blocks_per_member) * kBlockValues;
  const int64_t len = L.N - j0 < kBlockValues ? L.N - j0 : kBlockValues;
  const int32_t* member = L.program + g * L.R * SCHED_WORDS;
  const int32_t nseg = sched_member_nseg(member, L.R);
  const T* steps = static_cast<const T*>(L.steps);

  sched_step st[kPerThread];
  sched_i64 lo = SCHED_I64_MAX, hi = SCHED_I64_MIN;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
#pragma unroll
    for (int q = 0; q < kVec; ++q) {
      const int64_t j = j0 + (it * kBlockDim + threadIdx.x) * kVec + q;
      sched_step s = sched_step_from_i64(0);
      if (j < j0 + len) {
        s = load_step<T>(steps[L.contiguous ? j : sched_strided_offset(L.ndim, L.shape, L.strides, j)]);
        if (!s.nan) {
          lo = s.ip < lo ? s.ip : lo;
          hi = s.ip > hi ? s.ip : hi;
        }
      }
      st[it * kVec + q] = s;
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    sched_i64 l2 = __shfl_xor_sync(0xffffffffu, lo, o);
    sched_i64 h2 = __shfl_xor_sync(0xffffffffu, hi, o);
    lo = l2 < lo ? l2 : lo;
    hi = h2 > hi ? h2 : hi;
  }
  if ((threadIdx.x & 31) == 0) {
    lo_s[threadIdx.x / 32] = lo;
    hi_s[threadIdx.x / 32] = hi;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    for (int w = 1; w < kBlockDim / 32; ++w) {
      lo = lo_s[w] < lo ? lo_s[w] : lo;
      hi = hi_s[w] > hi ? hi_s[w] : hi;
    }
    shared_ok = 0;
    // (a product of factors has no shared plan: each step goes through sched_eval)
    if (nseg > 0 && sched_member_factors(member) == 1 && lo <= hi && hi <= sched_sat_add(lo, SCHED_RUN_MAX - 1)) {
      sched_i32 jseg = sched_find_segment(member, nseg, lo);
      if (sched_find_segment(member, nseg, hi) == jseg) {
        sched_segment seg = sched_load_segment(member, jseg);
        P = sched_make_plan(seg, sched_sat_sub(lo, seg.offset));
        shared_ok = sched_sat_sub(hi, seg.offset) <= P.limit;
      }
    }
    lo_s[0] = lo;
  }
  __syncthreads();
  const sched_i64 blo = lo_s[0];
  const int64_t base = g * L.N;
#pragma unroll
  for (int it = 0; it < kIters; ++it) {
    const int64_t j = j0 + (it * kBlockDim + threadIdx.x) * kVec;
    if (j >= j0 + len) break;
    float v[kVec];
#pragma unroll
    for (int q = 0; q < kVec; ++q) {
      const sched_step& s = st[it * kVec + q];
      if (shared_ok) {
        v[q] = s.nan ? sched_nan() : sched_plan_eval(P, static_cast<sched_i32>(s.ip - blo), s.frac);
      } else {
        v[q] = sched_eval(member, nseg, s);
      }
    }
    store4(L.out, base, L.N, j, v);
  }
}


template <typename T>
CUfunction steps_handle() {
  static CUfunction f = driver_handle(reinterpret_cast<const void*>(&steps_kernel_impl<T>), "ScheduleEval");
  return f;
}

}  // namespace

CUfunction driver_handle(const void* kernel, const char* primitive) {
  cudaFunction_t f;
  cudaError_t err = cudaGetFuncBySymbol(&f, kernel);
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("[") + primitive + "::eval_gpu] cannot get a kernel's driver handle: " +
                             cudaGetErrorString(err));
  }
  return reinterpret_cast<CUfunction>(f);
}

CUfunction range_kernel() {
  static CUfunction f = driver_handle(reinterpret_cast<const void*>(&range_kernel_impl), "ScheduleEval");
  return f;
}

const void* fused_step_symbol(int kind);  // optim_kernels.cu

const std::vector<KernelInfo>& load_kernels() {
  static const std::vector<KernelInfo> info = [] {
    struct Sym {
      const char* name;
      const void* fn;
    };
    const Sym syms[] = {
        {"range", reinterpret_cast<const void*>(&range_kernel_impl)},
#define SCHED_CUDA_STEPS_SYM(name, short_name, type) \
  {"steps_" #short_name, reinterpret_cast<const void*>(&steps_kernel_impl<type>)},
        SCHED_STEP_TYPES(SCHED_CUDA_STEPS_SYM)
#undef SCHED_CUDA_STEPS_SYM
#define SCHED_OPT_SYMBOL(name, k, ns) {"fused_" #name, fused_step_symbol(k)},
        SCHED_OPTIMIZERS(SCHED_OPT_SYMBOL)
#undef SCHED_OPT_SYMBOL
    };
    std::vector<KernelInfo> v;
    for (const Sym& s : syms) {
      cudaFuncAttributes a{};
      bool ok = cudaFuncGetAttributes(&a, s.fn) == cudaSuccess;  // forces the load
      v.push_back({s.name, ok ? a.numRegs : -1, ok ? a.localSizeBytes : 0});
    }
    cudaGetLastError();  // no device: reported by eval_gpu's launch, not here
    return v;
  }();
  return info;
}

CUfunction steps_kernel(StepType t) {
  switch (t) {
#define SCHED_CUDA_STEPS_CASE(name, short_name, type) \
  case StepType::short_name: return steps_handle<type>();
    SCHED_STEP_TYPES(SCHED_CUDA_STEPS_CASE)
#undef SCHED_CUDA_STEPS_CASE
  }
  throw std::runtime_error("[ScheduleEval::eval_gpu] unsupported step dtype.");
}

}  // namespace mlx_sched::cuda
