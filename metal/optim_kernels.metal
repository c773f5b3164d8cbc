// mlx-sched Metal kernels of the fused optimizer step: indexing only; the
// update and the schedules come from the shared math (csrc/math/optim.h).
//
// One threadgroup of 256 threads per chunk of 4096 elements of one tensor,
// like the CUDA kernel. The tensor table holds device addresses (Metal 3
// gpuAddress), so one dispatch reaches every tensor whatever their number:
// the 31 buffer bindings are not a limit. Each thread finds its chunk's
// tensor and evaluates its group's schedules itself (no threadgroup memory:
// a few hundred ALU operations against 16 elements of memory traffic).
#include "math/optim.h"
#include "metal/kernel_names.h"

#ifndef instantiate_kernel
#define instantiate_kernel(name, func, ...) \
  template [[host_name(name)]] [[kernel]] decltype(func<__VA_ARGS__>) func<__VA_ARGS__>;
#endif

template <int KIND>
[[kernel]] void sched_fused_step(
    device const uint64_t* step [[buffer(0)]],
    device const int32_t* programs [[buffer(1)]],
    device const sched_opt_tensor* tensors [[buffer(2)]],
    device const sched_opt_layout* layouts [[buffer(3)]],
    device const sched_opt_group* groups [[buffer(4)]],
    device uint64_t* step_out [[buffer(5)]],
    device float* lr_out [[buffer(6)]],
    constant SchedMetalOptArgs& args [[buffer(7)]],
    uint2 chunk [[threadgroup_position_in_grid]],
    uint2 lane [[thread_position_in_threadgroup]]) {
  const uint64_t s = step[0];
  if (chunk.x == 0 && lane.x == 0) {
    for (int32_t g = 0; g < args.ngroups; ++g) {
      lr_out[g] = sched_opt_group_scalars(groups[g], programs, args.R, s).lr;
    }
    step_out[0] = s + 1;
  }
  if ((int32_t)chunk.x >= args.nchunks) return;
  const sched_opt_tensor t = tensors[sched_opt_find_tensor(tensors, args.ntensors, (int32_t)chunk.x)];
  const sched_opt_group G = groups[t.group];
  const sched_opt_scalars S = sched_opt_group_scalars(G, programs, args.R, s);
  const sched_i64 base = (sched_i64)((int32_t)chunk.x - t.first_chunk) * SCHED_OPT_CHUNK;
  if (t.dtype == SCHED_OPT_F32) {
    sched_opt_lane<float, KIND>(t, layouts, base, (sched_i32)lane.x, G, S);
  } else if (t.dtype == SCHED_OPT_F16) {
    sched_opt_lane<half, KIND>(t, layouts, base, (sched_i32)lane.x, G, S);
  } else {
    sched_opt_lane<bfloat, KIND>(t, layouts, base, (sched_i32)lane.x, G, S);
  }
}

instantiate_kernel(SCHED_METAL_FUSED_PREFIX "sgd", sched_fused_step, SCHED_OPT_SGD)
instantiate_kernel(SCHED_METAL_FUSED_PREFIX "adam", sched_fused_step, SCHED_OPT_ADAM)
instantiate_kernel(SCHED_METAL_FUSED_PREFIX "adamw", sched_fused_step, SCHED_OPT_ADAMW)
