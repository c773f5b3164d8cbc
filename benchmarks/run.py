"""mlx-sched benchmarks: one command, a table of ratios, a JSON file.

    python benchmarks/run.py [--quick] [--out benchmarks/results/<device>.json]

Every contestant runs in this one process, side by side, on MLX's default
device, and each time is the best of --repeat runs after a warm-up (which
also compiles). The first-call time of mx.compile is reported on its own.

Memory: glibc returns buffers larger than 32 MiB to the OS when they are
freed, so every new 40 MB output would be paid in page faults (~15 ms here),
by MLX and by us alike. Unless --no-malloc-tuning, the runner asks glibc to
keep such buffers (mallopt), so all contestants measure computation; the
JSON records which was used.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import sys
import time

import numpy as np


def tune_malloc() -> bool:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    return bool(libc.mallopt(M_MMAP_THRESHOLD, 1 << 30) and libc.mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1))


def best_ms(fn, repeat):
    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1e3
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best * 1e3, first


def device_name(mx):
    dev = mx.default_device()
    if dev.type == mx.gpu and mx.cuda.is_available():
        try:
            import subprocess

            name = subprocess.run(
                ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True
            ).stdout.strip().splitlines()[0]
            return f"cuda: {name}"
        except Exception:  # noqa: BLE001
            return "cuda"
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"cpu: {cpu}, {os.cpu_count()} cores"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=10_000_000, help="steps of the long cases")
    p.add_argument("--sweep", default="1024x4096", help="members x steps of the heterogeneous sweep")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="small sizes, 3 repeats (a smoke test)")
    p.add_argument("--no-malloc-tuning", action="store_true")
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/<backend>.json)")
    a = p.parse_args(argv)
    if a.quick:
        a.n, a.sweep, a.repeat = 100_000, "64x512", 3
    malloc_tuned = False if a.no_malloc_tuning else tune_malloc()

    import mlx.core as mx
    import mlx.optimizers as optim

    import mlx_sched as ms

    G, S = (int(x) for x in a.sweep.split("x"))
    N = a.n
    rows = []

    def case(name, contestants, goals=()):
        res = {}
        for label, fn in contestants:
            best, first = best_ms(fn, a.repeat)
            res[label] = {"ms": best, "first_call_ms": first}
        rows.append({"case": name, "results": res, "goals": list(goals)})

    steps = mx.arange(N)
    mx.eval(steps)
    for name, make in [
        ("cosine", lambda m: m.cosine_decay(1e-3, N, 1e-5)),
        ("warmup+cosine join", lambda m: m.join_schedules([m.linear_schedule(0.0, 1e-3, 1000), m.cosine_decay(1e-3, N, 1e-5)], [1000])),
    ]:
        ours, theirs = make(ms), make(optim)
        compiled = mx.compile(theirs)
        case(
            f"{name}, {N:.0e} steps",
            [
                ("mlx_sched range mode", lambda: mx.eval(ours.values(N))),
                ("mlx_sched step array", lambda: mx.eval(ours(steps))),
                ("mlx.optimizers eager", lambda: mx.eval(theirs(steps))),
                ("mlx.optimizers mx.compile", lambda: mx.eval(compiled(steps))),
            ],
            goals=[
                ("mlx_sched range mode", "mlx.optimizers eager", 50),
                ("mlx_sched range mode", "mlx.optimizers mx.compile", 40),
                ("mlx_sched step array", "mlx.optimizers eager", 25),
            ],
        )

    out = np.empty(N, np.float32)
    case(
        f"physical limit: numpy fill, {N:.0e} float32",
        [
            ("numpy fill (preallocated)", lambda: out.fill(1.0)),
            ("numpy full (new array)", lambda: np.full(N, 1.0, np.float32)),
        ],
    )
    rows[-1]["goals"] = []

    ours = ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000)], [100])
    theirs = optim.join_schedules([optim.linear_schedule(0.0, 1e-3, 100), optim.cosine_decay(1e-3, 10_000)], [100])
    compiled = mx.compile(theirs)
    step = mx.array(123, mx.uint64)
    case(
        "scalar step, 1000 evaluations",
        [
            ("mlx_sched", lambda: [mx.eval(ours(step)) for _ in range(1000)]),
            ("mlx.optimizers eager", lambda: [mx.eval(theirs(step)) for _ in range(1000)]),
            ("mlx.optimizers mx.compile", lambda: [mx.eval(compiled(step)) for _ in range(1000)]),
        ],
        goals=[("mlx_sched", "mlx.optimizers mx.compile", 1)],
    )

    rng = np.random.default_rng(0)
    peaks = rng.uniform(1e-4, 1e-2, G).tolist()
    warm = rng.integers(10, S // 4, G).tolist()
    decay = rng.integers(S // 2, 4 * S, G).tolist()
    kinds = rng.integers(0, 3, G).tolist()

    def member(m, g):
        tail = [m.cosine_decay(peaks[g], decay[g], 1e-6), m.exponential_decay(peaks[g], 0.999), m.step_decay(peaks[g], 0.5, 500)][kinds[g]]
        return m.join_schedules([m.linear_schedule(0.0, peaks[g], warm[g]), tail], [warm[g]])

    sweep = ms.stack([member(ms, g) for g in range(G)])
    loop = [member(optim, g) for g in range(G)]
    sweep_steps = mx.arange(S)
    mx.eval(sweep_steps)
    case(
        f"heterogeneous sweep, {G} x {S}",
        [
            ("mlx_sched range mode", lambda: mx.eval(sweep.values(S))),
            ("mlx_sched step array", lambda: mx.eval(sweep(sweep_steps))),
            ("mlx.optimizers loop, eval each", lambda: [mx.eval(f(sweep_steps)) for f in loop]),
            ("mlx.optimizers loop, one eval", lambda: mx.eval([f(sweep_steps) for f in loop])),
        ],
        goals=[
            ("mlx_sched range mode", "mlx.optimizers loop, eval each", 200),
            ("mlx_sched range mode", "mlx.optimizers loop, one eval", 200),
        ],
    )

    # report
    backend = "cuda" if mx.default_device().type == mx.gpu and mx.cuda.is_available() else "cpu"
    info = {
        "device": device_name(mx),
        "mlx": mx.__version__,
        "mlx_sched": ms.__version__,
        "python": sys.version.split()[0],
        "malloc_tuned": malloc_tuned,
        "repeat": a.repeat,
        "quick": a.quick,
    }
    print(f"# mlx-sched benchmarks on {info['device']} (mlx {info['mlx']}, best of {a.repeat})")
    all_ok = True
    for r in rows:
        print(f"\n{r['case']}")
        res = r["results"]
        fastest = min(v["ms"] for v in res.values())
        for label, v in res.items():
            print(f"  {label:<30} {v['ms']:10.3f} ms   {v['ms'] / fastest:9.1f}x the fastest")
        checks = []
        for fast, slow, goal in r["goals"]:
            ratio = res[slow]["ms"] / res[fast]["ms"]
            ok = ratio >= goal
            all_ok &= ok
            checks.append({"fast": fast, "slow": slow, "ratio": ratio, "goal": goal, "met": ok})
            print(f"  goal: {fast} >= {goal}x {slow}: {ratio:.1f}x {'met' if ok else 'NOT met'}")
        r["goals"] = checks
    fill = next(r for r in rows if r["case"].startswith("physical"))["results"]["numpy fill (preallocated)"]["ms"]
    cos_range = rows[0]["results"]["mlx_sched range mode"]["ms"]
    half = cos_range <= 2 * fill
    all_ok &= half
    print(f"\ngoal: cosine range mode at least half the speed of the numpy fill: {fill / cos_range:.2f}x the fill's speed {'met' if half else 'NOT met'}")
    info["range_vs_fill_speed"] = fill / cos_range
    path = a.out or os.path.join(os.path.dirname(__file__), "results", f"{backend}{'-quick' if a.quick else ''}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"info": info, "cases": rows}, f, indent=1)
    print(f"\nwrote {path}")
    return 0 if all_ok or a.quick else 1


if __name__ == "__main__":
    sys.exit(main())
