// mlx-sched: every schedule formula, once.
//
// Included unchanged by the CPU backend (C++), the CUDA kernels and the Metal
// shaders. Float arithmetic only: integer parts of a step are reduced exactly
// in 64-bit integers, what needs more than float precision (rate^step for
// steps up to 2^53) is carried as a float pair, and transcendental functions
// are short polynomials (no libm call: the CPU loops vectorize).
//
// Evaluation goes through a "plan": for a segment and a local integer step a,
// sched_make_plan reduces everything that depends on a's magnitude (the
// period of a cosine, rate^a, the stair of a step decay) and returns a
// branch-free formula in a small float x = i + frac (i = step - a, an int32)
// that holds for every step in [a, plan.limit]. One step is a plan at i = 0;
// a run of steps (range mode, or a block of nearby steps) shares one plan.
#pragma once

#include "program.h"

// ---------------------------------------------------------------- integers

SCHED_FN sched_i64 sched_min64(sched_i64 a, sched_i64 b) { return a < b ? a : b; }

SCHED_FN sched_i64 sched_sat_sub(sched_i64 a, sched_i64 b) {
  if (b < 0 && a > SCHED_I64_MAX + b) return SCHED_I64_MAX;
  if (b > 0 && a < SCHED_I64_MIN + b) return SCHED_I64_MIN;
  return a - b;
}

SCHED_FN sched_i64 sched_sat_add(sched_i64 a, sched_i64 b) {
  if (b > 0 && a > SCHED_I64_MAX - b) return SCHED_I64_MAX;
  if (b < 0 && a < SCHED_I64_MIN - b) return SCHED_I64_MIN;
  return a + b;
}

// floor(a / n) and a - n floor(a / n) in [0, n), for n > 0
SCHED_FN sched_i64 sched_floor_div(sched_i64 a, sched_i64 n) {
  sched_i64 q = a / n;
  return (a % n != 0 && a < 0) ? q - 1 : q;
}

SCHED_FN sched_i64 sched_floor_mod(sched_i64 a, sched_i64 n) {
  sched_i64 r = a % n;
  return r < 0 ? r + n : r;
}

// ------------------------------------------------------------------ floats

#define SCHED_LOG2E 1.44269504088896341f
#define SCHED_LN2_HI 0.693147182464599609375f  // float(ln 2)
#define SCHED_LN2_LO -1.904654323148236e-09f   // ln 2 - SCHED_LN2_HI
#define SCHED_2_OVER_PI 0.636619772367581343f
#define SCHED_PIO2_1 1.5703125f                    // pi/2 in three parts (Cephes' DP1..3, doubled)
#define SCHED_PIO2_2 4.837512969970703125e-4f
#define SCHED_PIO2_3 7.54978995489188216e-8f
#define SCHED_RMAGIC 12582912.0f               // 1.5 * 2^23: x + M - M rounds to an integer

SCHED_FN float sched_nan() { return sched_bits_to_float(0x7fc00000u); }
SCHED_FN float sched_inf() { return sched_bits_to_float(0x7f800000u); }

// nearest integer, |x| < 2^22
SCHED_FN float sched_rint(float x) { return (x + SCHED_RMAGIC) - SCHED_RMAGIC; }

// e^r for |r| <= ~0.36 (Cephes expf polynomial, ~1 ulp)
SCHED_FN float sched_exp_poly(float r) {
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  return p * (r * r) + r + 1.0f;
}

// sin and cos for |x| <= pi/4 (Cephes sinf/cosf polynomials, ~1 ulp)
SCHED_FN float sched_sin_poly(float x) {
  float z = x * x;
  return x + x * z * ((-1.9515295891e-4f * z + 8.3321608736e-3f) * z - 1.6666654611e-1f);
}

SCHED_FN float sched_cos_poly(float x) {
  float z = x * x;
  return 1.0f - 0.5f * z +
      z * z * ((2.443315711809948e-5f * z - 1.388731625493765e-3f) * z + 4.166664568298827e-2f);
}

// 2^k for k in [-126, 127]
SCHED_FN float sched_pow2i(sched_i32 k) { return sched_bits_to_float((sched_u32)(k + 127) << 23); }

// v * 2^k without intermediate overflow for |k| up to 2^30 (saturates to 0 or inf)
SCHED_FN float sched_ldexp(float v, sched_i32 k) {
  k = k < -252 ? -252 : (k > 254 ? 254 : k);
  sched_i32 k1 = k >> 1;
  return v * sched_pow2i(k1) * sched_pow2i(k - k1);
}

