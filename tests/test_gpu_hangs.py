"""The CUDA backend never hangs or crashes in the patterns that once did
(issue 13; tests/hang_patterns.py), each run in fresh processes, several at
once, with a time limit. Skipped without CUDA: the hang was CUDA's (a device
buffer moved into unified memory by two threads at once).

The GPU machine's stress run (benchmarks/gpu/stress_hang.py) runs the same
patterns 50 times each."""

import concurrent.futures as cf
import subprocess
import sys

import mlx.core as mx
import pytest

from hang_patterns import OURS, PRELUDE

TRIALS = 6
TIMEOUT = 60.0  # a trial takes ~3 s; a hang waits forever


def _trial(body: str) -> str:
    code = PRELUDE + body + "\nprint('ok')\n"
    try:
        r = subprocess.run([sys.executable, "-X", "faulthandler", "-c", code], capture_output=True, text=True,
                           timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"hung (no exit within {TIMEOUT:.0f} s)"
    if r.returncode != 0 or "ok" not in r.stdout:
        return f"exit status {r.returncode}: {r.stderr.strip()[-800:]}"
    return "ok"


@pytest.mark.skipif(not mx.cuda.is_available(), reason="the hang was CUDA's: this MLX has no CUDA backend")
@pytest.mark.parametrize("name", sorted(OURS))
def test_pattern_never_hangs_in_fresh_processes(name):
    with cf.ThreadPoolExecutor(TRIALS) as ex:
        outcomes = list(ex.map(_trial, [OURS[name]] * TRIALS))
    bad = [o for o in outcomes if o != "ok"]
    assert not bad, f"{len(bad)} of {TRIALS} fresh processes: {bad[0]}"


def test_patterns_run_on_the_cpu():
    """The patterns themselves are right (values checked), CPU streams only."""
    body = OURS["gpu_first_cpu_pending"].replace("mx.gpu", "mx.cpu")
    assert _trial(body) == "ok"
