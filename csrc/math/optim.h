// mlx-sched: the fused optimizer step, written once for the CPU, CUDA and
// Metal (same dialect rules as schedule.h).
//
// One step of a fused optimizer over many tensors in parameter groups: each
// group's learning rate, weight decay and other hyperparameters are numbers
// or schedule programs evaluated at the step counter read on the device; the
// counter then goes up by one. The element updates follow mlx.optimizers
// 0.32.4 operation by operation, rounding every intermediate to the
// parameter's dtype T where MLX does (bfloat16/float16 parameters), so a
// fused step matches MLX's graph.
#pragma once

#include "math/kernel_args.h"
#include "math/schedule.h"

// Optimizer kinds (a FusedStep's kind).
#define SCHED_OPT_SGD 0
#define SCHED_OPT_ADAM 1
#define SCHED_OPT_ADAMW 2
#define SCHED_OPT_RMSPROP 3
#define SCHED_OPT_ADAGRAD 4
#define SCHED_OPT_ADADELTA 5
#define SCHED_OPT_ADAMAX 6
#define SCHED_OPT_LION 7
#define SCHED_NUM_OPTIMIZERS 8

// Every optimizer by its Python name, with its number of flat states (s0,
// s1 below): the bindings' OPTIMIZERS table, the op's checks and every
// backend's kernel instantiations are made from this one list.
#define SCHED_OPTIMIZERS(X)                                                                 \
  X(sgd, SCHED_OPT_SGD, 1) X(adam, SCHED_OPT_ADAM, 2) X(adamw, SCHED_OPT_ADAMW, 2)         \
  X(rmsprop, SCHED_OPT_RMSPROP, 1) X(adagrad, SCHED_OPT_ADAGRAD, 1)                          \
  X(adadelta, SCHED_OPT_ADADELTA, 2) X(adamax, SCHED_OPT_ADAMAX, 2) X(lion, SCHED_OPT_LION, 1)

SCHED_FN sched_i32 sched_opt_num_states(sched_i32 kind) {
#define SCHED_OPT_STATES_CASE(name, k, ns) \
  if (kind == k) return ns;
  SCHED_OPTIMIZERS(SCHED_OPT_STATES_CASE)
#undef SCHED_OPT_STATES_CASE
  return 0;
}

// Group flags.

#define SCHED_OPT_MOMENTUM 1         // SGD: momentum a schedule or not <= 0 (else v is left alone)
#define SCHED_OPT_NESTEROV 2         // SGD
#define SCHED_OPT_WEIGHT_DECAY 4     // SGD: weight decay not the constant 0; Lion: a schedule or > 0
#define SCHED_OPT_BIAS_CORRECTION 8  // Adam, AdamW
#define SCHED_OPT_DECAY_IF_POSITIVE 16  // Lion: decay only at steps where weight decay > 0 (MLX's test)

// Parameter dtypes (codes shared with the hosts).
#define SCHED_OPT_F32 0
#define SCHED_OPT_F16 1
#define SCHED_OPT_BF16 2

// Elements one work item (a CUDA block, a Metal threadgroup, a CPU task)
// updates: SCHED_OPT_LANES lanes, each SCHED_OPT_PER_LANE elements SCHED_OPT_LANES apart.
#define SCHED_OPT_LANES 256
#define SCHED_OPT_PER_LANE 16
#define SCHED_OPT_CHUNK (SCHED_OPT_LANES * SCHED_OPT_PER_LANE)

// A group's hyperparameters besides the learning rate and weight decay: up
// to three, in named slots (an optimizer uses the slots of its own names).
#define SCHED_OPT_HP_MOMENTUM 0   // SGD
#define SCHED_OPT_HP_DAMPENING 1  // SGD
#define SCHED_OPT_HP_B1 0         // Adam, AdamW, Adamax, Lion: betas[0]
#define SCHED_OPT_HP_B2 1         // Adam, AdamW, Adamax, Lion: betas[1]
#define SCHED_OPT_HP_RHO 1        // RMSprop's alpha, AdaDelta's rho
#define SCHED_OPT_HP_EPS 2        // Adam, AdamW, Adamax, RMSprop, Adagrad, AdaDelta
#define SCHED_OPT_HPS 3