// Float pairs hi + lo (about 48 bits).
struct sched_ff {
  float hi;
  float lo;
};

SCHED_FN sched_ff sched_two_prod(float a, float b) {
  sched_ff r;
  r.hi = a * b;
  r.lo = sched_fma(a, b, -r.hi);
  return r;
}

SCHED_FN sched_ff sched_two_sum(float a, float b) {
  sched_ff r;
  r.hi = a + b;
  float bb = r.hi - a;
  r.lo = (a - (r.hi - bb)) + (b - bb);
  return r;
}

// (Lh + Ll) * q for any 64-bit q: q is split into three 24-bit parts, each exact in float.
SCHED_FN sched_ff sched_ff_mul_i64(float Lh, float Ll, sched_i64 q) {
  bool neg = q < 0;
  sched_u64 u = neg ? (sched_u64)0 - (sched_u64)q : (sched_u64)q;
  float q2 = (float)(sched_i32)(u >> 48) * 281474976710656.0f;  // 2^48
  float q1 = (float)(sched_i32)((u >> 24) & 0xffffffu) * 16777216.0f;
  float q0 = (float)(sched_i32)(u & 0xffffffu);
  sched_ff a = sched_two_prod(Lh, q2);
  sched_ff b = sched_two_prod(Lh, q1);
  sched_ff c = sched_two_prod(Lh, q0);
  sched_ff s = sched_two_sum(a.hi, b.hi);
  sched_ff t = sched_two_sum(s.hi, c.hi);
  float lo = ((s.lo + t.lo) + (a.lo + b.lo + c.lo)) + Ll * ((q2 + q1) + q0);
  sched_ff r = sched_two_sum(t.hi, lo);
  if (neg) {
    r.hi = -r.hi;
    r.lo = -r.lo;
  }
  return r;
}

// e^(hi + lo) = m * 2^k with |m| in [0.7, 1.42]; k saturates at +-2^28.
struct sched_exp_split {
  float m;
  sched_i32 k;
};

SCHED_FN sched_exp_split sched_exp_ff(sched_ff e) {
  float t = e.hi * SCHED_LOG2E;
  t = t < -268435456.0f ? -268435456.0f : (t > 268435456.0f ? 268435456.0f : t);
  float kf = (t > -4194304.0f && t < 4194304.0f) ? sched_rint(t) : t;
  sched_ff pk = sched_two_prod(kf, SCHED_LN2_HI);
  float r = ((e.hi - pk.hi) - pk.lo) - kf * SCHED_LN2_LO + e.lo;
  r = r < -1.0f ? -1.0f : (r > 1.0f ? 1.0f : r);  // only where t saturated: the result is 0 or inf
  sched_exp_split out;
  out.m = sched_exp_poly(r);
  out.k = (sched_i32)kf;
  return out;
}

// ln x as a float pair, x > 0 finite (Cephes logf polynomial on [sqrt(1/2), sqrt(2)),
// ln 2 in Cody-Waite parts so that e ln 2 stays exact).
SCHED_FN sched_ff sched_log_ff(float x) {
  bool sub = x < 1.17549435e-38f;
  x = sub ? x * 16777216.0f : x;
  sched_u32 b = sched_float_to_bits(x);
  sched_i32 e = (sched_i32)((b >> 23) & 0xffu) - 127 - (sub ? 24 : 0);
  float m = sched_bits_to_float((b & 0x7fffffu) | 0x3f800000u);  // [1, 2)
  bool big = m > 1.41421356f;
  m = big ? m * 0.5f : m;
  e += big ? 1 : 0;
  float f = m - 1.0f;  // exact
  float z = f * f;
  float y = 7.0376836292e-2f;
  y = y * f - 1.1514610310e-1f;
  y = y * f + 1.1676998740e-1f;
  y = y * f - 1.2420140846e-1f;
  y = y * f + 1.4249322787e-1f;
  y = y * f - 1.6668057665e-1f;
  y = y * f + 2.0000714765e-1f;
  y = y * f - 2.4999993993e-1f;
  y = y * f + 3.3333331174e-1f;
  y = y * f * z;
  float r = f + (y - 0.5f * z);  // ln(1 + f)
  float ef = (float)e;
  sched_ff out = sched_two_sum(ef * 0.693359375f, r);  // e * ln2_hi: exact
  out.lo += ef * -2.12194440e-4f;
  return out;
}

