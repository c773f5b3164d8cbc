// mlx-sched CPU backend: hot loops compiled twice on x86-64 Linux (AVX2+FMA
// and baseline), the variant picked at load time by the CPU's features.
#pragma once

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define SCHED_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SCHED_CLONES
#endif
