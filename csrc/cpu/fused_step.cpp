// FusedStep::eval_cpu: allocate (donating), build the tensor table, and run
// the shared update (math/optim.h) over every element, split into tasks of
// whole chunks for the pool. One task reads the step, evaluates each group's
// schedule once and writes the new step and learning rates.
#include <algorithm>
#include <vector>

#include "math/optim.h"
#include "mlx/allocator.h"
#include "mlx/backend/cpu/encoder.h"
#include "mlx/types/half_types.h"
#include "clones.h"
#include "host_data.h"
#include "parallel.h"
#include "primitives.h"

namespace mlx_sched {

namespace {

constexpr int64_t kTaskChunks = 16;  // chunks (of 4096 elements) per parallel task

// The element loop; kStrided: a gradient or parameter read through its layout.
// Without strides, float32 compiles to one vectorized loop (AVX2 clone on x86-64).
template <typename T, int KIND, bool kStrided>
inline __attribute__((always_inline)) void update_loop(const sched_opt_tensor& t, const sched_opt_layout* layouts,
                                                       int64_t begin, int64_t end, const sched_opt_group& G,
                                                       const sched_opt_scalars& S) {
  sched_opt_uses U = sched_opt_uses_of<KIND>(t, G);
  if (U.copy_s0) {  // copied once here, not inside the vector loop
    std::copy(reinterpret_cast<const T*>(t.s0) + begin, reinterpret_cast<const T*>(t.s0) + end,
              reinterpret_cast<T*>(t.out_s0) + begin);
    U.copy_s0 = false;
  }
  for (int64_t j = begin; j < end; ++j) {
    const int64_t pj = kStrided && t.param_layout >= 0 ? sched_opt_offset(layouts + t.param_layout, j) : j;
    const int64_t gj = kStrided && t.grad_layout >= 0 ? sched_opt_offset(layouts + t.grad_layout, j) : j;
    sched_opt_element<T, KIND>(t, j, pj, gj, U, G, S);
  }
}

template <typename T, int KIND>
SCHED_CLONES void update_range(const sched_opt_tensor& t, const sched_opt_layout* layouts, int64_t begin, int64_t end,
                               const sched_opt_group& G, const sched_opt_scalars& S) {
  if (t.grad_layout >= 0 || t.param_layout >= 0) {
    update_loop<T, KIND, true>(t, layouts, begin, end, G, S);
  } else {
    update_loop<T, KIND, false>(t, layouts, begin, end, G, S);
  }
}

template <int KIND>
void update_any(const sched_opt_tensor& t, const sched_opt_layout* layouts, int64_t begin, int64_t end,
                const sched_opt_group& G, const sched_opt_scalars& S) {
  switch (t.dtype) {
    case SCHED_OPT_F32: return update_range<float, KIND>(t, layouts, begin, end, G, S);
    case SCHED_OPT_F16: return update_range<mx::float16_t, KIND>(t, layouts, begin, end, G, S);
    default: return update_range<mx::bfloat16_t, KIND>(t, layouts, begin, end, G, S);
  }
}

}  // namespace

void FusedStep::eval_cpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) {
  validate(inputs);  // now: an error leaves nothing allocated or queued
  allocate(inputs, outputs, [](size_t n) { return mx::allocator::malloc(n); });
  auto& enc = mx::cpu::get_command_encoder(stream());
  for (const auto& in : inputs) enc.set_input_array(in);
  for (auto& out : outputs) enc.set_output_array(out);
  // The buffers the task touches stay alive until it ran; the primitive too.
  std::vector<mx::array> ins, outs;
  for (const auto& a : inputs) ins.push_back(mx::array::unsafe_weak_copy(a));
  for (const auto& a : outputs) outs.push_back(mx::array::unsafe_weak_copy(a));
  auto self = std::static_pointer_cast<FusedStep>(outputs[FusedIo::step_out].primitive_ptr());
  enc.dispatch([self = std::move(self), ins = std::move(ins), outs = std::move(outs)]() mutable {
    // Every address once, here, on the CPU stream's thread after it waited
    // for the inputs' producers (host_data.h).
    Table table;
    uint64_t* step_out;
    float* lr_out;
    const int32_t* program_words;
    uint64_t step;
    {
      std::lock_guard<std::mutex> lk(cpu::host_data_mutex());
      table = self->make_table(ins, outs, [](const mx::array& a) { return const_cast<sched_u8*>(a.data<sched_u8>()); });
      step_out = outs[FusedIo::step_out].data<uint64_t>();
      lr_out = outs[FusedIo::rates].data<float>();
      program_words = ins[FusedIo::programs].data<int32_t>();
      step = *ins[FusedIo::step].data<uint64_t>();
    }
    const auto& groups = self->groups_;
    const int kind = self->kind_;
    const int R = ins[FusedIo::programs].shape(1);
    std::vector<sched_opt_scalars> scalars(groups.size());
    for (size_t g = 0; g < groups.size(); ++g) {
      scalars[g] = sched_opt_group_scalars(groups[g], program_words, R, step);
      sched_opt_report(lr_out, static_cast<sched_i32>(groups.size()), static_cast<sched_i32>(g), scalars[g]);
    }
    *step_out = step + 1;
    const int64_t ntasks = (table.chunks + kTaskChunks - 1) / kTaskChunks;
    const auto& T = table.tensors;
    cpu::parallel_for(ntasks, [&](int64_t task) {
      const int64_t c0 = task * kTaskChunks, c1 = std::min(table.chunks, c0 + kTaskChunks);
      for (int64_t c = c0; c < c1;) {
        const auto& t = T[sched_opt_find_tensor(T.data(), static_cast<int32_t>(T.size()), static_cast<int32_t>(c))];
        const int64_t last = std::min<int64_t>(c1, t.first_chunk + sched_opt_chunks(t.size));
        const int64_t begin = (c - t.first_chunk) * SCHED_OPT_CHUNK;
        const int64_t end = std::min<int64_t>(t.size, (last - t.first_chunk) * SCHED_OPT_CHUNK);
        const auto& G = groups[t.group];
        const auto& S = scalars[t.group];
        const sched_opt_layout* L = table.layouts.data();
#define SCHED_OPT_UPDATE(name, k, ns) \
  if (kind == k) update_any<k>(t, L, begin, end, G, S);
        SCHED_OPTIMIZERS(SCHED_OPT_UPDATE)
#undef SCHED_OPT_UPDATE
        c = last;
      }
    });
  });
}

}  // namespace mlx_sched
