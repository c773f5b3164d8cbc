// mlx-sched Metal backend: which buffers each dispatch of a fused step binds.
//
// Metal lets a kernel touch a buffer only when it is resident for the
// dispatch, and MLX orders dispatches (barriers within an encoder, fences
// across encoders) only by the arrays bound with set_input_array /
// set_output_array. So every array the kernel reaches is bound: the
// tensors, in table order, go in batches whose arrays fit the free buffer
// slots (SCHED_METAL_OPT_SLOTS), one dispatch per batch. An array is bound
// whole (offset 0), once per batch however many tensors it holds (the flat
// parameter and state buffers hold them all), and each tensor's table entry
// says which slot and which byte offset each of its buffers is at.
//
// Host-only C++ without MLX: csrc/metal/fused_step.cpp and the CPU
// emulation of the kernel (tests/metal_shim/runner.cpp) plan with this.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "math/optim.h"
#include "metal/kernel_names.h"

namespace mlx_sched {
namespace metal_batches {

// One buffer the step may reach: where its bytes are on the host (MLX's
// Metal buffers are shared storage), how many, and whether the step writes it.
struct Buffer {
  const sched_u8* base;
  int64_t length;
  bool written;
};

struct Batch {
  int32_t tensor0 = 0, ntensors = 0;
  int32_t chunk0 = 0, nchunks = 0;
  std::vector<int32_t> buffers;  // slot k binds buffers[k] (an index into the step's buffers)
};

struct Plan {
  std::vector<uint8_t> table;  // tensors (no addresses) | bindings | layouts | groups
  SchedMetalOptArgs args{};    // common to every batch (R is the caller's)
  std::vector<Batch> batches;  // at least one: the first writes step + 1 and the rates
};

inline sched_u8* role(sched_opt_tensor& t, int r) {
  sched_u8* const a[SCHED_METAL_OPT_ROLES] = {t.param, t.grad, t.s0, t.s1, t.out_param, t.out_s0, t.out_s1};
  return a[r];
}

inline int64_t item_size(int dtype) { return dtype == SCHED_OPT_F32 ? 4 : 2; }

template <typename T>
void append(std::vector<uint8_t>& out, const std::vector<T>& v, int32_t& at) {
  out.resize((out.size() + 15) / 16 * 16);  // every section 16-byte aligned
  at = static_cast<int32_t>(out.size());
  out.resize(out.size() + v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(out.data() + at, v.data(), v.size() * sizeof(T));
}

// tensors: the table with host addresses (FusedStep::prepare); buffers: every
// array the step reads or writes; slots: the buffer arguments a dispatch has
// for them (fewer only to test the batching).
inline Plan plan(std::vector<sched_opt_tensor> tensors, const std::vector<sched_opt_layout>& layouts,
                 const std::vector<sched_opt_group>& groups, const std::vector<Buffer>& buffers,
                 int slots = SCHED_METAL_OPT_SLOTS) {
  if (slots < SCHED_METAL_OPT_ROLES || slots > SCHED_METAL_OPT_SLOTS) {
    throw std::invalid_argument("[metal_batches::plan] slots must be in [7, SCHED_METAL_OPT_SLOTS].");
  }
  // Addresses compared as integers: the buffers are unrelated objects.
  auto addr = [](const sched_u8* p) { return reinterpret_cast<uintptr_t>(p); };
  std::vector<int32_t> by_base(buffers.size());
  for (size_t k = 0; k < buffers.size(); ++k) by_base[k] = static_cast<int32_t>(k);
  std::sort(by_base.begin(), by_base.end(),
            [&](int32_t a, int32_t b) { return addr(buffers[a].base) < addr(buffers[b].base); });
  // The buffer that holds [p, p + extent) (extent one element for a strided
  // view, whose start is checked), and p's byte offset in it.
  auto find = [&](const sched_u8* p, int64_t extent, int64_t& offset) -> int32_t {
    auto it = std::upper_bound(by_base.begin(), by_base.end(), addr(p),
                               [&](uintptr_t q, int32_t k) { return q < addr(buffers[k].base); });
    if (it != by_base.begin()) {
      const Buffer& b = buffers[*(it - 1)];
      offset = static_cast<int64_t>(addr(p) - addr(b.base));
      if (offset + extent <= b.length) return *(it - 1);
    }
    throw std::logic_error("[metal_batches::plan] a tensor's data is not inside one of the step's arrays.");
  };

  const int32_t n = static_cast<int32_t>(tensors.size());
  std::vector<SchedMetalOptBinding> bindings(n);
  std::vector<int32_t> buf(static_cast<size_t>(n) * SCHED_METAL_OPT_ROLES, -1);  // tensor, role -> buffer
  for (int32_t i = 0; i < n; ++i) {
    sched_opt_tensor& t = tensors[i];
    for (int r = 0; r < SCHED_METAL_OPT_ROLES; ++r) {
      sched_u8* p = role(t, r);
      bindings[i].slot[r] = -1;
      bindings[i].offset[r] = 0;
      if (t.size == 0 || p == nullptr) continue;
      const bool strided = (r == 0 && t.param_layout >= 0) || (r == 1 && t.grad_layout >= 0);
      int64_t offset = 0;
      const int32_t k = find(p, strided ? item_size(t.dtype) : t.size * item_size(t.dtype), offset);
      buf[static_cast<size_t>(i) * SCHED_METAL_OPT_ROLES + r] = k;
      bindings[i].offset[r] = offset;
    }
    t.param = t.grad = t.s0 = t.s1 = t.out_param = t.out_s0 = t.out_s1 = nullptr;  // the kernel's to make
  }

  Plan P;
  Batch cur;
  auto close = [&](int32_t end) {
    cur.ntensors = end - cur.tensor0;
    const int64_t c0 = cur.ntensors > 0 ? tensors[cur.tensor0].first_chunk : 0;
    int64_t c1 = c0;
    if (cur.ntensors > 0) {
      const sched_opt_tensor& last = tensors[end - 1];
      c1 = last.first_chunk + sched_opt_chunks(last.size);
    }
    cur.chunk0 = static_cast<int32_t>(c0);
    cur.nchunks = static_cast<int32_t>(c1 - c0);
    P.batches.push_back(cur);
    cur = Batch();
    cur.tensor0 = end;
  };
  for (int32_t i = 0; i < n; ++i) {
    std::vector<int32_t> need;
    for (int r = 0; r < SCHED_METAL_OPT_ROLES; ++r) {
      const int32_t k = buf[static_cast<size_t>(i) * SCHED_METAL_OPT_ROLES + r];
      if (k >= 0 && std::find(cur.buffers.begin(), cur.buffers.end(), k) == cur.buffers.end() &&
          std::find(need.begin(), need.end(), k) == need.end()) {
        need.push_back(k);
      }
    }
    if (cur.buffers.size() + need.size() > static_cast<size_t>(slots)) {
      close(i);
      for (int r = 0; r < SCHED_METAL_OPT_ROLES; ++r) {  // all of this tensor's buffers are new now
        const int32_t k = buf[static_cast<size_t>(i) * SCHED_METAL_OPT_ROLES + r];
        if (k >= 0 && std::find(cur.buffers.begin(), cur.buffers.end(), k) == cur.buffers.end()) cur.buffers.push_back(k);
      }
    } else {
      cur.buffers.insert(cur.buffers.end(), need.begin(), need.end());
    }
    for (int r = 0; r < SCHED_METAL_OPT_ROLES; ++r) {
      const int32_t k = buf[static_cast<size_t>(i) * SCHED_METAL_OPT_ROLES + r];
      if (k >= 0) {
        bindings[i].slot[r] =
            static_cast<int32_t>(std::find(cur.buffers.begin(), cur.buffers.end(), k) - cur.buffers.begin());
      }
    }
  }
  close(n);

  int32_t at_tensors = 0;
  append(P.table, tensors, at_tensors);
  append(P.table, bindings, P.args.at_bindings);
  append(P.table, layouts, P.args.at_layouts);
  append(P.table, groups, P.args.at_groups);
  P.args.ngroups = static_cast<int32_t>(groups.size());
  return P;
}

// The arguments of batch b's dispatch.
inline SchedMetalOptArgs args_of(const Plan& P, size_t b) {
  SchedMetalOptArgs a = P.args;
  a.tensor0 = P.batches[b].tensor0;
  a.ntensors = P.batches[b].ntensors;
  a.chunk0 = P.batches[b].chunk0;
  a.nchunks = P.batches[b].nchunks;
  a.scalars = b == 0 ? 1 : 0;
  return a;
}

}  // namespace metal_batches
}  // namespace mlx_sched
