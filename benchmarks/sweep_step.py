"""The optimizer step alone of a sweep: one member-batched AdamW
(member_axis=0) over G stacked models against G mlx.optimizers.AdamW (eager,
and each under mx.compile), the models of python/mlx_sched/examples/sweep.py
(16-64-64-1 MLPs) or wider ones. Gradients are fixed; a timed call is one
step of all G members, finished with mx.eval. Contestants alternate within
each repeat (load changes hit them alike); best and median of the repeats.

    python benchmarks/sweep_step.py [--members 64] [--width 64] [--repeats 7] [--device cpu|gpu]
"""

from __future__ import annotations

import argparse
import statistics
import time

import mlx.core as mx
import mlx.optimizers as optim

import mlx_sched as ms
from mlx_sched.optimizers import AdamW


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--members", type=int, default=64)
    p.add_argument("--width", type=int, default=64)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--steps", type=int, default=20, help="steps per timed repeat")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None)
    a = p.parse_args()
    if a.device:
        mx.set_default_device(mx.cpu if a.device == "cpu" else mx.gpu)
    G, W = a.members, a.width
    shapes = {"w1": (16, W), "b1": (W,), "w2": (W, W), "b2": (W,), "w3": (W, 1), "b3": (1,)}
    lr = ms.warmup_cosine_decay(0.0, [1e-3 * (1 + m % 8) for m in range(G)], 10, 1000)
    wd = [0.01 * (m % 4) for m in range(G)]
    mx.random.seed(0)
    stacked = {k: mx.random.normal((G,) + s) * 0.1 for k, s in shapes.items()}
    grads = {k: mx.random.normal((G,) + s) * 1e-3 for k, s in shapes.items()}
    mx.eval(stacked, grads)

    fused = AdamW(lr, weight_decay=wd, member_axis=0)
    fstate = [stacked, fused.state]

    def fused_step() -> None:
        fstate[0] = fused.apply_gradients(grads, fstate[0])
        fstate[1] = fused.state

    fused_c = mx.compile(fused_step, inputs=fstate, outputs=fstate)

    loop = [optim.AdamW(lr[m], weight_decay=wd[m]) for m in range(G)]
    lparams = [{k: v[m] for k, v in stacked.items()} for m in range(G)]
    lgrads = [{k: v[m] for k, v in grads.items()} for m in range(G)]
    mx.eval(lparams, lgrads)
    lstate = [lparams, [o.state for o in loop]]

    def make(m: int):  # one model's step (compiled: its state in and out)
        box = [lstate[0][m], loop[m].state]

        def step() -> None:
            box[0] = loop[m].apply_gradients(lgrads[m], box[0])
            box[1] = loop[m].state

        return step, mx.compile(step, inputs=box, outputs=box), box

    per_model = [make(m) for m in range(G)]
    runs = {
        "mlx_sched member-batched AdamW, mx.compile": lambda: (fused_c(), mx.eval(fstate)),
        "mlx_sched member-batched AdamW, eager": lambda: (fused_step(), mx.eval(fstate)),
        "G x mlx.optimizers.AdamW, mx.compile": lambda: ([c() for _, c, _ in per_model], mx.eval([b for *_, b in per_model])),
        "G x mlx.optimizers.AdamW, eager": lambda: ([s() for s, _, _ in per_model], mx.eval([b for *_, b in per_model])),
    }
    for f in runs.values():  # warm-up: traces, compiles, first allocations
        for _ in range(3):
            f()
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(a.repeats):
        for name, f in runs.items():
            t = time.perf_counter()
            for _ in range(a.steps):
                f()
            times[name].append((time.perf_counter() - t) / a.steps * 1e3)
    print(f"{G} members, {sum(v.size for v in stacked.values()) // G} parameters each, device {mx.default_device()}, "
          f"ms per step of all members (best / median of {a.repeats} x {a.steps} steps)")
    base = min(times["mlx_sched member-batched AdamW, mx.compile"])
    for name, t in times.items():
        print(f"  {name:45s} {min(t):8.3f} {statistics.median(t):8.3f}   x{min(t) / base:6.1f}")


if __name__ == "__main__":
    main()
