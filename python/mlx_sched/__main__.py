"""python -m mlx_sched [SPEC]: values of a schedule, and its speed against mlx.optimizers.
python -m mlx_sched plot SPEC --steps N -o lr.png: a picture of it.

Examples:
    python -m mlx_sched "join_schedules([linear_schedule(0, 1e-3, 100), cosine_decay(1e-3, 10000)], [100])"
    python -m mlx_sched "grid(cosine_decay, init=[1e-3, 3e-3], decay_steps=[100, 200])" --no-timing
    python -m mlx_sched plot "onecycle(1000, 1e-3)" --steps 1000 -o lr.png
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Callable, List, Optional

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
from tqdm import tqdm

import mlx_sched as ms
from mlx_sched._spec import SpecError, parse

DEFAULT = "join_schedules([linear_schedule(0.0, 1e-3, 100), cosine_decay(1e-3, 10000, 1e-5)], [100])"


def _best_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm up (and compile)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def plot_main(argv: List[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m mlx_sched plot", description="Write a PNG of a schedule (needs mlx-sched[plot]).")
    p.add_argument("spec", help="a schedule in factory-call syntax, e.g. \"cosine_decay(1e-3, 1000)\" or a grid(...)")
    p.add_argument("--steps", type=int, default=1000, help="number of steps drawn (default: %(default)s)")
    p.add_argument("--start", type=int, default=0, help="first step (default: %(default)s)")
    p.add_argument("-o", "--output", default="lr.png", help="PNG file to write (default: %(default)s)")
    p.add_argument("--size", default="800x500", help="image size in pixels, WxH (default: %(default)s)")
    a = p.parse_args(argv)
    try:
        w, h = (int(x) for x in a.size.lower().split("x"))
    except ValueError:
        p.error(f"--size must be WIDTHxHEIGHT in pixels, got {a.size!r}")
    try:
        sched = parse(a.spec, ms)
    except (SpecError, ValueError, TypeError) as e:
        p.error(f"bad schedule: {e}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        p.error("plotting needs matplotlib: pip install 'mlx-sched[plot]'")
    dpi = 100
    fig, ax = plt.subplots(figsize=(w / dpi, h / dpi), dpi=dpi)
    try:
        sched.plot(a.steps, ax, start=a.start)
    except ValueError as e:
        p.error(str(e))
    ax.set_title(repr(sched).removeprefix("mlx_sched.")[:90], fontsize="small")
    fig.tight_layout()
    fig.savefig(a.output, dpi=dpi)
    plt.close(fig)
    print(f"wrote {a.output} ({w}x{h} px, {a.steps} steps)")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["plot"]:
        return plot_main(argv[1:])
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
    if ours.configs:
        for g, c in enumerate(ours.configs):
            print(f"  [{g}] " + ", ".join(f"{k}={v}" for k, v in c.items()))
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
    bar = tqdm(rows, desc="timing", unit="case", disable=None, leave=False)  # a bar on terminals only
    times = [(label, _best_ms(fn, a.repeat)) for label, fn in bar]
    fastest = min(t for _, t in times)
    for label, t in times:
        print(f"  {label:<44} {t:10.3f} ms  {t / fastest:8.1f}x the fastest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