// g^pw for g >= 0 (0^pw: 0 for pw > 0, inf for pw < 0); NaN for g < 0 or NaN.
// pw * ln g is a float pair: the relative error stays a few ulp for |pw ln g| up to ~100.
SCHED_FN float sched_pow_pos(float g, float pw) {
  sched_ff l = sched_log_ff(g > 0.0f ? g : 1.0f);
  sched_ff y;
  y.hi = pw * l.hi;
  y.lo = sched_fma(pw, l.hi, -y.hi) + pw * l.lo;
  sched_exp_split e = sched_exp_ff(y);
  float v = sched_ldexp(e.m, e.k);
  v = g == 0.0f ? (pw > 0.0f ? 0.0f : sched_inf()) : v;
  return (g < 0.0f || g != g) ? sched_nan() : v;
}

// ------------------------------------------------------------------- steps

// A step as an exact integer part and a fraction in [0, 1) (float steps).
struct sched_step {
  sched_i64 ip;
  float frac;
  bool nan;
};

SCHED_FN sched_step sched_step_from_i64(sched_i64 v) {
  sched_step s;
  s.ip = v;
  s.frac = 0.0f;
  s.nan = false;
  return s;
}

// uint64 steps >= 2^63 saturate (no schedule value changes that far out).
SCHED_FN sched_step sched_step_from_u64(sched_u64 v) {
  return sched_step_from_i64(v > (sched_u64)SCHED_I64_MAX ? SCHED_I64_MAX : (sched_i64)v);
}

// NaN stays NaN; +-inf and |x| >= 2^63 saturate.
SCHED_FN sched_step sched_step_from_float(float x) {
  sched_step s = sched_step_from_i64(0);
  if (x != x) {
    s.nan = true;
  } else if (x >= 9223372036854775808.0f) {
    s.ip = SCHED_I64_MAX;
  } else if (x < -9223372036854775808.0f) {
    s.ip = SCHED_I64_MIN;
  } else if (x >= 8388608.0f || x <= -8388608.0f) {
    s.ip = (sched_i64)x;  // already an integer
  } else {
    float t = (float)(sched_i32)x;
    t = t > x ? t - 1.0f : t;
    s.ip = (sched_i64)t;
    s.frac = x - t;
  }
  return s;
}

// ------------------------------------------------------------------- plans

#define SCHED_OP_CONST 0    // v = c0
#define SCHED_OP_AFFINE 1   // v = c0 + c1 * ((A + sgn x) * scale)
#define SCHED_OP_COS2 2     // v = c0 + c1 * cos^2((A + x) * scale)
#define SCHED_OP_SIN2 3     // v = c0 + c1 * sin^2((A + x) * scale)
#define SCHED_OP_EXP 4        // v = +-c1 * 2^ek * e^(L x)
#define SCHED_OP_EXP_STAIR 5  // v = +-c1 * 2^ek * e^(L q), q = floor((bm + i) / n)
#define SCHED_OP_SELECT0 6    // v = x == 0 ? c0 : c1
#define SCHED_OP_POW 7        // v = c0 + c1 * g((A + sgn x) * scale)^pw, g by shape (0 id, 1 cos^2, 2 sin^2)
#define SCHED_OP_AFFINE_EXP 8 // v = c0 + ((A + sgn x) * scale) * c1 * 2^ek * e^(L x)
#define SCHED_OP_COS2_FRAC 9  // v = c0 + c1 * g((A + sgn x) * scale)^pw, g by shape (1 cos^2, 2 sin^2),
                              //   the angle reduced again by pi/2 (a cosine of rational half period)

// Longest run one plan covers: keeps x = i + frac exact in float.
#define SCHED_RUN_MAX 8388608  // 2^23
// Plans are anchored at window starts (multiples of SCHED_WINDOW steps) or at
// regime starts, whichever is later, and end with either: a value then depends
// on its step alone, not on which run, block or thread computed it, so every
// backend and both modes agree bit for bit (given the same float operations).
#define SCHED_WINDOW 4096
// Exponential plans span a window when |log rate| * SCHED_WINDOW <= 2^20.
#define SCHED_EXP_WINDOW_MAX_L 256.0f
// Stairs at least this long are filled as constants, one plan per stair
// (cheaper than an exponential per step); shorter ones go per step.
#define SCHED_STAIR_CONST 64

