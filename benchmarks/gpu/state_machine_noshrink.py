"""The optimizer state machine (tests/test_optimizer_state_machine.py) without
shrinking, for a GPU where a found failure's shrinking outlasts a call:
each seed runs `--examples` sequences and prints the first failure as found.
Usage: python3 benchmarks/gpu/state_machine_noshrink.py --seeds 0-15 --examples 60"""

import argparse
import os
import subprocess
import sys
import traceback


def one(seed, examples):
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tests"))
    from hypothesis import HealthCheck, Phase, settings
    from hypothesis.stateful import run_state_machine_as_test

    import test_optimizer_state_machine as m

    s = settings(max_examples=examples, stateful_step_count=25, deadline=None, derandomize=False, database=None,
                 phases=[Phase.generate], suppress_health_check=list(HealthCheck), print_blob=True)
    import random

    random.seed(seed)
    try:
        from hypothesis import seed as hseed

        hseed(seed)(lambda: run_state_machine_as_test(m.OptimizerMachine, settings=s))()
        print(f"seed {seed}: {examples} sequences passed")
    except Exception:
        print(f"seed {seed}: FAILED")
        traceback.print_exc()
        sys.exit(1)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", default="0-15")
    p.add_argument("--examples", type=int, default=60)
    p.add_argument("--one", type=int, default=None)
    a = p.parse_args()
    if a.one is not None:
        one(a.one, a.examples)
        sys.exit(0)
    lo, hi = (int(x) for x in a.seeds.split("-"))
    procs = [subprocess.Popen([sys.executable, __file__, "--one", str(k), "--examples", str(a.examples)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for k in range(lo, hi + 1)]
    bad = 0
    for k, pr in zip(range(lo, hi + 1), procs):
        out, _ = pr.communicate()
        if pr.returncode:
            bad += 1
            print(out[-6000:])
        else:
            print(out.strip().splitlines()[-1] if out.strip() else f"seed {k}: no output")
    print(f"{bad} of {hi - lo + 1} seeds failed")
