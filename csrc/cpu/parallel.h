// mlx-sched CPU backend: a small persistent thread pool.
//
// MLX runs a CPU stream's work on one thread; a schedule over 1e7 steps is
// memory-bound work that both cores should share. Workers are started once
// and reused; a parallel section that finds the pool busy (another stream)
// runs inline, so concurrent callers never wait on each other.
#pragma once

#include <cstdint>
#include <functional>

namespace mlx_sched::cpu {

// Calls fn(t) for t in [0, ntasks), on the pool's workers and the caller.
void parallel_for(int64_t ntasks, const std::function<void(int64_t)>& fn);

// Number of threads a parallel section uses (workers + caller).
int num_threads();

}  // namespace mlx_sched::cpu
