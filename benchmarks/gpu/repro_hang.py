"""Does MLX alone hang the way the GPU test suite did? (benchmarks/gpu/LOG.md)

Each trial is a fresh process that mimics the suite: GPU work early (as an
import would), GPU arrays created and dropped unevaluated (as test collection
did), then one GPU evaluation read back with numpy. A trial that does not
finish within --timeout seconds counts as a hang.

    python3 benchmarks/gpu/repro_hang.py --trials 10
Variants: mlx (MLX only), import (also imports mlx_sched), ours (the first
evaluation is an mlx_sched kernel).
"""

import argparse
import subprocess
import sys

TRIAL = r"""
import sys
import mlx.core as mx
import numpy as np
variant = sys.argv[1]
if variant != "mlx":
    import mlx_sched as ms
x = mx.arange(8, dtype=mx.int32)                     # GPU work early
mx.eval(mx.sin(mx.cos(x.astype(mx.float32), stream=mx.gpu), stream=mx.cpu))
for _ in range(50):                                   # what collection did
    a = mx.arange(-300, 20_000, dtype=mx.int32)
    b = mx.array(np.arange(300)).astype(mx.bfloat16)
    c = mx.arange(0, 30_000, dtype=mx.int32).reshape(100, 300)[::3, ::-2].T
    del a, b, c
steps = mx.arange(-300, 20_000, dtype=mx.int32)
mx.eval(steps)
if variant == "ours":
    out = ms.cosine_decay(1e-3, 10_000, 1e-5)(steps, stream=mx.gpu)
else:
    out = mx.cos(steps.astype(mx.float32) * 1e-3, stream=mx.gpu)
mx.eval(out)
print(float(np.asarray(out)[0]))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--variants", default="mlx,import,ours")
    a = p.parse_args()
    for variant in a.variants.split(","):
        hung = failed = 0
        for _ in range(a.trials):
            try:
                r = subprocess.run([sys.executable, "-c", TRIAL, variant], capture_output=True, text=True, timeout=a.timeout)
                failed += r.returncode != 0
            except subprocess.TimeoutExpired:
                hung += 1
        print(f"{variant}: {hung} of {a.trials} hung, {failed} failed", flush=True)


if __name__ == "__main__":
    main()
