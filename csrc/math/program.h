// mlx-sched: the layout of a compiled schedule program.
//
// A program is an int32 array of shape (G, R, 16): G schedules ("members"),
// each R records of 16 words (64 bytes). Record 0 is a header, records
// 1..nseg are segments. The Python factories write it (python/mlx_sched/
// _program.py mirrors these numbers, and a test checks they agree); every
// backend and the fused optimizer read it through the accessors below.
//
//   header:  w0 SCHED_MAGIC   w1 SCHED_VERSION   w2 nseg   w3 factors F   w4..15 zero
//   segment: w0 kind  w1 flags  w2:3 start (i64)  w4:5 offset (i64)
//            w6:7 n (i64)  w8..13 p[0..5] (float32 bits)  w14:15 m (i64)
//
// A factor's value at step s is that of its LAST segment whose start <= s,
// evaluated at the local step s - offset. This single rule reproduces
// mlx.optimizers.join_schedules for any boundaries, nested joins included
// (a segment's start is the max of its ancestors' boundaries, its offset
// their sum); segment 1 has start SCHED_I64_MIN.
//
// A member is the product of its F factors (F = 1: a plain schedule;
// mlx_sched.multiply makes more). Factor 0 is the header and its nseg
// segments; each further factor follows the previous one as a header of its
// own (F = 1) and its segments, so a factor is itself a plain member. The
// value is f0 * f1 * ... in this order, in float32, on every backend.
#pragma once

#include "platform.h"

#define SCHED_MAGIC 0x5343484c  // "LHCS"
#define SCHED_VERSION 3
#define SCHED_WORDS 16
#define SCHED_MAX_FACTORS 8  // factors of one member (mlx_sched.multiply)

// Segment kinds. Parameters (p) are prepared in float64 on the host; t is
// the local step (s - offset).
#define SCHED_KIND_CONSTANT 0     // p0 value
#define SCHED_KIND_LINEAR 1       // n steps; p0 end, p1 init-end, p2 1/n, p3 init, p4 end-init
                                  //   v = init + (end-init) * min(t,n) / n
#define SCHED_KIND_COSINE 2       // n decay steps; p0 end, p1 init-end, p2 pi/(2n), p3 exponent, p4 init, p5 end-init
                                  //   v = end + (init-end) * cos^2(pi min(t,n) / (2n))^exponent
                                  //   flags PERIODIC (t mod n), UNCLAMPED (no min(t, n));
                                  //   m > 1 (UNCLAMPED only): t m in place of t (half period n / m)
#define SCHED_KIND_EXPONENTIAL 3  // n divisor; p0 init, (p1,p2) = L as hi+lo,
                                  //   L = log|rate| (/ n unless staircase)
                                  //   v = init * rate^e, e = floor(t/n) (staircase) or t/n
#define SCHED_KIND_POWER 4        // p0 c0, p1 c1, p2 scale, p3 power, p4 + m = shift B
                                  //   v = c0 + c1 * g((t + B) * scale)^power,
                                  //   g = identity, cos^2 (SHAPE_COS2) or sin^2 (SHAPE_SIN2);
                                  //   the host keeps g's argument within [0, pi/4] for cos^2/sin^2
#define SCHED_KIND_TRIANGLE 5     // n = up steps, m = period (up + down); p0 base, p1 amplitude,
                                  //   p2 1/up, p3 1/down, (p4,p5) = log(gamma) as hi+lo
                                  //   r = t mod m, q = floor(t / m), tri = r/up (r <= up) or (m-r)/down
                                  //   v = base + amplitude * tri * (2^-q (HALVING) | gamma^t (EXP_RANGE) | 1)
#define SCHED_NUM_KINDS 6

// Every kind by its Python name (the _ext.KINDS table is built from this list).
#define SCHED_KINDS(X)                                                          \
  X(constant, SCHED_KIND_CONSTANT) X(linear, SCHED_KIND_LINEAR)                 \
  X(cosine, SCHED_KIND_COSINE) X(exponential, SCHED_KIND_EXPONENTIAL)           \
  X(power, SCHED_KIND_POWER) X(triangle, SCHED_KIND_TRIANGLE)