struct sched_plan {
  sched_i32 op;
  float c0, c1, A, sgn, scale, Lh, Ll, inv_n, pw;
  sched_i32 ek, par, neg, bm, n, shape;
  sched_i32 ioff;   // x = i + ioff (+ frac): the step's offset from the plan's anchor
  sched_i64 limit;  // the plan holds for local steps a..limit
};

SCHED_FN float sched_op_affine(sched_plan P, float x) {
  return P.c0 + P.c1 * ((P.A + P.sgn * x) * P.scale);
}

SCHED_FN float sched_op_cos2(sched_plan P, float x) {
  float c = sched_cos_poly((P.A + x) * P.scale);
  return P.c0 + P.c1 * (c * c);
}

SCHED_FN float sched_op_sin2(sched_plan P, float x) {
  float s = sched_sin_poly((P.A + x) * P.scale);
  return P.c0 + P.c1 * (s * s);
}

// c1 * 2^ek * e^(L x), with the sign (-1)^(par + k) for a negative rate.
// Branch-free (selects only), so that the CPU loops vectorize.
SCHED_FN float sched_exp_core(sched_plan P, float x, sched_i32 k) {
  float ph = P.Lh * x;
  float pl = sched_fma(P.Lh, x, -ph) + P.Ll * x;
  float kf = sched_rint(ph * SCHED_LOG2E);
  sched_ff pk = sched_two_prod(kf, SCHED_LN2_HI);
  float r = ((ph - pk.hi) - pk.lo) - kf * SCHED_LN2_LO + pl;
  float v = P.c1 * sched_exp_poly(r);
  v = ((P.par ^ k) & P.neg) ? -v : v;
  return sched_ldexp(v, (sched_i32)kf + P.ek);
}

// exponent s / n: x = i + frac (NaN between integers for a negative rate)
SCHED_FN float sched_op_exp(sched_plan P, sched_i32 i, float frac) {
  i += P.ioff;
  float v = sched_exp_core(P, (float)i + frac, i);
  return (P.neg && frac != 0.0f) ? sched_nan() : v;
}

// exponent floor(s / n): the stair index of bm + i (< 2^24, exact in float)
SCHED_FN float sched_op_exp_stair(sched_plan P, sched_i32 i) {
  sched_i32 j = P.bm + i;
  sched_i32 q = (sched_i32)((float)j * P.inv_n);
  q -= (q * P.n > j) ? 1 : 0;
  q += ((q + 1) * P.n <= j) ? 1 : 0;
  return sched_exp_core(P, (float)q, q);
}

SCHED_FN float sched_op_select0(sched_plan P, float x) { return x == 0.0f ? P.c0 : P.c1; }

SCHED_FN float sched_op_pow(sched_plan P, float x) {
  float y = (P.A + P.sgn * x) * P.scale;
  float c = P.shape == 1 ? sched_cos_poly(y) : (P.shape == 2 ? sched_sin_poly(y) : y);
  float g = P.shape == 0 ? y : c * c;
  return P.c0 + P.c1 * sched_pow_pos(g, P.pw);
}

SCHED_FN float sched_op_affine_exp(sched_plan P, sched_i32 i, float frac) {
  i += P.ioff;
  float x = (float)i + frac;
  return P.c0 + ((P.A + P.sgn * x) * P.scale) * sched_exp_core(P, x, i);
}

// A cosine of rational half period n / m is planned one step at a time, its
// integer angle reduced exactly (|angle| <= pi/4); a fractional step adds
// m * frac half-period units, up to m, so the angle is reduced again here,
// by pi/2 (three-part Cody-Waite: exact for the few quarter turns a step can
// add). Integer steps (x = 0, q = 0) give the bits of the plain cos^2 / sin^2.
SCHED_FN float sched_op_cos2_frac(sched_plan P, float x) {
  float y = (P.A + P.sgn * x) * P.scale;
  float q = sched_rint(y * SCHED_2_OVER_PI);
  float r = ((y - q * SCHED_PIO2_1) - q * SCHED_PIO2_2) - q * SCHED_PIO2_3;
  bool odd = (((sched_i32)q) & 1) != 0;
  float c = ((P.shape == 1) != odd) ? sched_cos_poly(r) : sched_sin_poly(r);
  float g = c * c;
  return P.c0 + P.c1 * (P.pw == 1.0f ? g : sched_pow_pos(g, P.pw));
}

