// Host addresses of MLX arrays for the CPU backend's tasks.
//
// On a CUDA build of MLX, array::data() is not a plain read: Buffer::raw_ptr()
// moves a buffer that lives in device memory into unified memory (copy, free
// the device buffer, repoint) without a lock. Two threads doing that for one
// buffer at once copy it twice, free the device buffer twice, and one of them
// can return the freed device pointer: the CPU stream then faults or never
// signals its event (benchmarks/gpu/LOG.md, issue 13). MLX's own CPU ops call
// data() on their stream's thread only; two CPU streams reading one
// GPU-resident array race in MLX alone (tests/hang_patterns.py,
// mlx_cpu_streams_share_gpu_input).
//
// So: a task takes every address it needs once, on the CPU stream's thread,
// under this process-wide lock, before any work goes to the pool's workers,
// which only ever see plain pointers.
#pragma once

#include <mutex>

namespace mlx_sched::cpu {

inline std::mutex& host_data_mutex() {
  static std::mutex m;
  return m;
}

}  // namespace mlx_sched::cpu
