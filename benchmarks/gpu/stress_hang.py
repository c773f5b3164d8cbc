"""Hang and crash stress test for the CUDA backend (issue 13), on the GPU machine.

Each trial is a fresh Python process that runs one pattern (below) once;
trials run PARALLEL at a time. A trial still running after --timeout seconds
counts as a hang: the native stacks of all its threads are recorded with
cuda-gdb (the first --stacks hangs of each pattern), then it is killed. A
trial that dies by a signal counts as a crash (faulthandler's Python stack is
kept). Any other non-zero exit is a failure (its stderr's last line is kept).

    python3 benchmarks/gpu/stress_hang.py --trials 50 --timeout 20 --log LOGFILE [PATTERN ...]

Exit status 1 if any trial hung, crashed or failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests"))
from hang_patterns import PATTERNS, PRELUDE  # noqa: E402

def stacks(pid: int) -> str:
    try:
        r = subprocess.run(
            ["cuda-gdb", "-p", str(pid), "-batch", "-ex", "set pagination off", "-ex", "info threads", "-ex",
             "thread apply all bt 30"],
            capture_output=True, text=True, timeout=60)
        return r.stdout[-60000:] + r.stderr[-2000:]
    except Exception as e:  # noqa: BLE001 - a diagnostic only
        return f"(no stacks: {e})"


def trial(name: str, timeout: float, want_stacks: bool) -> tuple[str, str]:
    code = PRELUDE + PATTERNS[name] + "\nprint('ok')\n"
    if os.environ.get("STRESS_CPU_ONLY"):  # a dry run of the patterns on a machine without a GPU
        code = code.replace("mx.gpu", "mx.cpu")
    p = subprocess.Popen([sys.executable, "-X", "faulthandler", "-c", code], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, cwd="/tmp")
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        st = stacks(p.pid) if want_stacks else ""
        p.kill()
        p.communicate()
        return "hang", st
    if p.returncode < 0:
        return "crash", f"signal {signal.Signals(-p.returncode).name}\n{err[-4000:]}"
    if p.returncode != 0 or "ok" not in out:
        return "fail", err.strip().splitlines()[-1] if err.strip() else f"rc={p.returncode}"
    return "ok", ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("patterns", nargs="*", default=list(PATTERNS))
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--parallel", type=int, default=min(16, os.cpu_count() or 4))
    ap.add_argument("--stacks", type=int, default=1, help="hangs per pattern whose stacks are recorded")
    ap.add_argument("--log", default=None)
    a = ap.parse_args()
    log = open(a.log, "a") if a.log else sys.stdout
    bad = 0
    env_note = " ".join(f"{k}={os.environ[k]}" for k in sorted(os.environ) if k.startswith(("MLX_", "CUDA_")))
    print(f"# {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} trials={a.trials} timeout={a.timeout}s "
          f"parallel={a.parallel} {env_note}", file=log, flush=True)
    for name in a.patterns:
        t0 = time.time()
        counts = {"ok": 0, "hang": 0, "crash": 0, "fail": 0}
        notes = []
        with cf.ThreadPoolExecutor(a.parallel) as ex:
            futs = [ex.submit(trial, name, a.timeout, i < a.stacks * 4) for i in range(a.trials)]
            for f in cf.as_completed(futs):
                kind, note = f.result()
                counts[kind] += 1
                if kind != "ok" and (sum(1 for k, _ in notes if k == kind) < a.stacks or kind == "fail"):
                    notes.append((kind, note))
        line = (f"{name}: {counts['ok']} ok, {counts['hang']} hung, {counts['crash']} crashed, "
                f"{counts['fail']} failed of {a.trials} ({time.time() - t0:.0f} s)")
        print(line, flush=True)
        if log is not sys.stdout:
            print(line, file=log, flush=True)
        for kind, note in notes[:4]:
            print(f"--- {name} {kind}:\n{note}", file=log, flush=True)
        bad += counts["hang"] + counts["crash"] + counts["fail"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
