// Runs an emulated Metal kernel over its whole grid (x: the values, y: the
// members), as a Metal dispatch of (N, G) threads would. C entry points for ctypes.
#include "shim.h"
#include "math/optim.h"
#include "metal/batches.h"
#include "metal/kernel_names.h"

extern "C" {

int emu_run(const char* name, const int32_t* program, int32_t G, int32_t R, const void* input, int64_t N,
            int32_t contiguous, int32_t ndim, const int32_t* shape, const int64_t* strides, float* out) {
  auto it = sched_emu::registry().find(name);
  if (it == sched_emu::registry().end() || ndim > SCHED_MAX_DIMS) return -1;
  sched_eval_args a = {};
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

// The fused optimizer step as the host dispatches it (csrc/metal/fused_step.cpp):
// the same plan (csrc/metal/batches.h) of which buffers each dispatch binds,
// then per batch max(1, nchunks) threadgroups of SCHED_OPT_LANES threads,
// each given the batch's buffers in its slots and the table in the unused
// ones. tensors: the table with host addresses (as FusedStep::prepare makes
// it); buffers: every array the step reaches (base, length in bytes,
// written). Returns the number of dispatches, or < 0 on an error.
int emu_fused(const char* name, const uint64_t* step, const int32_t* programs, int32_t R, const void* tensors,
              int32_t ntensors, const void* layouts, int32_t nlayouts, const void* groups, int32_t ngroups,
              const void* const* bases, const int64_t* lengths, const uint8_t* written, int32_t nbuffers,
              int32_t slots, uint64_t* step_out, float* lr_out) {
#define SCHED_EMU_SLOT_TYPE(k, b) uchar*,
  using Fused = void (*)(const uint64_t*, const int32_t*, const uchar*, uint64_t*, float*, const SchedMetalOptArgs&,
                         SCHED_METAL_OPT_SLOT_LIST(SCHED_EMU_SLOT_TYPE) uint2, uint2);
  auto it = sched_emu::registry().find(name);
  if (it == sched_emu::registry().end()) return -1;
  auto fn = reinterpret_cast<Fused>(it->second);
  const auto* T = static_cast<const sched_opt_tensor*>(tensors);
  const auto* L = static_cast<const sched_opt_layout*>(layouts);
  const auto* G = static_cast<const sched_opt_group*>(groups);
  std::vector<mlx_sched::metal_batches::Buffer> buffers;
  for (int32_t k = 0; k < nbuffers; ++k) {
    buffers.push_back({static_cast<const sched_u8*>(bases[k]), lengths[k], written[k] != 0});
  }
  mlx_sched::metal_batches::Plan plan;
  try {
    plan = mlx_sched::metal_batches::plan(std::vector<sched_opt_tensor>(T, T + ntensors),
                                          std::vector<sched_opt_layout>(L, L + nlayouts),
                                          std::vector<sched_opt_group>(G, G + ngroups), buffers, slots);
  } catch (const std::exception&) {
    return -2;
  }
  plan.args.R = R;
  uchar* table = plan.table.data();
  int dispatches = 0;
  for (size_t b = 0; b < plan.batches.size(); ++b) {
    const auto& batch = plan.batches[b];
    if (b > 0 && batch.nchunks == 0) continue;
    const SchedMetalOptArgs a = mlx_sched::metal_batches::args_of(plan, b);
    uchar* s[SCHED_METAL_OPT_SLOTS];
    for (int k = 0; k < SCHED_METAL_OPT_SLOTS; ++k) {
      s[k] = k < static_cast<int>(batch.buffers.size()) ? static_cast<uchar*>(const_cast<void*>(bases[batch.buffers[k]]))
                                                        : table;
    }
#define SCHED_EMU_SLOT_ARG(k, b) s[k],
    const int32_t grid = batch.nchunks > 0 ? batch.nchunks : 1;
    for (int32_t c = 0; c < grid; ++c) {
      for (uint32_t l = 0; l < SCHED_OPT_LANES; ++l) {
        fn(step, programs, table, step_out, lr_out, a, SCHED_METAL_OPT_SLOT_LIST(SCHED_EMU_SLOT_ARG) uint2{uint32_t(c), 0},
           uint2{l, 0});
      }
    }
    ++dispatches;
  }
  return dispatches;
}

int emu_count() { return static_cast<int>(sched_emu::registry().size()); }

const char* emu_name(int i) {
  auto it = sched_emu::registry().begin();
  std::advance(it, i);
  return it->first.c_str();
}
}
