"""Accuracy against the float64 oracle for steps up to 2^53."""

import math

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import mlx_sched as ms
from oracle import build, scale, value, values
from strategies import spec
from helpers import assert_close

big = st.integers(-(2**53), 2**53)


@given(spec(), st.lists(big, min_size=1, max_size=30), st.integers(0, 2**40))
def test_giant_steps_match_float64(s, steps, boundary):
    sched = build(ms, s)
    ours = np.array(sched(mx.array(np.array(steps, np.int64))))
    assert_close(ours, values(s, steps), scale(s), rtol=1e-5, atol_rel=2e-6)


@given(st.floats(1e-3, 10.0), st.integers(1, 2**50), st.floats(0, 1e-3), st.lists(st.integers(0, 2**53), min_size=1, max_size=20))
def test_giant_cosine(init, n, end, steps):
    s = ("cosine", init, n, end)
    steps = steps + [n - 1, n, n + 1, n // 2, n // 3]
    ours = np.array(build(ms, s)(mx.array(np.array(steps, np.int64))))
    ref = values(s, steps)
    # relative to the value itself where the value is well above float32 noise
    assert_close(ours, ref, scale(s), rtol=1e-5, atol_rel=1e-7)


@given(st.floats(0.9, 1.0, exclude_max=True), st.lists(st.integers(0, 2**53), min_size=1, max_size=20))
def test_exponential_is_accurate_at_any_step(rate, steps):
    s = ("exp", 1.0, rate)
    ours = np.array(build(ms, s)(mx.array(np.array(steps, np.int64))))
    ref = values(s, steps)
    ok = (ref < 1e-37) | (np.abs(ours - ref) <= 1e-5 * ref)  # float32 normal range
    assert ok.all(), (ours[~ok], ref[~ok])


def test_uint64_steps_near_the_top():
    s = ms.join_schedules([ms.linear_schedule(0, 1, 10), ms.cosine_decay(1.0, 2**40, 0.25)], [10])
    out = np.array(s(mx.array(np.array([2**63 - 1, 2**63, 2**64 - 1], np.uint64))))
    np.testing.assert_array_equal(out, np.float32(0.25))


def test_mlx_drift_with_a_rate_close_to_one():
    """The README's example: MLX rounds 0.999999 to float32 and drifts."""
    step = 10_000_000
    exact = value(("exp", 1.0, 0.999999), step)  # e^-10.0000005 = 4.539e-5
    ours = ms.exponential_decay(1.0, 0.999999)(mx.array(step, mx.uint64)).item()
    theirs = optim.exponential_decay(1.0, 0.999999)(mx.array(step, mx.uint64)).item()
    assert abs(ours / exact - 1) < 1e-5
    drift = theirs / exact - 1
    assert -0.15 < drift < -0.08, drift  # about -12%


def test_cosine_tail_keeps_relative_precision():
    n = 10**12
    sched = ms.cosine_decay(1.0, n)
    steps = [n - 1, n - 10, n - 1000]
    ours = np.array(sched(mx.array(np.array(steps, np.int64)))).astype(np.float64)
    ref = np.array([math.sin(math.pi * (n - s) / (2 * n)) ** 2 for s in steps])
    np.testing.assert_allclose(ours, ref, rtol=1e-5)
