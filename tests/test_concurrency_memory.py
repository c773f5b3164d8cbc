"""Several Python threads and MLX streams at once; no growth over many evaluations."""

import gc
import os
import resource
import threading

import mlx.core as mx
import numpy as np

from cases import SCHEDULES


def _expected():
    steps = mx.arange(-500, 50_000)
    return {name: np.array(make()(steps, stream=mx.cpu)) for name, make in SCHEDULES.items()}, steps


def test_threads_give_the_same_results_as_sequential():
    expected, steps = _expected()
    scheds = {name: make() for name, make in SCHEDULES.items()}
    errors = []

    def worker(k):
        try:
            for r in range(6):
                name = list(scheds)[(k + r) % len(scheds)]
                out = np.array(scheds[name](steps, stream=mx.cpu))
                if not np.array_equal(out, expected[name], equal_nan=True):
                    errors.append(name)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_several_streams_give_the_same_results():
    expected, steps = _expected()
    streams = [mx.new_stream(mx.cpu) for _ in range(4)]
    outs = {}
    for k, (name, make) in enumerate(SCHEDULES.items()):
        outs[name] = make()(steps, stream=streams[k % len(streams)])
    mx.eval(list(outs.values()))
    for name, out in outs.items():
        np.testing.assert_array_equal(np.array(out), expected[name])


def _rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_no_growth_over_many_evaluations():
    """2e5 evaluations (MLX_SCHED_SLOW=1: the issue's 1e6)."""
    n = 1_000_000 if os.environ.get("MLX_SCHED_SLOW") else 200_000
    s = SCHEDULES["warmup_cosine"]()
    step = mx.array(123, mx.uint64)
    for _ in range(2000):  # warm up caches and allocator pools
        mx.eval(s(step))
    gc.collect()
    active0, rss0 = mx.get_active_memory(), _rss_kb()
    for _ in range(n):
        mx.eval(s(step))
    gc.collect()
    assert mx.get_active_memory() - active0 <= 4096
    if not os.environ.get("MLX_SCHED_SANITIZED"):  # ASan's quarantine holds freed memory
        assert _rss_kb() - rss0 < 16 * 1024  # KiB
