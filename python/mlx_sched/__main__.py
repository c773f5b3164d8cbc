"""python -m mlx_sched [SPEC]: values of a schedule, and its speed against mlx.optimizers.

Example:
    python -m mlx_sched "join_schedules([linear_schedule(0, 1e-3, 100), cosine_decay(1e-3, 10000)], [100])"
"""

from __future__ import annotations

import argparse
import sys
import time

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np

import mlx_sched as ms
from mlx_sched._spec import SpecError, parse

DEFAULT = "join_schedules([linear_schedule(0.0, 1e-3, 100), cosine_decay(1e-3, 10000, 1e-5)], [100])"


def _best_ms(fn, repeat: int) -> float:
    fn()  # warm up (and compile)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m mlx_sched", description=__doc__.split("\n")[0])
    p.add_argument("spec", nargs="?", default=DEFAULT, help="a schedule in factory-call syntax (default: %(default)s)")
    p.add_argument("--steps", default="0,1,10,100,1000,5000,10000,100000", help="comma-separated steps to print")
    p.add_argument("--n", type=int, default=1_000_000, help="steps in the timing (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=10, help="timing repetitions, best kept (default: %(default)s)")
    p.add_argument("--no-timing", action="store_true", help="print the table only")
    a = p.parse_args(argv)

    try:
        ours = parse(a.spec, ms)
    except (SpecError, ValueError, TypeError) as e:
        p.error(f"bad schedule: {e}")
    try:
        theirs = parse(a.spec, optim)
    except (SpecError, ValueError, TypeError):
        theirs = None  # e.g. batches and stack have no mlx.optimizers equivalent
    try:
        steps = [int(s) for s in a.steps.split(",") if s.strip()]
    except ValueError:
        p.error(f"--steps must be comma-separated integers, got {a.steps!r}")

    print(f"schedule: {ours!r}")
    print(f"device:   {mx.default_device()}")
    step_arr = mx.array(np.array(steps, np.int64))
    vals = np.array(ours(step_arr))
    ref = np.array(theirs(step_arr)) if theirs is not None and not ours.batched else None
    head = f"{'step':>12}  {'mlx_sched':>14}"
    print(head + (f"  {'mlx.optimizers':>14}  {'rel. diff':>10}" if ref is not None else ""))
    for k, s in enumerate(steps):
        v = vals[..., k]
        row = f"{s:>12}  {np.array2string(v, precision=7) if v.ndim else f'{float(v):14.7g}':>14}"
        if ref is not None:
            r = float(ref[k])
            d = abs(float(v) - r) / abs(r) if r else abs(float(v) - r)
            row += f"  {r:14.7g}  {d:10.2e}"
        print(row)

    if a.no_timing:
        return 0
    n = a.n
    arr = mx.arange(n)
    mx.eval(arr)
    rows = [
        (f"mlx_sched, step array ({n} steps)", lambda: mx.eval(ours(arr))),
        (f"mlx_sched, range mode ({n} steps)", lambda: mx.eval(ours.values(n))),
    ]
    if theirs is not None and not ours.batched:
        compiled = mx.compile(theirs)
        rows += [
            ("mlx.optimizers, eager", lambda: mx.eval(theirs(arr))),
            ("mlx.optimizers, mx.compile", lambda: mx.eval(compiled(arr))),
        ]
    print(f"\ntiming, best of {a.repeat}:")
    times = [(label, _best_ms(fn, a.repeat)) for label, fn in rows]
    fastest = min(t for _, t in times)
    for label, t in times:
        print(f"  {label:<44} {t:10.3f} ms  {t / fastest:8.1f}x the fastest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