// Each slot is a number or a schedule program (a row of the programs input,
// evaluated at the step). A number is rounded to float32 by the host, as MLX
// rounds a Python float when it meets a float32 array, and 1 - number is
// computed in double on the host, as Python does; a scheduled value is
// float32 and 1 - value is taken in float32 (as MLX does for an array).
struct sched_opt_group {
  sched_i32 lr_prog;  // rows of the programs input
  sched_i32 wd_prog;
  sched_i32 flags;
  sched_i16 hp_prog[SCHED_OPT_HPS];  // the slot's program row; -1: the number below
  sched_i16 pad;
  float hp[SCHED_OPT_HPS];           // the numbers
  float hp_1m[SCHED_OPT_HPS];        // 1 - number
};

// A strided gradient (MLX hands out views: a Linear layer's weight gradient
// is a transpose), its dims collapsed to at most SCHED_OPT_MAX_DIMS (a limit
// of its own; a strided step array may have SCHED_MAX_DIMS, kernel_args.h).
#define SCHED_OPT_MAX_DIMS 4
struct sched_opt_layout {
  sched_i32 ndim;
  sched_i32 shape[SCHED_OPT_MAX_DIMS];
  sched_i64 strides[SCHED_OPT_MAX_DIMS];
};

// Element j's offset through a layout.
SCHED_FN sched_i64 sched_opt_offset(const SCHED_GLOBAL sched_opt_layout* L, sched_i64 j) {
  return sched_strided_offset(L->ndim, L->shape, L->strides, j);
}

// One tensor: its buffers (outputs may alias inputs: donation), its size,
// its first work item and its group. Pointers are device addresses.
struct sched_opt_tensor {
  SCHED_GLOBAL sched_u8* param;
  SCHED_GLOBAL sched_u8* grad;
  SCHED_GLOBAL sched_u8* s0;  // the first state (SGD, RMSprop, Adagrad: v; AdaDelta: v; Adam, Adamax, Lion: m)
  SCHED_GLOBAL sched_u8* s1;  // the second (Adam, Adamax: v; AdaDelta: u), else unused
  SCHED_GLOBAL sched_u8* out_param;
  SCHED_GLOBAL sched_u8* out_s0;
  SCHED_GLOBAL sched_u8* out_s1;
  sched_i64 size;
  sched_i32 first_chunk;  // prefix sum of the chunks of the tensors before
  sched_i16 group;
  sched_i16 dtype;
  sched_i32 grad_layout;   // -1: row-contiguous, else an index into the layouts
  sched_i32 param_layout;  // the same for the parameter (its first step only)
};

// A group's values at this step, computed once per work item.
struct sched_opt_scalars {
  float lr;   // schedule at the step before the increment (as MLX)
  float wd;
  float bc1;  // 1 - b1^t and 1 - b2^t at t = step + 1 (float32, as MLX)
  float bc2;
  float hp[SCHED_OPT_HPS];     // each slot's value at the step
  float hp_1m[SCHED_OPT_HPS];  // 1 - that value
  sched_i32 flags;             // the group's flags at this step (SGD: MOMENTUM off where momentum <= 0)
};

SCHED_FN sched_i64 sched_opt_chunks(sched_i64 size) { return (size + SCHED_OPT_CHUNK - 1) / SCHED_OPT_CHUNK; }

