"""mlx-sched benchmarks: one command, a table of ratios, a JSON file.

    python benchmarks/run.py [--quick] [--suite all|schedules|optimizers] [--out benchmarks/results/<device>.json]

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


def optional_gpu_contestants(on_gpu):
    """torch and optax (under jax.jit) on the same GPU, where installed."""
    if not on_gpu:
        return None, None, None
    try:
        import torch

        torch = torch if torch.cuda.is_available() else None
    except ImportError:
        torch = None
    try:
        import jax
        import optax

        jax = jax if jax.default_backend() == "gpu" else None
    except ImportError:
        jax = optax = None
    return torch, jax, optax


def sync_torch(torch):
    torch.cuda.synchronize()


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
    p.add_argument("--n", type=int, default=None, help="steps of the long cases (CPU 1e7, GPU 1e8)")
    p.add_argument("--sweep", default=None, help="members x steps of the sweep (CPU 1024x4096, GPU 4096x4096)")
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--quick", action="store_true", help="small sizes, 3 repeats (a smoke test)")
    p.add_argument("--no-malloc-tuning", action="store_true")
    p.add_argument("--suite", choices=["all", "schedules", "optimizers"], default="all",
                   help="schedule evaluation cases, optimizer steps (benchmarks/optim_cases.py), or both")
    p.add_argument("--out", default=None, help="JSON path (default: benchmarks/results/<backend>.json)")
    a = p.parse_args(argv)
    malloc_tuned = False if a.no_malloc_tuning else tune_malloc()
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX beside MLX on one GPU

    import mlx.core as mx
    import mlx.optimizers as optim

    import mlx_sched as ms

    on_gpu = mx.default_device().type == mx.gpu
    a.n = a.n or (100_000_000 if on_gpu else 10_000_000)
    a.sweep = a.sweep or ("4096x4096" if on_gpu else "1024x4096")
    if a.quick:
        a.n, a.sweep, a.repeat = 100_000, "64x512", 3
    torch, jax, optax = optional_gpu_contestants(on_gpu)

    G, S = (int(x) for x in a.sweep.split("x"))
    N = a.n
    rows = []

    try:
        from tqdm import tqdm  # optional: pip install "mlx-sched[progress]"

        progress = tqdm(desc="benchmarks", unit="contestant", disable=None)  # on terminals only
    except ImportError:
        class _NoBar:
            def update(self, n=1): pass
            def close(self): pass
            def set_postfix_str(self, *a, **k): pass
            def write(self, s): print(s)
        progress = _NoBar()

    def case(name, contestants, goals=(), holder=None):
        """contestants: (label, fn) or (label, fn, setup, key): setup() runs
        untimed first; holder[key] (its arrays) is dropped afterwards."""
        res = {}
        for label, fn, *rest in contestants:
            progress.set_postfix_str(f"{name}: {label}"[:60])
            progress.update()
            if rest and rest[0] is not None:
                rest[0]()
            best, first = best_ms(fn, a.repeat)
            res[label] = {"ms": best, "first_call_ms": first}
            if rest and rest[1] is not None:
                holder.pop(rest[1], None)
                mx.clear_cache()
        rows.append({"case": name, "results": res, "goals": list(goals)})

    extra = {}
    if a.suite in ("all", "optimizers"):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import optim_cases

        lr_pair = (ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000)], [100]),
                   optim.join_schedules([optim.linear_schedule(0.0, 1e-3, 100), optim.cosine_decay(1e-3, 10_000)], [100]))
        extra = optim_cases.run(case, mx, torch, on_gpu, a.quick, lr_pair)

    if a.suite in ("all", "schedules"):
        steps = mx.arange(N)
        mx.eval(steps)
        for name, make in [
            ("cosine", lambda m: m.cosine_decay(1e-3, N, 1e-5)),
            ("warmup+cosine join", lambda m: m.join_schedules([m.linear_schedule(0.0, 1e-3, 1000), m.cosine_decay(1e-3, N, 1e-5)], [1000])),
        ]:
            ours, theirs = make(ms), make(optim)
            compiled = mx.compile(theirs)
            contestants = [
                ("mlx_sched range mode", lambda: mx.eval(ours.values(N))),
                ("mlx_sched step array", lambda: mx.eval(ours(steps))),
                ("mlx.optimizers eager", lambda: mx.eval(theirs(steps))),
                ("mlx.optimizers mx.compile", lambda: mx.eval(compiled(steps))),
            ]
            if jax is not None and name == "cosine":
                jsched = jax.jit(lambda s: optax.cosine_decay_schedule(1e-3, N, alpha=1e-5 / 1e-3)(s))
                jsteps = jax.numpy.arange(N)
                contestants.append(("optax under jax.jit", lambda: jsched(jsteps).block_until_ready()))
            if torch is not None and name == "cosine":
                tsteps = torch.arange(N, device="cuda")

                def torch_cosine():
                    s = torch.clamp(tsteps, max=N).to(torch.float32)
                    v = 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + torch.cos(torch.pi * s / N))
                    sync_torch(torch)
                    return v

                contestants.append(("torch (formula, eager)", torch_cosine))
            case(
                f"{name}, {N:.0e} steps",
                contestants,
                goals=[("mlx_sched range mode", "mlx.optimizers mx.compile", 2.5)]
                if on_gpu
                else [
                    ("mlx_sched range mode", "mlx.optimizers eager", 50),
                    ("mlx_sched range mode", "mlx.optimizers mx.compile", 40),
                    ("mlx_sched step array", "mlx.optimizers eager", 25),
                ],
            )

        if torch is not None:
            buf = torch.empty(N, dtype=torch.float32, device="cuda")

            def torch_fill():
                buf.fill_(1.0)
                sync_torch(torch)

            case(f"physical limit: write bandwidth, {N:.0e} float32", [
                ("torch fill_ (preallocated)", torch_fill),
                ("mx.full (new array)", lambda: mx.eval(mx.full((N,), 1.0))),
            ])

        if not on_gpu:
            out = np.empty(N, np.float32)
            case(
                f"physical limit: numpy fill, {N:.0e} float32",
                [
                    ("numpy fill (preallocated)", lambda: out.fill(1.0)),
                    ("numpy full (new array)", lambda: np.full(N, 1.0, np.float32)),
                ],
            )

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
            if on_gpu:  # issue 3's sweep: warmup + cosine, every member its own lengths and peak
                tail = m.cosine_decay(peaks[g], decay[g], 1e-6)
            else:
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
                ("mlx_sched range mode", "mlx.optimizers loop, eval each", 5000 if on_gpu else 200),
                ("mlx_sched range mode", "mlx.optimizers loop, one eval", 5000 if on_gpu else 200),
            ],
        )

    # report
    backend = "cuda" if on_gpu and mx.cuda.is_available() else ("metal" if on_gpu else "cpu")
    info = {
        "device": device_name(mx),
        "mlx": mx.__version__,
        "mlx_sched": ms.__version__,
        "python": sys.version.split()[0],
        "malloc_tuned": malloc_tuned,
        "repeat": a.repeat,
        "quick": a.quick,
    }
    progress.close()
    print(f"# mlx-sched benchmarks on {info['device']} (mlx {info['mlx']}, best of {a.repeat})")
    all_ok = True
    for r in rows:
        print(f"\n{r['case']}")
        res = r["results"]
        fastest = min(v["ms"] for v in res.values())
        for label, v in res.items():
            print(f"  {label:<36} {v['ms']:10.3f} ms   {v['ms'] / fastest:9.1f}x the fastest")
        checks = []
        for fast, slow, goal in r["goals"]:
            ratio = res[slow]["ms"] / res[fast]["ms"]
            ok = ratio >= goal
            all_ok &= ok
            checks.append({"fast": fast, "slow": slow, "ratio": ratio, "goal": goal, "met": ok})
            print(f"  goal: {fast} >= {goal}x {slow}: {ratio:.1f}x {'met' if ok else 'NOT met'}")
        r["goals"] = checks
    if "adamw_1b_params" in extra and "copy_bytes" in extra:
        by = {r["case"]: r["results"] for r in rows}
        step = next(v for k, v in by.items() if k.startswith("AdamW step, 1B"))["mlx_sched AdamW (fused)"]["ms"]
        copy = by["physical limit: device copy, 4 GiB float32"]["copy (read + write)"]["ms"]
        fused_bw, copy_bw = 28 * extra["adamw_1b_params"] / step / 1e6, extra["copy_bytes"] / copy / 1e6
        ok = fused_bw >= 0.7 * copy_bw
        all_ok &= ok
        info.update(adamw_1b_GBps=fused_bw, copy_GBps=copy_bw)
        print(f"\ngoal: fused AdamW at 1B parameters >= 70% of the copy bandwidth: {fused_bw:.0f} GB/s of "
              f"{copy_bw:.0f} GB/s = {fused_bw / copy_bw:.0%} {'met' if ok else 'NOT met'}")
    cos_rows = [r for r in rows if r["case"].startswith("cosine")]
    phys = [r for r in rows if r["case"].startswith("physical limit: write") or r["case"].startswith("physical limit: numpy")]
    if phys and cos_rows:
        cos_range = cos_rows[0]["results"]["mlx_sched range mode"]["ms"]
        res = phys[0]["results"]
        fill = (res.get("numpy fill (preallocated)") or res.get("torch fill_ (preallocated)"))["ms"]
        need = 0.8 if on_gpu else 0.5
        ok = fill / cos_range >= need
        all_ok &= ok
        info["range_vs_fill_speed"] = fill / cos_range
        info["range_vs_fill_goal"] = need
        info["write_bandwidth_GBps"] = 4 * N / fill / 1e6
        info["range_mode_GBps"] = 4 * N / cos_range / 1e6
        print(
            f"\ngoal: cosine range mode at {need:.0%} or more of the fill's speed: {fill / cos_range:.2f}x "
            f"({4 * N / cos_range / 1e6:.0f} GB/s vs {4 * N / fill / 1e6:.0f} GB/s) {'met' if ok else 'NOT met'}"
        )
    suffix = "" if a.suite == "all" else f"-{a.suite}"
    path = a.out or os.path.join(os.path.dirname(__file__), "results", f"{backend}{suffix}{'-quick' if a.quick else ''}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump({"info": info, "cases": rows}, f, indent=1)
    print(f"\nwrote {path}")
    return 0 if all_ok or a.quick else 1


if __name__ == "__main__":
    sys.exit(main())