// Segment flags.
#define SCHED_FLAG_STAIRCASE 1    // exponential: integer exponent floor(t / n)
#define SCHED_FLAG_NEG_RATE 2     // exponential: rate < 0, sign (-1)^e
#define SCHED_FLAG_ZERO_RATE 4    // exponential: rate == 0
#define SCHED_FLAG_SHAPE_COS2 8   // power: g = cos^2
#define SCHED_FLAG_SHAPE_SIN2 16  // power: g = sin^2
#define SCHED_FLAG_HALVING 32     // triangle: amplitude halves every cycle
#define SCHED_FLAG_EXP_RANGE 64   // triangle: amplitude times gamma^t
#define SCHED_FLAG_PERIODIC 128   // cosine: restarts every n steps
#define SCHED_FLAG_UNCLAMPED 256  // cosine: the formula continues past n

struct sched_segment {
  sched_i32 kind;
  sched_i32 flags;
  sched_i64 start;
  sched_i64 offset;
  sched_i64 n;
  float p[6];
  sched_i64 m;
};

SCHED_FN sched_i64 sched_load_i64(const SCHED_GLOBAL sched_i32* w) {
  return (sched_i64)(((sched_u64)(sched_u32)w[1] << 32) | (sched_u64)(sched_u32)w[0]);
}

// Number of segments of factor 0 of a member of R records, or 0 if the
// member is not one this code wrote: every factor's header and segments must
// lie within the R records (the kernels then write NaN: no read past the program).
SCHED_FN sched_i32 sched_member_nseg(const SCHED_GLOBAL sched_i32* member, sched_i32 R) {
  sched_i32 F = member[3];
  if (member[0] != SCHED_MAGIC || member[1] != SCHED_VERSION || F < 1 || F > SCHED_MAX_FACTORS) return 0;
  sched_i32 rec = 0;  // the record of factor k's header
  for (sched_i32 k = 0; k < F; ++k) {
    const SCHED_GLOBAL sched_i32* h = member + SCHED_WORDS * rec;
    sched_i32 n = h[2];
    bool ok = h[0] == SCHED_MAGIC && h[1] == SCHED_VERSION && n >= 1 && n < R - rec && (k == 0 || h[3] == 1);
    if (!ok) return 0;
    rec += 1 + n;
  }
  return member[2];
}

// Factors of a member that sched_member_nseg accepted.
SCHED_FN sched_i32 sched_member_factors(const SCHED_GLOBAL sched_i32* member) { return member[3]; }

// The factor after factor f (a plain member: header, then f[2] segments).
SCHED_FN const SCHED_GLOBAL sched_i32* sched_next_factor(const SCHED_GLOBAL sched_i32* f) {
  return f + SCHED_WORDS * (1 + f[2]);
}

SCHED_FN sched_i64 sched_segment_start(const SCHED_GLOBAL sched_i32* member, sched_i32 j) {
  return sched_load_i64(member + SCHED_WORDS * (j + 1) + 2);
}

SCHED_FN sched_segment sched_load_segment(const SCHED_GLOBAL sched_i32* member, sched_i32 j) {
  const SCHED_GLOBAL sched_i32* w = member + SCHED_WORDS * (j + 1);
  sched_segment s;
  s.kind = w[0];
  s.flags = w[1];
  s.start = sched_load_i64(w + 2);
  s.offset = sched_load_i64(w + 4);
  s.n = sched_load_i64(w + 6);
  for (int k = 0; k < 6; ++k) {
    s.p[k] = sched_bits_to_float((sched_u32)w[8 + k]);
  }
  s.m = sched_load_i64(w + 14);
  return s;
}

// Index of the active segment for integer step ip: the last one whose
// start <= ip. Monotone non-decreasing in ip, so a run of steps shares
// a segment iff its first and last step do.
SCHED_FN sched_i32 sched_find_segment(const SCHED_GLOBAL sched_i32* member, sched_i32 nseg, sched_i64 ip) {
  sched_i32 j = nseg - 1;
  while (j > 0 && sched_segment_start(member, j) > ip) {
    --j;
  }
  return j;
}

// First step after ip at which the active segment changes (SCHED_I64_MAX if never).
SCHED_FN sched_i64 sched_next_change(const SCHED_GLOBAL sched_i32* member, sched_i32 nseg, sched_i32 j) {
  sched_i64 next = SCHED_I64_MAX;
  for (sched_i32 k = j + 1; k < nseg; ++k) {
    sched_i64 st = sched_segment_start(member, k);
    next = st < next ? st : next;
  }
  return next;
}