SCHED_FN float sched_plan_eval(sched_plan P, sched_i32 i, float frac) {
  float x = (float)(i + P.ioff) + frac;
  switch (P.op) {
    case SCHED_OP_AFFINE:
      return sched_op_affine(P, x);
    case SCHED_OP_COS2:
      return sched_op_cos2(P, x);
    case SCHED_OP_SIN2:
      return sched_op_sin2(P, x);
    case SCHED_OP_EXP:
      return sched_op_exp(P, i, frac);
    case SCHED_OP_EXP_STAIR:
      return sched_op_exp_stair(P, i);
    case SCHED_OP_SELECT0:
      return sched_op_select0(P, x);
    case SCHED_OP_POW:
      return sched_op_pow(P, x);
    case SCHED_OP_AFFINE_EXP:
      return sched_op_affine_exp(P, i, frac);
    case SCHED_OP_COS2_FRAC:
      return sched_op_cos2_frac(P, x);
    default:
      return P.c0;
  }
}

SCHED_FN sched_plan sched_const_plan(float v) {
  sched_plan P;
  P.op = SCHED_OP_CONST;
  P.c0 = v;
  P.c1 = 0.0f;
  P.A = 0.0f;
  P.sgn = 1.0f;
  P.scale = 0.0f;
  P.Lh = 0.0f;
  P.Ll = 0.0f;
  P.inv_n = 1.0f;
  P.pw = 1.0f;
  P.shape = 0;
  P.ek = 0;
  P.par = 0;
  P.neg = 0;
  P.bm = 0;
  P.n = 1;
  P.ioff = 0;
  P.limit = SCHED_I64_MAX;
  return P;
}

SCHED_FN sched_i64 sched_window_start(sched_i64 a) { return a & ~(sched_i64)(SCHED_WINDOW - 1); }

// Anchors P for step a of the regime [r_lo, r_hi]; returns the anchor.
SCHED_FN sched_i64 sched_anchor(SCHED_THREAD sched_plan& P, sched_i64 a, sched_i64 r_lo, sched_i64 r_hi) {
  sched_i64 w = sched_window_start(a);
  sched_i64 anchor = r_lo > w ? r_lo : w;
  P.ioff = (sched_i32)(a - anchor);
  P.limit = sched_min64(r_hi, w + (SCHED_WINDOW - 1));
  return anchor;
}

// linear: v = init + (end - init) * min(s, n) / n   (no lower clamp, as MLX).
// Anchored at the nearer end, so both init (s = 0) and end (s = n) are exact
// and a warmup from 0 keeps full relative precision near its start. The
// lower half has ceil(n / 2) steps: step 0 is in it even for n = 1.
SCHED_FN sched_plan sched_plan_linear(sched_segment seg, sched_i64 a) {
  sched_plan P = sched_const_plan(seg.p[0]);
  sched_i64 h = seg.n - seg.n / 2;
  if (a < h) {  // v = init + (end - init) * s / n
    P.op = SCHED_OP_AFFINE;
    P.c0 = seg.p[3];
    P.c1 = seg.p[4];
    P.A = (float)sched_anchor(P, a, SCHED_I64_MIN, h - 1);
    P.scale = seg.p[2];
  } else if (a < seg.n) {  // v = end + (init - end) * (n - s) / n
    P.op = SCHED_OP_AFFINE;
    P.c1 = seg.p[1];
    P.A = (float)(seg.n - sched_anchor(P, a, h, seg.n - 1));
    P.sgn = -1.0f;
    P.scale = seg.p[2];
  }
  return P;
}

