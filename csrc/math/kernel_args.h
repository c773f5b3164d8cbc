// mlx-sched: what the hosts and the kernels agree on, once. Compiled as C++
// (the CPU backend, the CUDA and Metal host code), CUDA and Metal:
//   - SCHED_MAX_DIMS, the most dims of a strided step array on the GPU;
//   - sched_eval_args, the schedule kernels' scalar arguments (CUDA adds its
//     device pointers, cuda/launch.h; Metal sends it with set_bytes);
//   - sched_strided_offset, the walk from an element's row-major index to
//     its offset (the schedule kernels' steps, the fused step's layouts);
//   - SCHED_STEP_TYPES, the step dtypes the GPU kernels are instantiated for.
#pragma once

#include "math/platform.h"

// A GPU evaluation walks strided step arrays of up to SCHED_MAX_DIMS dims
// (a larger one must be row-contiguous).
#define SCHED_MAX_DIMS 8

// ScheduleEval's kernels: G members (rows of the program), N values each.
// Steps mode reads the step array's layout; Range mode leaves it zero.
struct sched_eval_args {
  sched_i64 N;           // values per member
  sched_i32 R;           // records per member
  sched_i32 G;           // members
  sched_i32 ndim;        // steps: shape and strides (elements) when not contiguous
  sched_i32 contiguous;  // steps: 1 for a row-contiguous array
  sched_i32 shape[SCHED_MAX_DIMS];
  sched_i64 strides[SCHED_MAX_DIMS];
};
static_assert(sizeof(sched_eval_args) == 120, "sched_eval_args: the same layout on host and GPU");

// The offset (in elements) of element j, in row-major order, of an array of
// ndim dims. Shape and strides are pointer-like: a template only so that
// Metal keeps their address space (constant arguments, device tables).
template <typename Shape, typename Strides>
SCHED_FN sched_i64 sched_strided_offset(sched_i32 ndim, Shape shape, Strides strides, sched_i64 j) {
  sched_i64 off = 0;
  for (sched_i32 d = ndim - 1; d >= 0; --d) {
    off += (j % shape[d]) * strides[d];
    j /= shape[d];
  }
  return off;
}

// X(MLX dtype name, short name, kernel type) per step dtype of the GPU
// kernels (float64: MLX has none on the GPU; the CPU takes it through MLX's
// dtype dispatch). Metal names its kernels by the MLX name
// (metal/kernel_names.h), CUDA by the short one (cuda/launch.h: StepType);
// sched_f16 and sched_bf16 are the kernel compiler's (platform.h).
#define SCHED_STEP_TYPES(X)     \
  X(uint8, u8, uint8_t)         \
  X(uint16, u16, uint16_t)      \
  X(uint32, u32, uint32_t)      \
  X(uint64, u64, uint64_t)      \
  X(int8, i8, int8_t)           \
  X(int16, i16, int16_t)        \
  X(int32, i32, int32_t)        \
  X(int64, i64, int64_t)        \
  X(float16, f16, sched_f16)    \
  X(bfloat16, bf16, sched_bf16) \
  X(float32, f32, float)
