// mlx-sched Metal kernels of the fused optimizer step: indexing only; the
// update and the schedules come from the shared math (csrc/math/optim.h).
//
// One threadgroup of 256 threads per chunk of 4096 elements of one tensor,
// like the CUDA kernel. Every buffer the kernel reaches is one of its
// arguments (metal/kernel_names.h): the arrays of a batch of tensors are
// bound whole in slots 6..30, and the table says, per tensor, which slot
// and byte offset each of its buffers is at (csrc/metal/batches.h); a step
// over more arrays than slots is a few dispatches. Each thread finds its
// chunk's tensor and evaluates its group's schedules itself (no threadgroup
// memory: a few hundred ALU operations against 16 elements of memory traffic).
#include "math/optim.h"
#include "metal/kernel_names.h"

#ifndef instantiate_kernel
#define instantiate_kernel(name, func, ...) \
  template [[host_name(name)]] [[kernel]] decltype(func<__VA_ARGS__>) func<__VA_ARGS__>;
#endif

// The address of role r of a tensor: its slot's buffer plus its offset.
SCHED_FN device uchar* sched_metal_at(device uchar* const thread* slots, SchedMetalOptBinding b, int r) {
  return b.slot[r] < 0 ? nullptr : slots[b.slot[r]] + b.offset[r];
}

#define SCHED_METAL_SLOT_PARAM(k, b) device uchar* slot##k [[buffer(b)]],
#define SCHED_METAL_SLOT_NAME(k, b) slot##k,

// max_total_threads_per_threadgroup: the compiler keeps the pipeline able
// to run SCHED_OPT_LANES threads (the host checks it too).
template <int KIND>
[[kernel, max_total_threads_per_threadgroup(SCHED_OPT_LANES)]] void sched_fused_step(
    device const uint64_t* step [[buffer(0)]],
    device const int32_t* programs [[buffer(1)]],
    device const uchar* table [[buffer(2)]],
    device uint64_t* step_out [[buffer(3)]],
    device float* lr_out [[buffer(4)]],
    constant SchedMetalOptArgs& args [[buffer(5)]],
    SCHED_METAL_OPT_SLOT_LIST(SCHED_METAL_SLOT_PARAM)
    uint2 chunk [[threadgroup_position_in_grid]],
    uint2 lane [[thread_position_in_threadgroup]]) {
  device const sched_opt_tensor* tensors = reinterpret_cast<device const sched_opt_tensor*>(table);
  device const SchedMetalOptBinding* bindings =
      reinterpret_cast<device const SchedMetalOptBinding*>(table + args.at_bindings);
  device const sched_opt_layout* layouts = reinterpret_cast<device const sched_opt_layout*>(table + args.at_layouts);
  device const sched_opt_group* groups = reinterpret_cast<device const sched_opt_group*>(table + args.at_groups);
  const uint64_t s = step[0];
  if (args.scalars != 0 && chunk.x == 0 && lane.x == 0) {
    for (int32_t g = 0; g < args.ngroups; ++g) {
      sched_opt_report(lr_out, args.ngroups, g, sched_opt_group_scalars(groups[g], programs, args.R, s));
    }
    step_out[0] = s + 1;
  }
  if ((int32_t)chunk.x >= args.nchunks) return;
  const int32_t c = args.chunk0 + (int32_t)chunk.x;
  const int32_t i = args.tensor0 + sched_opt_find_tensor(tensors + args.tensor0, args.ntensors, c);
  device uchar* const slots[SCHED_METAL_OPT_SLOTS] = {SCHED_METAL_OPT_SLOT_LIST(SCHED_METAL_SLOT_NAME)};
  const SchedMetalOptBinding b = bindings[i];
  sched_opt_tensor t = tensors[i];
  t.param = sched_metal_at(slots, b, 0);
  t.grad = sched_metal_at(slots, b, 1);
  t.s0 = sched_metal_at(slots, b, 2);
  t.s1 = sched_metal_at(slots, b, 3);
  t.out_param = sched_metal_at(slots, b, 4);
  t.out_s0 = sched_metal_at(slots, b, 5);
  t.out_s1 = sched_metal_at(slots, b, 6);
  const sched_opt_group G = groups[t.group];
  const sched_opt_scalars S = sched_opt_group_scalars(G, programs, args.R, s);
  const sched_i64 base = (sched_i64)(c - t.first_chunk) * SCHED_OPT_CHUNK;
  if (t.dtype == SCHED_OPT_F32) {
    sched_opt_lane<float, KIND>(t, layouts, base, (sched_i32)lane.x, G, S);
  } else if (t.dtype == SCHED_OPT_F16) {
    sched_opt_lane<half, KIND>(t, layouts, base, (sched_i32)lane.x, G, S);
  } else {
    sched_opt_lane<bfloat, KIND>(t, layouts, base, (sched_i32)lane.x, G, S);
  }
}

#define SCHED_OPT_INSTANTIATE(name, k, ns) instantiate_kernel(SCHED_METAL_FUSED_PREFIX #name, sched_fused_step, k)
SCHED_OPTIMIZERS(SCHED_OPT_INSTANTIATE)
#undef SCHED_OPT_INSTANTIATE