// cosine: v = end + (init - end) * (1 + cos(pi min(s, n) / n)) / 2
//           = end + (init - end) * cos^2(pi s / (2n)).
// With s = m n + d, |d| <= n/2: cos^2 (m even) or sin^2 (m odd) of pi d / (2n),
// so the angle stays within pi/4 and tiny values keep full relative precision.
// Both are written as a sin^2 from the nearer end: m even (near init)
// init + (end - init) sin^2, m odd (near end) end + (init - end) sin^2, so
// init and end are exact and neither end cancels (an exponent != 1 keeps
// the cos^2 / sin^2 power of the first form).
// A step multiplier m > 1 (unclamped only) makes the half period n / m steps,
// a fraction (Hugging Face's num_cycles): the angle is pi (a m) / (2n), its
// integer a m reduced exactly mod 2n (the host keeps 2 n m < 2^62), one step
// per plan (consecutive steps are m apart on the wave).
SCHED_FN sched_plan sched_plan_cosine(sched_segment seg, sched_i64 a) {
  sched_plan P = sched_const_plan(seg.p[0]);
  sched_i64 n = seg.n;
  bool unclamped = (seg.flags & SCHED_FLAG_UNCLAMPED) != 0;
  sched_i64 step = a;
  sched_i64 mul = seg.m > 1 ? seg.m : 1;
  if (mul > 1) a = sched_floor_mod(sched_floor_mod(a, 2 * n) * mul, 2 * n);
  if (a < n || unclamped) {
    sched_i64 h = n / 2;
    sched_i64 ah = sched_sat_add(a, h);
    sched_i64 m = sched_floor_div(ah, n);
    sched_i64 mn = sched_sat_sub(ah, sched_floor_mod(ah, n));  // m n, saturated
    P.op = (m & 1) ? SCHED_OP_SIN2 : SCHED_OP_COS2;
    P.c1 = seg.p[1];
    if (seg.p[3] == 1.0f && !(m & 1)) {  // near init: init + (end - init) sin^2
      P.op = SCHED_OP_SIN2;
      P.c0 = seg.p[4];
      P.c1 = seg.p[5];
    }
    sched_i64 hi = sched_sat_add(mn, n - h - 1);
    hi = unclamped ? hi : sched_min64(hi, n - 1);
    sched_i64 anchor = sched_anchor(P, a, sched_sat_sub(mn, h), hi);
    P.A = (float)sched_sat_sub(anchor, mn);
    P.scale = seg.p[2];
    if (seg.p[3] != 1.0f) {  // (cos^2)^exponent
      P.shape = P.op == SCHED_OP_COS2 ? 1 : 2;
      P.pw = seg.p[3];
      P.op = SCHED_OP_POW;
    }
    if (mul > 1) {  // this step alone; a fraction of it moves m times as far
      P.shape = P.op == SCHED_OP_POW ? P.shape : (P.op == SCHED_OP_COS2 ? 1 : 2);
      P.op = SCHED_OP_COS2_FRAC;
      P.A = (float)(a - mn);
      P.sgn = (float)mul;
      P.ioff = 0;
      P.limit = step;
    }
  }
  return P;
}

// rate^(q + x) = c1 * 2^ek * e^(L x) with c1 * 2^ek = init * rate^q.
SCHED_FN void sched_exp_base(SCHED_THREAD sched_plan& P, float init, float Lh, float Ll, sched_i32 neg, sched_i64 q) {
  sched_exp_split base = sched_exp_ff(sched_ff_mul_i64(Lh, Ll, q));
  P.c1 = init * base.m;
  P.ek = base.k;
  P.par = (sched_i32)(q & 1);
  P.neg = neg;
  P.Lh = Lh;
  P.Ll = Ll;
}

