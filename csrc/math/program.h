// mlx-sched: the layout of a compiled schedule program.
//
// A program is an int32 array of shape (G, R, 16): G schedules ("members"),
// each R records of 16 words (64 bytes). Record 0 is a header, records
// 1..nseg are segments. The Python factories write it (python/mlx_sched/
// _program.py mirrors these numbers, and a test checks they agree); every
// backend and the fused optimizer read it through the accessors below.
//
//   header:  w0 SCHED_MAGIC   w1 SCHED_VERSION   w2 nseg   w3..15 zero
//   segment: w0 kind  w1 flags  w2:3 start (i64)  w4:5 offset (i64)
//            w6:7 n (i64)  w8..15 p[0..7] (float32 bits)
//
// A member's value at step s is that of its LAST segment whose start <= s,
// evaluated at the local step s - offset. This single rule reproduces
// mlx.optimizers.join_schedules for any boundaries, nested joins included
// (a segment's start is the max of its ancestors' boundaries, its offset
// their sum); segment 1 has start SCHED_I64_MIN.
#pragma once

#include "platform.h"

#define SCHED_MAGIC 0x5343484c  // "LHCS"
#define SCHED_VERSION 1
#define SCHED_WORDS 16

// Segment kinds. Parameters (p) are prepared in float64 on the host.
#define SCHED_KIND_CONSTANT 0     // p0 value
#define SCHED_KIND_LINEAR 1       // n steps; p0 end, p1 init-end, p2 1/n, p3 init, p4 end-init
                                  //   v = init + (end-init) * min(s,n) / n
#define SCHED_KIND_COSINE 2       // n decay steps; p0 end, p1 init-end, p2 pi/(2n)
                                  //   v = end + (init-end) * cos^2(pi min(s,n) / (2n))
#define SCHED_KIND_EXPONENTIAL 3  // n divisor; p0 init, (p1,p2) = L as hi+lo,
                                  //   L = log|rate| (/ n unless staircase)
                                  //   v = init * rate^e, e = floor(s/n) (staircase) or s/n
#define SCHED_NUM_KINDS 4

// Segment flags.
#define SCHED_FLAG_STAIRCASE 1  // exponential: integer exponent floor(s / n)
#define SCHED_FLAG_NEG_RATE 2   // exponential: rate < 0, sign (-1)^e
#define SCHED_FLAG_ZERO_RATE 4  // exponential: rate == 0

struct sched_segment {
  sched_i32 kind;
  sched_i32 flags;
  sched_i64 start;
  sched_i64 offset;
  sched_i64 n;
  float p[8];
};

SCHED_FN sched_i64 sched_load_i64(const SCHED_GLOBAL sched_i32* w) {
  return (sched_i64)(((sched_u64)(sched_u32)w[1] << 32) | (sched_u64)(sched_u32)w[0]);
}

// Number of segments of a member of R records, or 0 if the header is not
// one this code wrote (the kernels then write NaN: no read past the program).
SCHED_FN sched_i32 sched_member_nseg(const SCHED_GLOBAL sched_i32* member, sched_i32 R) {
  sched_i32 nseg = member[2];
  bool ok = member[0] == SCHED_MAGIC && member[1] == SCHED_VERSION && nseg >= 1 && nseg < R;
  return ok ? nseg : 0;
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
  for (int k = 0; k < 8; ++k) {
    s.p[k] = sched_bits_to_float((sched_u32)w[8 + k]);
  }
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
