// Runs an emulated Metal kernel over its whole grid (x: the values, y: the
// members), as a Metal dispatch of (N, G) threads would. C entry points for ctypes.
#include "shim.h"
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

int emu_count() { return static_cast<int>(sched_emu::registry().size()); }

const char* emu_name(int i) {
  auto it = sched_emu::registry().begin();
  std::advance(it, i);
  return it->first.c_str();
}
}