// exponential: v = init * rate^e, e = s / n or floor(s / n) (staircase).
SCHED_FN sched_plan sched_plan_exponential(sched_segment seg, sched_i64 a) {
  float init = seg.p[0];
  sched_i64 n = seg.n;
  bool stair = (seg.flags & SCHED_FLAG_STAIRCASE) != 0;
  sched_i64 q = stair ? sched_floor_div(a, n) : a;  // integer part of the exponent
  if (seg.flags & SCHED_FLAG_ZERO_RATE) {           // 0^e: inf, 1 or 0 by the sign of e
    sched_plan P = sched_const_plan(q < 0 ? init * sched_inf() : (q == 0 ? init : init * 0.0f));
    P.limit = q < 0 ? -1 : (q == 0 ? (stair ? n - 1 : 0) : SCHED_I64_MAX);
    if (q == 0 && !stair) {  // e = frac: 0^0 = 1, 0^frac = 0
      P.op = SCHED_OP_SELECT0;
      P.c1 = init * 0.0f;
    }
    return P;
  }
  float absL = seg.p[1] < 0.0f ? -seg.p[1] : seg.p[1];
  bool windowed = absL <= SCHED_EXP_WINDOW_MAX_L;
  sched_i32 neg = (seg.flags & SCHED_FLAG_NEG_RATE) ? 1 : 0;
  sched_plan P = sched_const_plan(0.0f);
  if (!stair) {
    P.op = SCHED_OP_EXP;
    sched_i64 anchor = windowed ? sched_anchor(P, a, SCHED_I64_MIN, SCHED_I64_MAX) : a;
    if (!windowed) P.limit = a;
    sched_exp_base(P, init, seg.p[1], seg.p[2], neg, anchor);
    return P;
  }
  // Stairs: windows of SCHED_WINDOW stairs, anchored at stair qw.
  sched_i64 qw = windowed ? sched_window_start(q) : q;
  sched_exp_base(P, init, seg.p[1], seg.p[2], neg, qw);
  if (n >= SCHED_STAIR_CONST || !windowed) {  // one stair at a time: a constant
    sched_i32 k = (sched_i32)(q - qw);
    sched_plan C = sched_const_plan(sched_exp_core(P, (float)k, k));
    C.limit = sched_sat_add(a, n - 1 - sched_floor_mod(a, n));  // the stair's last step
    return C;
  }
  sched_i64 bm = (q - qw) * n + sched_floor_mod(a, n);  // a - qw n, < SCHED_WINDOW n
  P.op = SCHED_OP_EXP_STAIR;
  P.bm = (sched_i32)bm;
  P.n = (sched_i32)n;
  P.inv_n = 1.0f / (float)n;
  P.limit = sched_sat_add(a, SCHED_WINDOW * n - bm - 1);
  return P;
}

// power: v = c0 + c1 * g((t + B) * scale)^pw, one windowed plan (the host
// bounds where the segment is active).
SCHED_FN sched_plan sched_plan_power(sched_segment seg, sched_i64 a) {
  sched_plan P = sched_const_plan(seg.p[0]);
  P.c1 = seg.p[1];
  P.scale = seg.p[2];
  P.pw = seg.p[3];
  P.shape = (seg.flags & SCHED_FLAG_SHAPE_COS2) ? 1 : ((seg.flags & SCHED_FLAG_SHAPE_SIN2) ? 2 : 0);
  sched_i64 anchor = sched_anchor(P, a, SCHED_I64_MIN, SCHED_I64_MAX);
  P.A = (float)sched_sat_add(anchor, seg.m) + seg.p[4];
  if (P.pw != 1.0f) {
    P.op = SCHED_OP_POW;
  } else {
    P.op = P.shape == 1 ? SCHED_OP_COS2 : (P.shape == 2 ? SCHED_OP_SIN2 : SCHED_OP_AFFINE);
  }
  return P;
}

// triangle wave of period m rising for n steps: one plan per rising or
// falling half (an affine function of t), times the cycle's amplitude.
SCHED_FN sched_plan sched_plan_triangle(sched_segment seg, sched_i64 a) {
  sched_i64 per = seg.m;
  sched_i64 up = seg.n;
  if (per <= up) return sched_const_plan(sched_nan());  // no falling half: not written by the host
  sched_plan P = sched_const_plan(seg.p[0]);
  sched_i64 q = sched_floor_div(a, per);
  sched_i64 r = sched_floor_mod(a, per);
  sched_i64 cs = sched_sat_sub(a, r);  // the cycle's first step
  bool rising = r <= up;
  sched_i64 lo = rising ? cs : sched_sat_add(cs, up + 1);
  sched_i64 hi = rising ? sched_sat_add(cs, up) : sched_sat_add(cs, per - 1);
  sched_i64 anchor = sched_anchor(P, a, lo, hi);
  bool exp_range = (seg.flags & SCHED_FLAG_EXP_RANGE) != 0;
  float absL = seg.p[4] < 0.0f ? -seg.p[4] : seg.p[4];
  if (exp_range && absL > SCHED_EXP_WINDOW_MAX_L) {  // one step per plan
    anchor = a;
    P.ioff = 0;
    P.limit = a;
  }
  sched_i64 ra = sched_sat_sub(anchor, cs);
  P.op = SCHED_OP_AFFINE;
  P.A = (float)(rising ? ra : per - ra);
  P.sgn = rising ? 1.0f : -1.0f;
  P.scale = rising ? seg.p[2] : seg.p[3];
  float amp = seg.p[1];
  if (seg.flags & SCHED_FLAG_HALVING) {
    sched_i64 qc = q < -1073741824 ? -1073741824 : (q > 1073741824 ? 1073741824 : q);
    amp = sched_ldexp(amp, -(sched_i32)qc);
  }
  P.c1 = amp;
  if (exp_range) {
    P.op = SCHED_OP_AFFINE_EXP;
    sched_exp_base(P, amp, seg.p[4], seg.p[5], 0, anchor);
  }
  return P;
}