// The tensor a work item belongs to: the last one whose first chunk is <= chunk.
SCHED_FN sched_i32 sched_opt_find_tensor(const SCHED_GLOBAL sched_opt_tensor* t, sched_i32 n, sched_i32 chunk) {
  sched_i32 lo = 0, hi = n - 1;
  while (lo < hi) {
    sched_i32 mid = (lo + hi + 1) / 2;
    if (t[mid].first_chunk <= chunk) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  return lo;
}

SCHED_FN float sched_opt_program_value(const SCHED_GLOBAL sched_i32* programs, sched_i32 R, sched_i32 row, sched_step st) {
  const SCHED_GLOBAL sched_i32* member = programs + (sched_i64)row * R * SCHED_WORDS;
  return sched_eval(member, sched_member_nseg(member, R), st);
}

SCHED_FN sched_opt_scalars sched_opt_group_scalars(
    sched_opt_group g, const SCHED_GLOBAL sched_i32* programs, sched_i32 R, sched_u64 step) {
  sched_opt_scalars s;
  sched_step st = sched_step_from_u64(step);
  s.lr = sched_opt_program_value(programs, R, g.lr_prog, st);
  s.wd = sched_opt_program_value(programs, R, g.wd_prog, st);
  for (sched_i32 k = 0; k < SCHED_OPT_HPS; ++k) {
    if (g.hp_prog[k] < 0) {
      s.hp[k] = g.hp[k];
      s.hp_1m[k] = g.hp_1m[k];
    } else {
      s.hp[k] = sched_opt_program_value(programs, R, g.hp_prog[k], st);
      s.hp_1m[k] = 1.0f - s.hp[k];
    }
  }
  // SGD's tests, once per step rather than per element (MLX: if momentum <= 0:
  // plain step; v += (1 - dampening) g if dampening > 0 else g, times 1: exact)
  s.flags = g.flags;
  if ((g.flags & SCHED_OPT_DECAY_IF_POSITIVE) && !(s.wd > 0.0f)) s.flags &= ~SCHED_OPT_WEIGHT_DECAY;
  if (g.flags & SCHED_OPT_MOMENTUM) {
    if (s.hp[SCHED_OPT_HP_MOMENTUM] <= 0.0f) s.flags &= ~SCHED_OPT_MOMENTUM;
    if (!(s.hp[SCHED_OPT_HP_DAMPENING] > 0.0f)) s.hp_1m[SCHED_OPT_HP_DAMPENING] = 1.0f;
  }
  // MLX: b ** step with step the uint64 counter after the increment, in float32
  const float t = (float)(step + 1);
  s.bc1 = 1.0f - sched_pow_pos(s.hp[SCHED_OPT_HP_B1], t);
  s.bc2 = 1.0f - sched_pow_pos(s.hp[SCHED_OPT_HP_B2], t);
  return s;
}

// What a step reports per group: its learning rate, and in the same buffer
// after the G rates, its weight decay and each slot's value (the op's
// `hypers` output is a view of that part: the optimizer's state shows a
// scheduled hyperparameter's value as it shows the learning rate).
#define SCHED_OPT_REPORTED (1 + SCHED_OPT_HPS)
SCHED_FN void sched_opt_report(SCHED_GLOBAL float* rates, sched_i32 ngroups, sched_i32 g, sched_opt_scalars S) {
  rates[g] = S.lr;
  SCHED_GLOBAL float* h = rates + ngroups + (sched_i64)g * SCHED_OPT_REPORTED;
  h[0] = S.wd;
  for (sched_i32 k = 0; k < SCHED_OPT_HPS; ++k) h[1 + k] = S.hp[k];
}

// x rounded to the parameter dtype (a no-op for float32).
template <typename T>
SCHED_FN float sched_opt_round(float x) {
  return static_cast<float>(static_cast<T>(x));
}

// One element. p, g, s0, s1: the loaded values (as float); the new values
// are written back through the references. Each line is one MLX op.
template <typename T, int KIND>
SCHED_FN void sched_opt_update(
    SCHED_THREAD float& p, float g, SCHED_THREAD float& s0, SCHED_THREAD float& s1,
    sched_opt_group G, sched_opt_scalars S) {
#define R_ sched_opt_round<T>
  const float lr = R_(S.lr);  // learning_rate.astype(gradient.dtype)
  if (KIND == SCHED_OPT_SGD) {
    const float momentum = S.hp[SCHED_OPT_HP_MOMENTUM], omd = S.hp_1m[SCHED_OPT_HP_DAMPENING];
    if (G.flags & SCHED_OPT_WEIGHT_DECAY) g = R_(g + R_(R_(S.wd) * p));
    if (!(S.flags & SCHED_OPT_MOMENTUM)) {  // MLX: if momentum <= 0 (sched_opt_group_scalars)
      p = R_(p - R_(lr * g));
      return;
    }
    float v = R_(R_(momentum) * s0);
    v = R_(v + R_(R_(omd) * g));
    const float update = (G.flags & SCHED_OPT_NESTEROV) ? R_(g + R_(R_(momentum) * v)) : v;
    s0 = v;
    p = R_(p - R_(lr * update));
    return;
  }
  const float eps = S.hp[SCHED_OPT_HP_EPS];
  if (KIND == SCHED_OPT_RMSPROP || KIND == SCHED_OPT_ADAGRAD) {
    // v = alpha v + (1 - alpha) g^2 (RMSprop) or v + g^2 (Adagrad); p - lr g / (sqrt(v) + eps)
    const float v = KIND == SCHED_OPT_RMSPROP
        ? R_(R_(R_(S.hp[SCHED_OPT_HP_RHO]) * s0) + R_(R_(S.hp_1m[SCHED_OPT_HP_RHO]) * R_(g * g)))
        : R_(s0 + R_(g * g));
    s0 = v;
    p = R_(p - R_(R_(lr * g) / R_(R_(sched_sqrt(v)) + R_(eps))));
    return;
  }
  if (KIND == SCHED_OPT_ADADELTA) {  // s0 = v, s1 = u
    const float rho = S.hp[SCHED_OPT_HP_RHO], omr = S.hp_1m[SCHED_OPT_HP_RHO];
    const float v = R_(R_(R_(rho) * s0) + R_(R_(omr) * R_(g * g)));
    const float d = R_(R_(R_(sched_sqrt(R_(s1 + R_(eps)))) / R_(sched_sqrt(R_(v + R_(eps))))) * g);
    s1 = R_(R_(R_(rho) * s1) + R_(R_(omr) * R_(d * d)));
    s0 = v;
    p = R_(p - R_(lr * d));
    return;
  }
  const float b1 = S.hp[SCHED_OPT_HP_B1], omb1 = S.hp_1m[SCHED_OPT_HP_B1];
  const float b2 = S.hp[SCHED_OPT_HP_B2], omb2 = S.hp_1m[SCHED_OPT_HP_B2];
  if (KIND == SCHED_OPT_LION) {  // c = b1 m + (1 - b1) g; m = b2 m + (1 - b2) g; p - lr sign(c)
    const float c = R_(R_(R_(b1) * s0) + R_(R_(omb1) * g));
    s0 = R_(R_(R_(b2) * s0) + R_(R_(omb2) * g));
    if (S.flags & SCHED_OPT_WEIGHT_DECAY) p = R_(R_(1.0f - R_(lr * R_(S.wd))) * p);  // where wd > 0 (scalars)
    const float sign = (float)(c > 0.0f) - (float)(c < 0.0f);  // mx.sign: 0 for 0, -0 and NaN
    p = R_(p - R_(lr * sign));
    return;
  }
  if (KIND == SCHED_OPT_ADAMW) p = R_(p * R_(1.0f - R_(lr * R_(S.wd))));
  const float m = R_(R_(R_(b1) * s0) + R_(R_(omb1) * g));
  if (KIND == SCHED_OPT_ADAMAX) {  // v = max(b2 v, |g|); p - lr m / (v + eps)
    const float bv = R_(R_(b2) * s1), ag = g < 0.0f ? -g : g;
    const float v = bv > ag || bv != bv ? bv : ag;  // mx.maximum propagates NaN
    s0 = m;
    s1 = v;
    p = R_(p - R_(R_(lr * m) / R_(v + R_(eps))));
    return;
  }
  const float v = R_(R_(R_(b2) * s1) + R_(R_(omb2) * R_(g * g)));
  s0 = m;
  s1 = v;
  const float sq = R_(sched_sqrt(v));
  if (G.flags & SCHED_OPT_BIAS_CORRECTION) {
    const float c1 = R_(lr / S.bc1);              // float32, then astype
    const float c2 = R_(1.0f / sched_sqrt(S.bc2));      // rsqrt in float32, then astype
    p = R_(p - R_(R_(c1 * m) / R_(R_(sq * c2) + R_(eps))));
  } else {
    p = R_(p - R_(R_(lr * m) / R_(sq + R_(eps))));
  }
#undef R_
}

// Which states a step touches: one, the first (all but SGD without
// momentum); two, the second (optimizers of two states); copy_s0: SGD without momentum leaves v as it is,
// so a new output buffer gets a copy.
struct sched_opt_uses {
  bool one;
  bool two;
  bool copy_s0;
};

template <int KIND>
SCHED_FN sched_opt_uses sched_opt_uses_of(sched_opt_tensor t, sched_opt_group G) {
  sched_opt_uses U;
  U.two = sched_opt_num_states(KIND) == 2;
  U.one = KIND != SCHED_OPT_SGD || (G.flags & SCHED_OPT_MOMENTUM) != 0;
  U.copy_s0 = !U.one && t.out_s0 != t.s0;
  return U;
}

// Element j of tensor t: load (the parameter at pj and the gradient at gj,
// which differ from j for strided inputs), update, store.
template <typename T, int KIND>
SCHED_FN void sched_opt_element(
    sched_opt_tensor t, sched_i64 j, sched_i64 pj, sched_i64 gj, sched_opt_uses U, sched_opt_group G,
    sched_opt_scalars S) {
  SCHED_GLOBAL const T* S0 = reinterpret_cast<SCHED_GLOBAL const T*>(t.s0);
  SCHED_GLOBAL T* OS0 = reinterpret_cast<SCHED_GLOBAL T*>(t.out_s0);
  float p = static_cast<float>(reinterpret_cast<SCHED_GLOBAL const T*>(t.param)[pj]);
  if (U.copy_s0) OS0[j] = S0[j];
  float s0 = U.one ? static_cast<float>(S0[j]) : 0.0f;
  float s1 = U.two ? static_cast<float>(reinterpret_cast<SCHED_GLOBAL const T*>(t.s1)[j]) : 0.0f;
  sched_opt_update<T, KIND>(p, static_cast<float>(reinterpret_cast<SCHED_GLOBAL const T*>(t.grad)[gj]), s0, s1, G, S);
  reinterpret_cast<SCHED_GLOBAL T*>(t.out_param)[j] = static_cast<T>(p);
  if (U.one) OS0[j] = static_cast<T>(s0);
  if (U.two) reinterpret_cast<SCHED_GLOBAL T*>(t.out_s1)[j] = static_cast<T>(s1);
}

// Lane `lane` of the work item that covers elements [base, base + CHUNK) of
// tensor t: elements base + lane + k * LANES.
template <typename T, int KIND>
SCHED_FN void sched_opt_lane(
    sched_opt_tensor t, const SCHED_GLOBAL sched_opt_layout* layouts, sched_i64 base, sched_i32 lane,
    sched_opt_group G, sched_opt_scalars S) {
  const sched_opt_uses U = sched_opt_uses_of<KIND>(t, G);
  for (sched_i32 k = 0; k < SCHED_OPT_PER_LANE; ++k) {
    const sched_i64 j = base + lane + (sched_i64)k * SCHED_OPT_LANES;
    if (j >= t.size) break;
    const sched_i64 pj = t.param_layout < 0 ? j : sched_opt_offset(layouts + t.param_layout, j);
    const sched_i64 gj = t.grad_layout < 0 ? j : sched_opt_offset(layouts + t.grad_layout, j);
    sched_opt_element<T, KIND>(t, j, pj, gj, U, G, S);
  }
}
