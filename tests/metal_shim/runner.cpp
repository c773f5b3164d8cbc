// Runs an emulated Metal kernel over its whole grid (x: the values, y: the
// members), as a Metal dispatch of (N, G) threads would. C entry points for ctypes.
#include "shim.h"
#include "math/optim.h"
#include "metal/kernel_names.h"

extern "C" {

int emu_run(const char* name, const int32_t* program, int32_t G, int32_t R, const void* input, int64_t N,
            int32_t contiguous, int32_t ndim, const int32_t* shape, const int64_t* strides, float* out) {
  auto it = sched_emu::registry().find(name);
  if (it == sched_emu::registry().end() || ndim > SCHED_METAL_MAX_DIMS) return -1;
  SchedMetalArgs a = {};
  a.N = N;
  a.R = R;
  a.G = G;
  a.ndim = ndim;
  a.contiguous = contiguous;
  for (int d = 0; d < ndim; ++d) {
    a.shape[d] = shape[d];
    a.strides[d] = strides[d];
  }
  for (uint32_t y = 0; y < static_cast<uint32_t>(G); ++y) {
    for (int64_t x = 0; x < N; ++x) it->second(program, input, out, &a, uint2{static_cast<uint32_t>(x), y});
  }
  return 0;
}

// The fused optimizer step over its grid: max(1, nchunks) threadgroups of
// SCHED_OPT_LANES threads (the table holds host pointers in place of gpuAddress).
int emu_fused(const char* name, const uint64_t* step, const int32_t* programs, const void* tensors,
              const void* layouts, const void* groups, uint64_t* step_out, float* lr_out,
              const SchedMetalOptArgs* args) {
  using Fused = void (*)(const uint64_t*, const int32_t*, const sched_opt_tensor*, const sched_opt_layout*,
                         const sched_opt_group*, uint64_t*, float*, const SchedMetalOptArgs&, uint2, uint2);
  auto it = sched_emu::registry().find(name);
  if (it == sched_emu::registry().end()) return -1;
  auto fn = reinterpret_cast<Fused>(it->second);
  const int32_t groups_n = args->nchunks > 0 ? args->nchunks : 1;
  for (int32_t c = 0; c < groups_n; ++c) {
    for (uint32_t l = 0; l < SCHED_OPT_LANES; ++l) {
      fn(step, programs, static_cast<const sched_opt_tensor*>(tensors), static_cast<const sched_opt_layout*>(layouts),
         static_cast<const sched_opt_group*>(groups), step_out, lr_out, *args, uint2{uint32_t(c), 0}, uint2{l, 0});
    }
  }
  return 0;
}

int emu_count() { return static_cast<int>(sched_emu::registry().size()); }

const char* emu_name(int i) {
  auto it = sched_emu::registry().begin();
  std::advance(it, i);
  return it->first.c_str();
}
}
