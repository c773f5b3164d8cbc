"""Parity with mlx.optimizers 0.32.4 and a float64 oracle, for steps below 2^24."""

import math

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import mlx_sched as ms
from helpers import assert_close
from oracle import build, scale, values
from strategies import spec

# dtypes mlx.optimizers computes correctly in (narrow integers overflow there:
# int8 minus a boundary of 3000 wraps), compared value for value with MLX.
MLX_DTYPES = [mx.int32, mx.int64, mx.uint32, mx.uint64, mx.float32]
# every other dtype is compared with our own int64 result and the oracle.
OTHER_DTYPES = [mx.int8, mx.int16, mx.uint8, mx.uint16, mx.float16, mx.bfloat16]


def _has_negative_boundary(s):
    return s[0] == "join" and (min(s[2]) < 0 or any(_has_negative_boundary(p) for p in s[1]))


steps_st = st.lists(st.integers(0, 2**24 - 1), min_size=1, max_size=40)


@given(spec(), steps_st, st.sampled_from(MLX_DTYPES), st.booleans())
def test_matches_mlx_optimizers(s, steps, dtype, negative):
    unsigned = dtype in (mx.uint32, mx.uint64)
    if unsigned:
        assume(not _has_negative_boundary(s))
    if negative and not unsigned:
        steps = [-(x % 5000) for x in steps]
    steps = steps + list(range(0, 64))
    step = mx.array(np.array(steps, dtype=np.float32 if dtype == mx.float32 else np.int64)).astype(dtype)
    ours = np.array(build(ms, s)(step))
    theirs = np.array(build(optim, s)(step)).astype(np.float64)
    assert ours.dtype == np.float32 and ours.shape == (len(steps),)
    # MLX rounds a cosine's angle pi * s / n to float32: at negative steps down
    # to -5000 that is up to 2^-24 * pi * 5000 off (ours is checked exactly below).
    assert_close(ours, theirs, scale(s), atol_rel=2.0**-23 * math.pi * 5000 if negative else 3e-6)
    assert_close(ours, values(s, steps), scale(s))


@given(spec(), st.lists(st.integers(0, 127), min_size=1, max_size=40), st.sampled_from(OTHER_DTYPES))
def test_every_step_dtype(s, steps, dtype):
    step = mx.array(np.array(steps)).astype(dtype)
    ours = build(ms, s)(step)
    assert ours.dtype == mx.float32
    exact = build(ms, s)(mx.array(np.array(steps, np.int64)))
    np.testing.assert_array_equal(np.array(ours), np.array(exact))


@given(spec(), st.lists(st.integers(-4000, 4000), min_size=1, max_size=30))
def test_fractional_float_steps(s, halves):
    steps = [h / 2 for h in halves]
    ours = np.array(build(ms, s)(mx.array(np.array(steps, np.float32))))
    assert_close(ours, values(s, steps), scale(s), rtol=1e-5, atol_rel=3e-6)
    # MLX rounds pi * s / n to float32 before its cosine: ~1e-4 off at |s| ~ 2000
    theirs = np.array(build(optim, s)(mx.array(np.array(steps, np.float32)))).astype(np.float64)
    assert_close(ours, theirs, scale(s), rtol=1e-4, atol_rel=1e-3)


def test_python_int_and_float_steps():
    s = ms.cosine_decay(1e-1, 1000)
    r = optim.cosine_decay(1e-1, 1000)
    for step in (0, 5, 999, 1000, 10**6):
        out = s(step)
        assert isinstance(out, mx.array) and out.dtype == mx.float32 and out.shape == ()
        assert_close([out.item()], [float(r(step))], 0.1)
    assert math.isclose(s(2.5).item(), r(mx.array(2.5)).item(), rel_tol=1e-6)
    assert s(2**64 - 1).item() == pytest.approx(0.0)


def test_docstring_examples():
    assert ms.exponential_decay(1e-1, 0.9)(5).item() == pytest.approx(0.059049, rel=1e-5)
    assert ms.step_decay(1e-1, 0.9, 10)(21).item() == pytest.approx(0.081, rel=1e-6)
    assert ms.cosine_decay(1e-1, 1000)(5).item() == pytest.approx(0.0999938, rel=1e-6)
    assert ms.linear_schedule(0, 1e-1, 100)(50).item() == pytest.approx(0.05, rel=1e-6)
    lr = ms.join_schedules([ms.linear_schedule(0, 1e-1, steps=10), ms.cosine_decay(1e-1, 200)], [10])
    assert lr(12).item() == pytest.approx(0.0999753, rel=1e-6)


def test_negative_and_zero_rates_follow_mlx():
    step = mx.array([-3, -1, 0, 1, 2, 5], mx.int32)
    for rate in (-0.5, 0.0, -1.0, 1.0):
        for build_ in (lambda m: m.exponential_decay(0.1, rate), lambda m: m.step_decay(0.1, rate, 2)):
            ours = np.array(build_(ms)(step))
            theirs = np.array(build_(optim)(step))
            np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    # between integers a negative rate has no real power: NaN, as in MLX
    assert math.isnan(ms.exponential_decay(0.1, -0.5)(mx.array(0.5)).item())
