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
import os
from typing import Any, Callable, List, NoReturn, Optional

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
import mlx_sched as ms
from mlx_sched._spec import SpecError, parse

DEFAULT = "join_schedules([linear_schedule(0.0, 1e-3, 100), cosine_decay(1e-3, 10000, 1e-5)], [100])"


class _Parser(argparse.ArgumentParser):
    """Errors as one line on stderr (``prog: error: argument X: ...``), exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


_SPEC_ERRORS = (SpecError, ValueError, TypeError, OverflowError, RecursionError, MemoryError)


def _schedule_arg(p: _Parser, text: str) -> ms.Schedule:
    """The SPEC argument as a schedule, or a one-line error naming it."""
    try:
        sched = parse(text, ms)
    except _SPEC_ERRORS as e:
        p.error(f"argument SPEC: bad schedule: {e}")
    if not isinstance(sched, ms.Schedule):
        p.error(f"argument SPEC: {text.strip()[:60]!r} is not a schedule (write a factory call, e.g. \"cosine_decay(1e-3, 1000)\")")
    return sched


def _progress(rows: List[Any]) -> Any:
    """A progress bar on terminals when tqdm is installed (the ``progress`` extra), else the rows."""
    try:
        from tqdm import tqdm
    except ImportError:
        return rows
    return tqdm(rows, desc="timing", unit="case", disable=None, leave=False)


def _int_in(p: _Parser, name: str, v: int, lo: int, hi: int) -> int:
    if not lo <= v <= hi:
        p.error(f"argument {name}: must be in [{lo}, {hi}], but got {v}")
    return v


def _best_ms(fn: Callable[[], Any], repeat: int) -> float:
    fn()  # warm up (and compile)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3


def plot_main(argv: List[str]) -> int:
    p = _Parser(prog="python -m mlx_sched plot", description="Write a PNG of a schedule (needs mlx-sched[plot]).")
    p.add_argument("spec", metavar="SPEC", help="a schedule in factory-call syntax, e.g. \"cosine_decay(1e-3, 1000)\" or a grid(...)")
    p.add_argument("--steps", type=int, default=1000, help="number of steps drawn, 1 to 10**7 (default: %(default)s)")
    p.add_argument("--start", type=int, default=0, help="first step (default: %(default)s)")
    p.add_argument("-o", "--output", default="lr.png", help="PNG file to write (default: %(default)s)")
    p.add_argument("--size", default="800x500", help="image size in pixels, WxH, each 50 to 10000 (default: %(default)s)")
    a = p.parse_args(argv)
    try:
        w, h = (int(x) for x in a.size.lower().split("x"))
    except ValueError:
        p.error(f"argument --size: must be WIDTHxHEIGHT in pixels, got {a.size!r}")
    if not (50 <= w <= 10_000 and 50 <= h <= 10_000):
        p.error(f"argument --size: width and height must be 50 to 10000 pixels, got {a.size!r}")
    _int_in(p, "--steps", a.steps, 1, 10_000_000)
    _int_in(p, "--start", a.start, -(2**63), 2**63 - a.steps)
    out = a.output
    folder = os.path.dirname(out) or "."
    if out.endswith(("/", os.sep)) or os.path.isdir(out):
        p.error(f"argument -o/--output: {out!r} is a folder; name the PNG file, e.g. {os.path.join(out, 'lr.png')!r}")
    if not out.lower().endswith(".png"):
        p.error(f"argument -o/--output: the file must end in .png, got {out!r}")
    if not os.path.isdir(folder):
        p.error(f"argument -o/--output: folder {folder!r} does not exist")
    sched = _schedule_arg(p, a.spec)
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
        ax.set_title(repr(sched).removeprefix("mlx_sched.")[:90], fontsize="small")
        fig.tight_layout()
        fig.savefig(out, dpi=dpi)
    except OSError as e:
        p.error(f"argument -o/--output: cannot write {out!r}: {e.strerror or e}")
    except (ValueError, OverflowError) as e:
        p.error(f"argument --steps/--start: {e}")
    finally:
        plt.close(fig)
    print(f"wrote {out} ({w}x{h} px, {a.steps} steps)")
    return 0


def _reference(spec: str, steps: mx.array) -> Optional[np.ndarray]:
    """mlx.optimizers' values for the comparison column, or None where it has
    no such schedule or cannot evaluate it (a batch, a family, an integer
    beyond its dtypes)."""
    try:
        theirs = parse(spec, optim)
        return np.array(theirs(steps), dtype=np.float64)
    except Exception:  # the comparison column is optional: any failure of MLX's omits it
        return None


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["plot"]:
        return plot_main(argv[1:])
    p = _Parser(prog="python -m mlx_sched", description=__doc__.split("\n")[0])
    p.add_argument("spec", metavar="SPEC", nargs="?", default=DEFAULT, help="a schedule in factory-call syntax (default: %(default)s)")
    p.add_argument("--steps", default="0,1,10,100,1000,5000,10000,100000", help="comma-separated steps to print (int64)")
    p.add_argument("--n", type=int, default=1_000_000, help="steps in the timing, 1 to 2**31 - 1 (default: %(default)s)")
    p.add_argument("--repeat", type=int, default=10, help="timing repetitions, best kept, 1 to 10000 (default: %(default)s)")
    p.add_argument("--no-timing", action="store_true", help="print the table only")
    a = p.parse_args(argv)

    try:
        steps = [int(s) for s in a.steps.split(",") if s.strip()]
    except ValueError:
        p.error(f"argument --steps: must be comma-separated integers, got {a.steps!r}")
    if not steps:
        p.error("argument --steps: give at least one step")
    for s in steps:
        if not -(2**63) <= s < 2**63:
            p.error(f"argument --steps: {s} is beyond the int64 range of steps")
    _int_in(p, "--n", a.n, 1, 2**31 - 1)
    _int_in(p, "--repeat", a.repeat, 1, 10_000)
    ours = _schedule_arg(p, a.spec)

    print(f"schedule: {ours!r}")
    if ours.configs:
        for g, c in enumerate(ours.configs):
            print(f"  [{g}] " + ", ".join(f"{k}={v}" for k, v in c.items()))
    print(f"device:   {mx.default_device()}")
    step_arr = mx.array(np.array(steps, np.int64))
    vals = np.array(ours(step_arr))
    ref = None if ours.batched else _reference(a.spec, step_arr)
    head = f"{'step':>12}  {'mlx_sched':>14}"
    print(head + (f"  {'mlx.optimizers':>14}  {'rel. diff':>10}" if ref is not None else ""))
    for k, s in enumerate(steps):
        v = vals[..., k]
        row = f"{s:>12}  {np.array2string(v, precision=7) if v.ndim else f'{float(v):14.7g}':>14}"
        if ref is not None:
            r = float(ref[k])
            with np.errstate(all="ignore"):
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
    if ref is not None:
        theirs = parse(a.spec, optim)
        compiled = mx.compile(theirs)
        rows += [
            ("mlx.optimizers, eager", lambda: mx.eval(theirs(arr))),
            ("mlx.optimizers, mx.compile", lambda: mx.eval(compiled(arr))),
        ]
    print(f"\ntiming, best of {a.repeat}:")
    times = [(label, _best_ms(fn, a.repeat)) for label, fn in _progress(rows)]
    fastest = min(t for _, t in times)
    for label, t in times:
        ratio = f"{t / fastest:8.1f}x the fastest" if fastest > 0 else ""
        print(f"  {label:<44} {t:10.3f} ms  {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
