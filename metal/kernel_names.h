// mlx-sched: the naming rule of the Metal kernels, shared by the shaders
// (metal/*.metal), the host (csrc/metal/*.cpp) and the host emulation in the
// tests, and the fused step's Metal-only argument blocks. The schedule
// kernels' arguments, dims and step dtypes are every GPU backend's
// (csrc/math/kernel_args.h).
#pragma once

#ifndef __METAL_VERSION__
#include <cstdint>
#endif

#include "math/kernel_args.h"

#define SCHED_METAL_LIBRARY "mlx_sched"
#define SCHED_METAL_RANGE "sched_range"
#define SCHED_METAL_STEPS_PREFIX "sched_steps_"  // + the MLX dtype name (SCHED_STEP_TYPES)
#define SCHED_METAL_FUSED_PREFIX "sched_fused_step_"  // + sgd, adam, adamw

// The fused optimizer step. Every buffer the kernel reaches is one of its
// buffer arguments (csrc/metal/batches.h, README "Metal"):
//   0 step, 1 programs, 2 the table (tensors | bindings | layouts | groups),
//   3 step_out, 4 lr_out, 5 the arguments (set_bytes),
//   6 .. 30 the slots: the arrays (parameters, gradients, states, outputs)
//   of one batch of tensors, each bound whole (offset 0).
// A step whose tensors reach more arrays than there are slots is a few
// dispatches, one per batch. 31 = Metal's buffer argument table.
#define SCHED_METAL_MAX_BUFFERS 31
#define SCHED_METAL_OPT_FIXED 6
#define SCHED_METAL_OPT_SLOTS (SCHED_METAL_MAX_BUFFERS - SCHED_METAL_OPT_FIXED)
// X(slot, buffer index): literal indices for the [[buffer(n)]] attributes.
#define SCHED_METAL_OPT_SLOT_LIST(X)                                                                            \
  X(0, 6) X(1, 7) X(2, 8) X(3, 9) X(4, 10) X(5, 11) X(6, 12) X(7, 13) X(8, 14) X(9, 15) X(10, 16) X(11, 17)   \
  X(12, 18) X(13, 19) X(14, 20) X(15, 21) X(16, 22) X(17, 23) X(18, 24) X(19, 25) X(20, 26) X(21, 27) X(22, 28) \
  X(23, 29) X(24, 30)
#define SCHED_METAL_SLOT_CHECK(k, b) \
  static_assert((b) == SCHED_METAL_OPT_FIXED + (k) && (k) < SCHED_METAL_OPT_SLOTS, "the slot list and its count agree");
SCHED_METAL_OPT_SLOT_LIST(SCHED_METAL_SLOT_CHECK)
#define SCHED_METAL_SLOT_COUNT(k, b) +1
static_assert(0 SCHED_METAL_OPT_SLOT_LIST(SCHED_METAL_SLOT_COUNT) == SCHED_METAL_OPT_SLOTS, "one slot per free buffer");
#undef SCHED_METAL_SLOT_CHECK
#undef SCHED_METAL_SLOT_COUNT

// The buffers of one tensor, in this order: param, grad, s0, s1, out_param,
// out_s0, out_s1 (the address fields of sched_opt_tensor).
#define SCHED_METAL_OPT_ROLES 7

// Where a tensor's buffers are: for each role, the slot of this tensor's
// batch (-1: not used) and the byte offset from the start of its buffer.
// The table's sched_opt_tensor entries carry no addresses: the kernel makes
// them from its bound slots and these.
struct SchedMetalOptBinding {
  int64_t offset[SCHED_METAL_OPT_ROLES];
  int32_t slot[SCHED_METAL_OPT_ROLES];
  int32_t pad;
};
static_assert(sizeof(SchedMetalOptBinding) == 88, "SchedMetalOptBinding: the same layout on host and GPU");

// The fused optimizer step's scalar arguments (set_bytes), per dispatch.
struct SchedMetalOptArgs {
  int32_t R;          // records per program
  int32_t ngroups;
  int32_t tensor0;    // this batch: tensors [tensor0, tensor0 + ntensors)
  int32_t ntensors;
  int32_t chunk0;     // and their chunks [chunk0, chunk0 + nchunks)
  int32_t nchunks;    // threadgroups with work (the grid has at least one)
  int32_t scalars;    // 1 in the first batch only: it writes step + 1 and the rates
  int32_t at_bindings;  // byte offsets in the table (its tensors start at 0)
  int32_t at_layouts;
  int32_t at_groups;
};
static_assert(sizeof(SchedMetalOptArgs) == 40, "SchedMetalOptArgs: the same layout on host and GPU");
