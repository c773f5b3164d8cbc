"""Every CUDA kernel of mlx-sched once, for compute-sanitizer (memcheck).

Everything stays on the GPU: results are reduced by MLX's own kernels and only
those sums reach the host (under the sanitizer, host reads of unified memory
written by a kernel can fault: that is the tool's limitation, not a finding).

    compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_kernels.py
"""

import os
import sys

import mlx.core as mx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
from cases import RANGES, SCHEDULES, step_arrays  # noqa: E402

total = mx.array(0.0)
n = 0
for name, make in SCHEDULES.items():
    s = make()
    for steps in step_arrays().values():
        out = s(steps, stream=mx.gpu)
        total = total + mx.sum(mx.where(mx.abs(out) < 1e6, out, 0.0))
        n += 1
    for start, count in RANGES:
        out = s.values(count, start=start, stream=mx.gpu)
        total = total + mx.sum(mx.where(mx.abs(out) < 1e6, out, 0.0))
        n += 1
    mx.eval(total)
print(f"{n} kernel launches, checksum {total.item():.6g}")
