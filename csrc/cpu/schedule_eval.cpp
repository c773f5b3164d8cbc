// ScheduleEval::eval_cpu: allocate, split the work into tasks, and run the
// shared math (math/schedule.h) over them. Runs of steps that share a plan
// go through the tight loops below, which GCC vectorizes; on x86-64 Linux
// they are compiled twice (AVX2+FMA and baseline) and picked at load time.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "math/schedule.h"
#include "mlx/allocator.h"
#include "mlx/backend/cpu/encoder.h"
#include "parallel.h"
#include "primitives.h"

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define SCHED_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SCHED_CLONES
#endif

namespace mlx_sched {

namespace {

constexpr int64_t kBlock = 1024;           // steps loaded and planned together
constexpr int64_t kTaskWork = 1 << 16;     // values per parallel task, at least

// out[t] = plan at i = t (frac 0), t in [0, len)
SCHED_CLONES void fill_run(sched_plan P, float* out, int32_t len) {
  switch (P.op) {
    case SCHED_OP_AFFINE:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_affine(P, (float)t);
      break;
    case SCHED_OP_COS2:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_cos2(P, (float)t);
      break;
    case SCHED_OP_SIN2:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_sin2(P, (float)t);
      break;
    case SCHED_OP_EXP:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_exp(P, t, 0.0f);
      break;
    default:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_plan_eval(P, t, 0.0f);
  }
}

// out[t] = plan at i = d[t], frac f[t]
SCHED_CLONES void fill_offsets(sched_plan P, float* out, const int32_t* d, const float* f, int32_t len) {
  switch (P.op) {
    case SCHED_OP_AFFINE:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_affine(P, (float)d[t] + f[t]);
      break;
    case SCHED_OP_COS2:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_cos2(P, (float)d[t] + f[t]);
      break;
    case SCHED_OP_SIN2:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_sin2(P, (float)d[t] + f[t]);
      break;
    case SCHED_OP_EXP:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_exp(P, d[t], f[t]);
      break;
    default:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_plan_eval(P, d[t], f[t]);
  }
}

// A block of steps in the form the math takes.
struct StepBlock {
  int64_t ip[kBlock];
  float frac[kBlock];
  bool nan[kBlock];
  bool any_nan;
  int64_t lo, hi;  // range of the integer parts (non-NaN steps)
};

template <typename T>
inline sched_step to_step(T v) {
  if constexpr (std::is_same_v<T, double>) {  // float64 (CPU only)
    if (std::isnan(v)) return sched_step_from_float(NAN);
    if (v >= 9223372036854775808.0) return sched_step_from_i64(SCHED_I64_MAX);
    if (v < -9223372036854775808.0) return sched_step_from_i64(SCHED_I64_MIN);
    double f = std::floor(v);
    sched_step s = sched_step_from_i64(static_cast<int64_t>(f));
    s.frac = static_cast<float>(v - f);
    s.frac = s.frac < 1.0f ? s.frac : 0.99999994f;  // v - f < 1, rounded up to 1
    return s;
  } else if constexpr (std::is_same_v<T, uint64_t>) {
    return sched_step_from_u64(v);
  } else if constexpr (std::is_integral_v<T>) {
    return sched_step_from_i64(static_cast<int64_t>(v));
  } else {
    return sched_step_from_float(static_cast<float>(v));
  }
}

// Element offsets of a strided array, walked in row-major order.
struct StridedWalk {
  const mx::Shape& shape;
  const mx::Strides& strides;
  std::vector<int> pos;
  int64_t loc = 0;

