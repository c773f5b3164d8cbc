// mlx-sched: the naming rule of the Metal kernels, shared by the shaders
// (metal/sched_kernels.metal), the host (csrc/metal/schedule_eval.cpp) and
// the host emulation in the tests. X(dtype name, Metal type) per step dtype.
#pragma once

#ifndef __METAL_VERSION__
#include <cstdint>
#endif

#define SCHED_METAL_LIBRARY "mlx_sched"
#define SCHED_METAL_RANGE "sched_range"
#define SCHED_METAL_STEPS_PREFIX "sched_steps_"
#define SCHED_METAL_MAX_DIMS 8
#define SCHED_METAL_FUSED_PREFIX "sched_fused_step_"  // + sgd, adam, adamw

#define SCHED_METAL_STEP_TYPES(X) \
  X(uint8, uint8_t)               \
  X(uint16, uint16_t)             \
  X(uint32, uint32_t)             \
  X(uint64, uint64_t)             \
  X(int8, int8_t)                 \
  X(int16, int16_t)               \
  X(int32, int32_t)               \
  X(int64, int64_t)               \
  X(float16, half)                \
  X(bfloat16, bfloat)             \
  X(float32, float)

// Arguments sent with set_bytes (same layout on both sides).
struct SchedMetalArgs {
  int64_t N;         // values per member
  int32_t R;         // records per member
  int32_t G;         // members
  int32_t ndim;      // steps: shape and strides when not contiguous
  int32_t contiguous;
  int32_t shape[SCHED_METAL_MAX_DIMS];
  int64_t strides[SCHED_METAL_MAX_DIMS];
};

// The fused optimizer step's scalar arguments (set_bytes).
struct SchedMetalOptArgs {
  int32_t R;         // records per program
  int32_t ngroups;
  int32_t ntensors;
  int32_t nchunks;   // threadgroups with work (the grid has at least one)
};
