// mlx-sched Metal kernels: indexing and stores only; every formula comes from
// the shared math header (csrc/math/schedule.h), compiled here as Metal.
// One thread per value, grid (N, G): x = the step's index, y = the member.
#include "math/schedule.h"
#include "metal/kernel_names.h"

#ifndef instantiate_kernel
#define instantiate_kernel(name, func, ...) \
  template [[host_name(name)]] [[kernel]] decltype(func<__VA_ARGS__>) func<__VA_ARGS__>;
#endif

SCHED_FN sched_step sched_to_step(uint8_t v) { return sched_step_from_i64((sched_i64)v); }
SCHED_FN sched_step sched_to_step(uint16_t v) { return sched_step_from_i64((sched_i64)v); }
SCHED_FN sched_step sched_to_step(uint32_t v) { return sched_step_from_i64((sched_i64)v); }
SCHED_FN sched_step sched_to_step(uint64_t v) { return sched_step_from_u64(v); }
SCHED_FN sched_step sched_to_step(int8_t v) { return sched_step_from_i64((sched_i64)v); }
SCHED_FN sched_step sched_to_step(int16_t v) { return sched_step_from_i64((sched_i64)v); }
SCHED_FN sched_step sched_to_step(int32_t v) { return sched_step_from_i64((sched_i64)v); }
SCHED_FN sched_step sched_to_step(int64_t v) { return sched_step_from_i64(v); }
SCHED_FN sched_step sched_to_step(half v) { return sched_step_from_float((float)v); }
SCHED_FN sched_step sched_to_step(bfloat v) { return sched_step_from_float((float)v); }
SCHED_FN sched_step sched_to_step(float v) { return sched_step_from_float(v); }

template <typename T>
[[kernel]] void sched_steps(
    device const int32_t* program [[buffer(0)]],
    device const T* steps [[buffer(1)]],
    device float* out [[buffer(2)]],
    constant sched_eval_args& args [[buffer(3)]],
    uint2 gid [[thread_position_in_grid]]) {
  int64_t j = gid.x;
  int32_t g = gid.y;
  if (j >= args.N || g >= args.G) return;
  device const int32_t* member = program + (int64_t)g * args.R * SCHED_WORDS;
  const int64_t loc = args.contiguous ? j : sched_strided_offset(args.ndim, args.shape, args.strides, j);
  out[(int64_t)g * args.N + j] = sched_eval(member, sched_member_nseg(member, args.R), sched_to_step(steps[loc]));
}

// Range mode: steps start .. start + N - 1, start an int64 on the device.
template <typename T>
[[kernel]] void sched_range(
    device const int32_t* program [[buffer(0)]],
    device const int64_t* start [[buffer(1)]],
    device T* out [[buffer(2)]],
    constant sched_eval_args& args [[buffer(3)]],
    uint2 gid [[thread_position_in_grid]]) {
  int64_t j = gid.x;
  int32_t g = gid.y;
  if (j >= args.N || g >= args.G) return;
  device const int32_t* member = program + (int64_t)g * args.R * SCHED_WORDS;
  sched_step s = sched_step_from_i64(sched_sat_add(start[0], j));
  out[(int64_t)g * args.N + j] = (T)sched_eval(member, sched_member_nseg(member, args.R), s);
}

#define SCHED_INSTANTIATE_STEPS(name, short_name, type) \
  instantiate_kernel(SCHED_METAL_STEPS_PREFIX #name, sched_steps, type)
SCHED_STEP_TYPES(SCHED_INSTANTIATE_STEPS)
instantiate_kernel(SCHED_METAL_RANGE, sched_range, float)
