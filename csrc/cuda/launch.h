// mlx-sched CUDA backend: what the host side (schedule_eval.cpp and
// fused_step.cpp, compiled by the C++ compiler against MLX's CUDA headers)
// and the kernels (*.cu, compiled by nvcc against the shared math only) agree
// on, besides what every GPU backend shares (math/kernel_args.h).
#pragma once

#include <vector>

#include <cuda.h>
#include <cstdint>

#include "math/kernel_args.h"
#include "math/optim.h"

namespace mlx_sched::cuda {

constexpr int kPerThread = 16;   // values per thread (4 coalesced float4 stores)
constexpr int kBlockDim = 256;

// The one argument of every schedule kernel (passed by value): the scalars
// every GPU backend sends (math/kernel_args.h), then CUDA's device pointers.
struct Launch : sched_eval_args {
  const int32_t* program;  // (G, R, 16)
  const void* steps;       // Steps mode; null in Range mode
  const int64_t* start;    // Range mode: the first step (an int64 scalar on the device)
  float* out;              // (G, N)
};

// Step dtypes the kernels are instantiated for, in SCHED_STEP_TYPES order
// (math/kernel_args.h; ScheduleEval::gpu_step_type gives the index).
#define SCHED_CUDA_STEP_ENUM(name, short_name, type) short_name,
enum class StepType { SCHED_STEP_TYPES(SCHED_CUDA_STEP_ENUM) };
#undef SCHED_CUDA_STEP_ENUM

// Driver-level handles of the kernels, for MLX's command encoder: a kernel
// address registered with this extension's CUDA runtime is not valid in
// libmlx's ("invalid resource handle").
CUfunction steps_kernel(StepType t);
// cudaGetFuncBySymbol, or throws naming the primitive ("ScheduleEval", "FusedStep")
CUfunction driver_handle(const void* kernel, const char* primitive);
CUfunction range_kernel();

// The fused optimizer step: the tensor table travels as the kernel's
// argument (CUDA 12.1+: up to 32764 bytes), so a step needs no host-written
// device buffer. A step with more tensors or strided gradients than that
// holds (or more groups: a sweep's members) puts its table in a
// unified-memory buffer the host writes (the launch points at it): one launch
// either way.
constexpr int kOptMaxTensors = 320;
constexpr int kOptMaxLayouts = 32;
constexpr int kOptMaxGroups = 64;

struct OptLaunch {
  const uint64_t* step;
  const int32_t* programs;
  uint64_t* step_out;
  float* lr_out;
  const sched_opt_tensor* table;         // null: the tensors below
  const sched_opt_layout* table_layouts;  // null: the layouts below
  const sched_opt_group* table_groups;    // null: the groups below
  int32_t R;
  int32_t ngroups;
  int32_t ntensors;
  int32_t nchunks;
  sched_opt_group groups[kOptMaxGroups];
  sched_opt_layout layouts[kOptMaxLayouts];
  sched_opt_tensor tensors[kOptMaxTensors];
};
static_assert(sizeof(OptLaunch) <= 32764, "CUDA kernel arguments are limited to 32764 bytes");

CUfunction fused_step_kernel(int kind);  // kind: one of SCHED_OPTIMIZERS (math/optim.h)

// Loads every kernel now (once per process; later calls return the same
// list), so that no launch inside MLX's CUDA graph pays CUDA's lazy module
// loading; the import of mlx_sched calls it and exposes the list
// (_ext.CUDA_KERNELS: registers and local memory per kernel).
struct KernelInfo {
  const char* name;
  int num_regs;           // -1: could not be loaded (no device)
  size_t local_bytes;     // local memory (stack, spills) per thread
};
const std::vector<KernelInfo>& load_kernels();

}  // namespace mlx_sched::cuda