  StridedWalk(const mx::array& a, int64_t start) : shape(a.shape()), strides(a.strides()), pos(a.ndim()) {
    for (int d = a.ndim() - 1; d >= 0; --d) {
      pos[d] = static_cast<int>(start % shape[d]);
      start /= shape[d];
      loc += pos[d] * strides[d];
    }
  }
  void next() {
    for (int d = static_cast<int>(pos.size()) - 1; d >= 0; --d) {
      loc += strides[d];
      if (++pos[d] < shape[d]) return;
      loc -= static_cast<int64_t>(pos[d]) * strides[d];
      pos[d] = 0;
    }
  }
};

template <typename T>
void load_block(const mx::array& step, int64_t j0, int64_t len, StepBlock& b) {
  const T* p = step.data<T>();
  if (step.flags().row_contiguous) {
    for (int64_t t = 0; t < len; ++t) {
      sched_step s = to_step(p[j0 + t]);
      b.ip[t] = s.ip;
      b.frac[t] = s.frac;
      b.nan[t] = s.nan;
    }
  } else {
    StridedWalk w(step, j0);
    for (int64_t t = 0; t < len; ++t, w.next()) {
      sched_step s = to_step(p[w.loc]);
      b.ip[t] = s.ip;
      b.frac[t] = s.frac;
      b.nan[t] = s.nan;
    }
  }
  b.any_nan = false;
  b.lo = SCHED_I64_MAX;
  b.hi = SCHED_I64_MIN;
  for (int64_t t = 0; t < len; ++t) {
    b.any_nan |= b.nan[t];
    if (!b.nan[t]) {
      b.lo = std::min(b.lo, b.ip[t]);
      b.hi = std::max(b.hi, b.ip[t]);
    }
  }
}

void load_block(const mx::array& step, int64_t j0, int64_t len, StepBlock& b) {
  switch (step.dtype()) {
    case mx::uint8: return load_block<uint8_t>(step, j0, len, b);
    case mx::uint16: return load_block<uint16_t>(step, j0, len, b);
    case mx::uint32: return load_block<uint32_t>(step, j0, len, b);
    case mx::uint64: return load_block<uint64_t>(step, j0, len, b);
    case mx::int8: return load_block<int8_t>(step, j0, len, b);
    case mx::int16: return load_block<int16_t>(step, j0, len, b);
    case mx::int32: return load_block<int32_t>(step, j0, len, b);
    case mx::int64: return load_block<int64_t>(step, j0, len, b);
    case mx::float16: return load_block<mx::float16_t>(step, j0, len, b);
    case mx::bfloat16: return load_block<mx::bfloat16_t>(step, j0, len, b);
    case mx::float32: return load_block<float>(step, j0, len, b);
    case mx::float64: return load_block<double>(step, j0, len, b);
    default:
      throw std::runtime_error("[ScheduleEval::eval_cpu] unsupported step dtype.");
  }
}

// One member over one block of steps.
void eval_block(const int32_t* member, int32_t nseg, const StepBlock& b, int64_t len, float* out) {
  if (nseg == 0) {
    std::fill(out, out + len, sched_nan());
    return;
  }
  bool done = false;
  if (b.lo <= b.hi && b.hi - b.lo < SCHED_RUN_MAX) {
    int32_t j = sched_find_segment(member, nseg, b.lo);
    if (sched_find_segment(member, nseg, b.hi) == j) {
      sched_segment seg = sched_load_segment(member, j);
      int64_t a = sched_sat_sub(b.lo, seg.offset);
      sched_plan P = sched_make_plan(seg, a);
      if (sched_sat_sub(b.hi, seg.offset) <= P.limit) {
        int32_t d[kBlock];
        for (int64_t t = 0; t < len; ++t) d[t] = static_cast<int32_t>(b.ip[t] - b.lo);
        fill_offsets(P, out, d, b.frac, static_cast<int32_t>(len));
        done = true;
      }
    }
  }
  if (!done) {
    for (int64_t t = 0; t < len; ++t) {
      sched_step s = {b.ip[t], b.frac[t], b.nan[t]};
      out[t] = sched_eval(member, nseg, s);
    }
  }
  if (b.any_nan) {
    for (int64_t t = 0; t < len; ++t) out[t] = b.nan[t] ? sched_nan() : out[t];
  }
}

// One member over steps start .. start + len - 1.
void eval_range(const int32_t* member, int32_t nseg, int64_t start, int64_t len, float* out) {
  if (nseg == 0) {
    std::fill(out, out + len, sched_nan());
    return;
  }
  for (int64_t t = 0; t < len;) {
    sched_run r = sched_plan_run(member, nseg, sched_sat_add(start, t), len - t);
    fill_run(r.plan, out + t, static_cast<int32_t>(r.len));
    t += r.len;
  }
}

}  // namespace

void ScheduleEval::eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) {
  out.set_data(mx::allocator::malloc(out.nbytes()));
  auto& enc = mx::cpu::get_command_encoder(stream());
  enc.set_input_array(inputs[0]);
  enc.set_input_array(inputs[1]);
  enc.set_output_array(out);
  enc.dispatch([program = mx::array::unsafe_weak_copy(inputs[0]),
                arg = mx::array::unsafe_weak_copy(inputs[1]),
                out = mx::array::unsafe_weak_copy(out),
                mode = mode_]() mutable {
    const int G = program.shape(0);
    const int R = program.shape(1);
    // The program is tiny: read it through its strides if it has any.
    std::vector<int32_t> gathered;
    const int32_t* prog = program.data<int32_t>();
    if (!program.flags().row_contiguous) {
      gathered.resize(program.size());
      StridedWalk w(program, 0);
      for (size_t k = 0; k < gathered.size(); ++k, w.next()) gathered[k] = prog[w.loc];
      prog = gathered.data();
    }
    std::vector<int32_t> nseg(G);
    for (int g = 0; g < G; ++g) nseg[g] = sched_member_nseg(prog + int64_t(g) * R * SCHED_WORDS, R);
    auto member = [&](int64_t g) { return prog + g * R * SCHED_WORDS; };
    float* o = out.data<float>();
    const int64_t N = G > 0 ? static_cast<int64_t>(out.size()) / G : 0;
    if (N == 0) return;

    if (mode == Mode::Range) {
      const int64_t start = *arg.data<int64_t>();
      const int64_t chunk = std::max<int64_t>(kTaskWork * 4, (N + 15) / 16);
      const int64_t nchunks = (N + chunk - 1) / chunk;
      cpu::parallel_for(G * nchunks, [&](int64_t task) {
        int64_t g = task / nchunks, c = task % nchunks;
        int64_t j0 = c * chunk, len = std::min(chunk, N - j0);
        eval_range(member(g), nseg[g], sched_sat_add(start, j0), len, o + g * N + j0);
      });
      return;
    }

    const int64_t nblocks = (N + kBlock - 1) / kBlock;
    const int64_t gchunk = std::max<int64_t>(1, kTaskWork / kBlock);
    const int64_t ngroups = (G + gchunk - 1) / gchunk;
    cpu::parallel_for(nblocks * ngroups, [&](int64_t task) {
      int64_t blk = task / ngroups, grp = task % ngroups;
      int64_t j0 = blk * kBlock, len = std::min(kBlock, N - j0);
      auto b = std::make_unique<StepBlock>();
      load_block(arg, j0, len, *b);
      for (int64_t g = grp * gchunk; g < std::min<int64_t>(G, (grp + 1) * gchunk); ++g) {
        eval_block(member(g), nseg[g], *b, len, o + g * N + j0);
      }
    });
  });
}

}  // namespace mlx_sched
