// ScheduleEval::eval_cpu: allocate, split the work into tasks, and run the
// shared math (math/schedule.h) over them. Runs of steps that share a plan
// go through the tight loops below, which GCC vectorizes; on x86-64 Linux
// they are compiled twice (AVX2+FMA and baseline) and picked at load time.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "math/schedule.h"
#include "mlx/allocator.h"
#include "mlx/backend/cpu/encoder.h"
#include "mlx/dtype_utils.h"
#include "clones.h"
#include "host_data.h"
#include "parallel.h"
#include "primitives.h"


namespace mlx_sched {

namespace {

constexpr int64_t kBlock = 4096;           // steps loaded and planned together
constexpr int64_t kTaskWork = 1 << 16;     // values per parallel task, at least
constexpr int64_t kSplitMin = 32;          // blocks this small are evaluated step by step

// out[t] = the plan at i = d(t), frac f[t] (kFrac) or 0: the one loop per op
// of the CPU backend, inlined into the two clone-compiled entry points below.
template <bool kFrac, typename D>
inline __attribute__((always_inline)) void fill_plan(sched_plan P, float* out, int32_t len, D d, const float* f) {
  const int32_t o = P.ioff;
#define SCHED_X(t) (kFrac ? (float)(d(t) + o) + f[t] : (float)(d(t) + o))
#define SCHED_F(t) (kFrac ? f[t] : 0.0f)
  switch (P.op) {
    case SCHED_OP_CONST:  // held values, stairs: no per-step work
      for (int32_t t = 0; t < len; ++t) out[t] = P.c0;
      break;
    case SCHED_OP_AFFINE:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_affine(P, SCHED_X(t));
      break;
    case SCHED_OP_COS2:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_cos2(P, SCHED_X(t));
      break;
    case SCHED_OP_SIN2:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_sin2(P, SCHED_X(t));
      break;
    case SCHED_OP_EXP:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_exp(P, d(t), SCHED_F(t));
      break;
    case SCHED_OP_EXP_STAIR:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_exp_stair(P, d(t));
      break;
    case SCHED_OP_POW:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_pow(P, SCHED_X(t));
      break;
    case SCHED_OP_AFFINE_EXP:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_op_affine_exp(P, d(t), SCHED_F(t));
      break;
    default:
      for (int32_t t = 0; t < len; ++t) out[t] = sched_plan_eval(P, d(t), SCHED_F(t));
  }
#undef SCHED_X
#undef SCHED_F
}

// out[t] = plan at i = t (frac 0), t in [0, len): a range.
SCHED_CLONES void fill_run(sched_plan P, float* out, int32_t len) {
  fill_plan<false>(P, out, len, [](int32_t t) { return t; }, nullptr);
}

// out[t] = plan at i = ip[t] - base, frac f[t] (integer steps: f is not read).
// S is the steps' own integer type (no copy for contiguous integer steps).
template <typename S, bool kFrac>
SCHED_CLONES void fill_offsets(sched_plan P, float* out, const S* ip, S base, const float* f, int32_t len) {
  fill_plan<kFrac>(P, out, len, [&](int32_t t) { return (int32_t)(ip[t] - base); }, f);
}

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

// A block of up to kBlock steps as the math takes them: integer parts ip
// (the caller's own contiguous integer data where possible), and for float
// steps a fraction and a NaN mark per step.
template <typename S>
struct StepBlock {
  const S* ip = nullptr;
  const float* frac = nullptr;  // null: integer steps
  const bool* nan = nullptr;
  bool any_nan = false;
  int64_t lo = 0, hi = -1;  // range of ip over non-NaN steps (lo > hi: none)
  S base{};                 // lo in S
};

template <typename S>
void find_range(StepBlock<S>& b, int64_t len) {
  S lo = std::numeric_limits<S>::max(), hi = std::numeric_limits<S>::lowest();
  if (!b.any_nan) {
    for (int64_t t = 0; t < len; ++t) {
      lo = std::min(lo, b.ip[t]);
      hi = std::max(hi, b.ip[t]);
    }
  } else {
    for (int64_t t = 0; t < len; ++t) {
      if (!b.nan[t]) {
        lo = std::min(lo, b.ip[t]);
        hi = std::max(hi, b.ip[t]);
      }
    }
  }
  b.base = lo;
  if (lo > hi) {
    b.lo = 0, b.hi = -1;
  } else if constexpr (std::is_same_v<S, uint64_t>) {
    // Steps past int64 saturate one by one: no shared plan for such a block.
    b.lo = static_cast<int64_t>(std::min<uint64_t>(lo, SCHED_I64_MAX));
    b.hi = hi > (uint64_t)SCHED_I64_MAX ? b.lo - 1 : static_cast<int64_t>(hi);
  } else {
    b.lo = static_cast<int64_t>(lo);
    b.hi = static_cast<int64_t>(hi);
  }
}

template <typename S>
void fill_block(const sched_plan& P, const StepBlock<S>& b, int64_t len, float* out) {
  if (b.frac) {
    fill_offsets<S, true>(P, out, b.ip, b.base, b.frac, static_cast<int32_t>(len));
  } else {
    fill_offsets<S, false>(P, out, b.ip, b.base, b.frac, static_cast<int32_t>(len));
  }
  if (b.any_nan) {
    for (int64_t t = 0; t < len; ++t) out[t] = b.nan[t] ? sched_nan() : out[t];
  }
}

template <typename S>
StepBlock<S> sub_block(const StepBlock<S>& b, int64_t off, int64_t len) {
  StepBlock<S> sub = b;
  sub.ip += off;
  if (b.frac) {
    sub.frac += off;
    sub.nan += off;
  }
  find_range(sub, len);
  return sub;
}

// One member over one block of steps. The plan of the smallest step covers
// the block, or (sorted steps: an arange, a shifted arange) a first part of
// it and the rest goes the same way; otherwise the two halves, down to
// single steps. Values are the same whichever way (plans are anchored at
// fixed windows).
template <typename S>
void eval_block_factor(const int32_t* member, int32_t nseg, const StepBlock<S>& b, int64_t len, float* out) {
  if (nseg == 0) {
    std::fill(out, out + len, sched_nan());
    return;
  }
  if (b.lo <= b.hi) {
    int32_t j = sched_find_segment(member, nseg, b.lo);
    sched_segment seg = sched_load_segment(member, j);
    sched_plan P = sched_make_plan(seg, sched_sat_sub(b.lo, seg.offset));
    // last step (global) the plan covers
    int64_t last = sched_min64(sched_sat_add(P.limit, seg.offset), sched_sat_sub(sched_next_change(member, nseg, j), 1));
    last = sched_min64(last, sched_sat_add(b.lo, SCHED_RUN_MAX - 1));
    if (b.hi <= last) {
      fill_block(P, b, len, out);
      return;
    }
    int64_t t = 0;
    while (t < len && (b.any_nan && b.nan[t] ? true : static_cast<int64_t>(b.ip[t]) <= last)) ++t;
    if (t >= kSplitMin) {
      StepBlock<S> rest = sub_block(b, t, len - t);
      if (rest.lo > last) {  // partitioned: [0, t) under the plan, the rest after it
        StepBlock<S> head = sub_block(b, 0, t);
        fill_block(P, head, t, out);
        eval_block_factor(member, nseg, rest, len - t, out + t);
        return;
      }
    }
  }
  if (len > kSplitMin) {
    int64_t h = len / 2;
    eval_block_factor(member, nseg, sub_block(b, 0, h), h, out);
    eval_block_factor(member, nseg, sub_block(b, h, len - h), len - h, out + h);
    return;
  }
  for (int64_t t = 0; t < len; ++t) {
    sched_step s = to_step(b.ip[t]);
    if (b.frac) {
      s.frac = b.frac[t];
      s.nan = b.nan[t];
    }
    out[t] = s.nan ? sched_nan() : sched_eval_factor(member, nseg, s);
  }
}

// A member's len <= kBlock values: factor 0 into out, times each further
// factor in order (the same products as sched_eval); eval(f, nseg, buf)
// writes one factor's values.
template <typename Eval>
void product_of_factors(const int32_t* member, int32_t nseg, int64_t len, float* out, Eval&& eval) {
  eval(member, nseg, out);
  if (nseg == 0) return;
  float tmp[kBlock];
  const int32_t* f = member;
  for (int32_t k = 1; k < sched_member_factors(member); ++k) {
    f = sched_next_factor(f);
    eval(f, f[2], tmp);
    for (int64_t t = 0; t < len; ++t) out[t] *= tmp[t];
  }
}

// A member over a block of len <= kBlock steps.
template <typename S>
void eval_block(const int32_t* member, int32_t nseg, const StepBlock<S>& b, int64_t len, float* out) {
  product_of_factors(member, nseg, len, out,
                     [&](const int32_t* f, int32_t ns, float* buf) { eval_block_factor(f, ns, b, len, buf); });
}

// All members [g0, g1) over steps [j0, j0 + len) of a step array of type T.
template <typename T>
void eval_steps(const mx::array& step, const void* data, const int32_t* prog, int R, const int32_t* nseg,
                int64_t g0, int64_t g1, int64_t N, int64_t j0, int64_t len, float* o) {
  const T* p = static_cast<const T*>(data);
  const bool contiguous = step.flags().row_contiguous;
  if constexpr (std::is_integral_v<T>) {
    if (contiguous) {  // the common case: read the steps in place
      StepBlock<T> b;
      b.ip = p + j0;
      find_range(b, len);
      for (int64_t g = g0; g < g1; ++g) {
        eval_block(prog + g * R * SCHED_WORDS, nseg[g], b, len, o + g * N + j0);
      }
      return;
    }
  }
  int64_t ip[kBlock];
  float frac[kBlock];
  bool nan[kBlock];
  StepBlock<int64_t> b;
  b.ip = ip;
  StridedWalk w(step, contiguous ? 0 : j0);
  for (int64_t t = 0; t < len; ++t) {
    sched_step s = to_step(p[contiguous ? j0 + t : w.loc]);
    if (!contiguous) w.next();
    ip[t] = s.ip;
    frac[t] = s.frac;
    nan[t] = s.nan;
    b.any_nan |= s.nan;
  }
  if constexpr (!std::is_integral_v<T>) {
    b.frac = frac;
    b.nan = nan;
  }
  find_range(b, len);
  for (int64_t g = g0; g < g1; ++g) {
    eval_block(prog + g * R * SCHED_WORDS, nseg[g], b, len, o + g * N + j0);
  }
}

// Every integer and floating dtype, float64 included (MLX's dispatch; bool
// and complex steps are rejected by the op, ops.cpp).
template <typename... Args>
void eval_steps(mx::Dtype dt, Args&&... args) {
  mx::dispatch_int_float_types(dt, "[ScheduleEval::eval_cpu]",
                               [&](auto type) { eval_steps<MLX_GET_TYPE(type)>(args...); });
}

// One factor (a plain member) over steps start .. start + len - 1.
void eval_range_factor(const int32_t* f, int32_t nseg, int64_t start, int64_t len, float* out) {
  for (int64_t t = 0; t < len;) {
    sched_run r = sched_plan_run_factor(f, nseg, sched_sat_add(start, t), len - t);
    fill_run(r.plan, out + t, static_cast<int32_t>(r.len));
    t += r.len;
  }
}

// One member over steps start .. start + len - 1: the product of its factors'
// runs, kBlock steps at a time.
void eval_range(const int32_t* member, int32_t nseg, int64_t start, int64_t len, float* out) {
  if (nseg == 0) {
    std::fill(out, out + len, sched_nan());
    return;
  }
  if (sched_member_factors(member) == 1) {  // no kBlock chunks: one run can cover len
    eval_range_factor(member, nseg, start, len, out);
    return;
  }
  for (int64_t t0 = 0; t0 < len; t0 += kBlock) {
    const int64_t n = std::min(kBlock, len - t0);
    const int64_t s0 = sched_sat_add(start, t0);
    product_of_factors(member, nseg, n, out + t0,
                       [&](const int32_t* f, int32_t ns, float* buf) { eval_range_factor(f, ns, s0, n, buf); });
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
    const int32_t* prog;
    const void* steps;
    float* o;
    {  // every address once, here (host_data.h)
      std::lock_guard<std::mutex> lk(cpu::host_data_mutex());
      prog = program.data<int32_t>();
      steps = arg.data<void>();
      o = out.data<float>();
    }
    // The program is tiny: read it through its strides if it has any.
    std::vector<int32_t> gathered;
    if (!program.flags().row_contiguous) {
      gathered.resize(program.size());
      StridedWalk w(program, 0);
      for (size_t k = 0; k < gathered.size(); ++k, w.next()) gathered[k] = prog[w.loc];
      prog = gathered.data();
    }
    auto member = [&](int64_t g) { return prog + g * R * SCHED_WORDS; };
    const int64_t N = G > 0 ? static_cast<int64_t>(out.size()) / G : 0;
    if (N == 0) return;
    if (G == 1 && N == 1) {  // one step (an optimizer's): no tasks, no allocations
      int32_t ns = sched_member_nseg(prog, R);
      o[0] = mode == Mode::Range ? sched_eval(prog, ns, sched_step_from_i64(*static_cast<const int64_t*>(steps)))
                                 : [&] {
                                     float v;
                                     eval_steps(arg.dtype(), arg, steps, prog, R, &ns, 0, 1, 1, 0, 1, &v);
                                     return v;
                                   }();
      return;
    }
    std::vector<int32_t> nseg(G);
    for (int g = 0; g < G; ++g) nseg[g] = sched_member_nseg(member(g), R);

    if (mode == Mode::Range) {
      const int64_t start = *static_cast<const int64_t*>(steps);
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
      int64_t g0 = grp * gchunk, g1 = std::min<int64_t>(G, g0 + gchunk);
      eval_steps(arg.dtype(), arg, steps, prog, R, nseg.data(), g0, g1, N, j0, len, o);
    });
  });
}

}  // namespace mlx_sched