SCHED_FN sched_plan sched_make_kind_plan(sched_segment seg, sched_i64 a) {
  switch (seg.kind) {
    case SCHED_KIND_LINEAR:
      return sched_plan_linear(seg, a);
    case SCHED_KIND_COSINE:
      return sched_plan_cosine(seg, a);
    case SCHED_KIND_EXPONENTIAL:
      return sched_plan_exponential(seg, a);
    case SCHED_KIND_POWER:
      return sched_plan_power(seg, a);
    case SCHED_KIND_TRIANGLE:
      return sched_plan_triangle(seg, a);
    default:
      return sched_const_plan(seg.p[0]);
  }
}

SCHED_FN sched_plan sched_make_plan(sched_segment seg, sched_i64 a) {
  if (seg.n < 1 && seg.kind != SCHED_KIND_CONSTANT) return sched_const_plan(sched_nan());
  if (seg.flags & SCHED_FLAG_PERIODIC) {  // the segment at t mod n, until the period ends
    sched_i64 a2 = sched_floor_mod(a, seg.n);
    sched_plan P = sched_make_kind_plan(seg, a2);
    P.limit = sched_sat_add(a, sched_min64(P.limit, seg.n - 1) - a2);
    return P;
  }
  return sched_make_kind_plan(seg, a);
}

// ------------------------------------------------------------- evaluation

// The value of one factor (a plain member of nseg >= 1 segments) at one step.
SCHED_FN float sched_eval_factor(const SCHED_GLOBAL sched_i32* f, sched_i32 nseg, sched_step st) {
  sched_segment seg = sched_load_segment(f, sched_find_segment(f, nseg, st.ip));
  return sched_plan_eval(sched_make_plan(seg, sched_sat_sub(st.ip, seg.offset)), 0, st.frac);
}

// The value of one member at one step: the product of its factors, in order.
SCHED_FN float sched_eval(const SCHED_GLOBAL sched_i32* member, sched_i32 nseg, sched_step st) {
  if (st.nan || nseg == 0) return sched_nan();
  float v = sched_eval_factor(member, nseg, st);
  const SCHED_GLOBAL sched_i32* f = member;
  for (sched_i32 k = 1; k < sched_member_factors(member); ++k) {
    f = sched_next_factor(f);
    v *= sched_eval_factor(f, f[2], st);
  }
  return v;
}

// A run of consecutive steps ip, ip+1, ... sharing one plan (at most max_len).
struct sched_run {
  sched_plan plan;
  sched_i64 len;
};

// The run of one factor (a plain member of nseg >= 1 segments) from step ip.
SCHED_FN sched_run sched_plan_run_factor(const SCHED_GLOBAL sched_i32* f, sched_i32 nseg, sched_i64 ip, sched_i64 max_len) {
  sched_i32 j = sched_find_segment(f, nseg, ip);
  sched_segment seg = sched_load_segment(f, j);
  sched_i64 a = sched_sat_sub(ip, seg.offset);
  sched_run r;
  r.plan = sched_make_plan(seg, a);
  sched_i64 len = sched_min64(max_len, (sched_i64)SCHED_RUN_MAX);
  len = sched_min64(len, sched_sat_add(sched_sat_sub(r.plan.limit, a), 1));
  sched_i64 next = sched_next_change(f, nseg, j);
  if (next != SCHED_I64_MAX) len = sched_min64(len, next - ip);
  r.len = len < 1 ? 1 : len;
  return r;
}

// nseg >= 1 (see sched_member_nseg). A member of several factors has no
// shared plan: one step, its value as a constant (the CPU backend multiplies
// whole runs of each factor instead).
SCHED_FN sched_run sched_plan_run(const SCHED_GLOBAL sched_i32* member, sched_i32 nseg, sched_i64 ip, sched_i64 max_len) {
  if (sched_member_factors(member) > 1) {
    sched_run r;
    r.plan = sched_const_plan(sched_eval(member, nseg, sched_step_from_i64(ip)));
    r.len = 1;
    return r;
  }
  return sched_plan_run_factor(member, nseg, ip, max_len);
}
