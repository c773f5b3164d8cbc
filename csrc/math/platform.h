// mlx-sched: the one file that knows which compiler it is in.
//
// The schedule math (schedule.h) is written once in a subset of C++ that is
// also valid CUDA and Metal Shading Language: float only (Metal has no
// double), no std::, fixed-width integers, and these macros for qualifiers.
#pragma once

#if defined(__METAL_VERSION__)
#include <metal_stdlib>
// No FMA contraction in any Metal build (the metallib also passes
// -ffp-contract=off): every a*b + c below is two roundings, as on the CPU
// and CUDA; fused only where sched_fma says so. Applies to the rest of the
// translation unit, the kernels included.
#pragma clang fp contract(off)
using namespace metal;  // as_type and the typed integers, as in MLX's kernels
#define SCHED_FN inline
#define SCHED_GLOBAL device  // address space of program and step buffers
#define SCHED_THREAD thread  // address space of per-thread out-parameters
typedef int sched_i32;
typedef uint sched_u32;
typedef long sched_i64;
typedef ulong sched_u64;
typedef short sched_i16;
typedef uchar sched_u8;
SCHED_FN float sched_bits_to_float(sched_u32 u) { return as_type<float>(u); }
SCHED_FN sched_u32 sched_float_to_bits(float f) { return as_type<sched_u32>(f); }
SCHED_FN float sched_fma(float a, float b, float c) { return metal::fma(a, b, c); }
SCHED_FN float sched_sqrt(float x) { return metal::precise::sqrt(x); }
typedef half sched_f16;  // the kernels' half types (step dtypes: math/kernel_args.h)
typedef bfloat sched_bf16;

#elif defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>
#define SCHED_FN __host__ __device__ __forceinline__
#define SCHED_GLOBAL
#define SCHED_THREAD
typedef int32_t sched_i32;
typedef uint32_t sched_u32;
typedef int64_t sched_i64;
typedef uint64_t sched_u64;
typedef int16_t sched_i16;
typedef uint8_t sched_u8;
SCHED_FN float sched_bits_to_float(sched_u32 u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  memcpy(&f, &u, 4);
  return f;
#endif
}
SCHED_FN sched_u32 sched_float_to_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  sched_u32 u;
  memcpy(&u, &f, 4);
  return u;
#endif
}
SCHED_FN float sched_fma(float a, float b, float c) { return fmaf(a, b, c); }
SCHED_FN float sched_sqrt(float x) { return sqrtf(x); }  // IEEE (nvcc's default -prec-sqrt)
typedef __half sched_f16;
typedef __nv_bfloat16 sched_bf16;

#else  // plain C++: the CPU backend, the GPU backends' host code (no sched_f16: the CPU uses MLX's)
#include <cstdint>
#include <cstring>
#define SCHED_FN inline __attribute__((always_inline))
#define SCHED_GLOBAL
#define SCHED_THREAD
typedef int32_t sched_i32;
typedef uint32_t sched_u32;
typedef int64_t sched_i64;
typedef uint64_t sched_u64;
typedef int16_t sched_i16;
typedef uint8_t sched_u8;
SCHED_FN float sched_bits_to_float(sched_u32 u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
SCHED_FN sched_u32 sched_float_to_bits(float f) {
  sched_u32 u;
  memcpy(&u, &f, 4);
  return u;
}
// A hardware FMA where the target has one (the AVX2 clone), a correctly
// rounded software one elsewhere; never a contraction the compiler chooses.
SCHED_FN float sched_fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
SCHED_FN float sched_sqrt(float x) { return __builtin_sqrtf(x); }
#endif

#define SCHED_I64_MAX ((sched_i64)0x7fffffffffffffffL)  // L: Metal has no long long
#define SCHED_I64_MIN (-SCHED_I64_MAX - 1)
