"""The schedule families against float64 oracles written from their references'
formulas; in batches, stacks, range mode and joins; specs; bad arguments."""

import math
import os
import re

import mlx.core as mx
import numpy as np
import pytest

import mlx_sched as ms
from families_oracle import CASES
from mlx_sched._spec import parse
from helpers import assert_close

IDS = sorted(CASES)


def _steps(seed=0):
    rng = np.random.default_rng(seed)
    giant = rng.integers(0, 2**53, 300).tolist() + [2**53, 2**62, 2**62 + 12345]
    return list(range(-40, 3200)) + rng.integers(3200, 10**7, 300).tolist() + giant


def _ref(oracle, steps):
    return np.array([oracle(s) for s in steps], np.float64)


@pytest.mark.parametrize("cid", IDS)
def test_matches_oracle(cid):
    build, oracle, sc = CASES[cid]
    steps = _steps()
    ours = np.array(build()(mx.array(np.array(steps, np.int64))))
    assert_close(ours, _ref(oracle, steps), sc, rtol=1e-5, atol_rel=1e-6)


@pytest.mark.parametrize("cid", IDS)
def test_range_mode_and_dtypes_agree(cid):
    s = CASES[cid][0]()
    for start in (-100, 0, 2**40 - 77):
        rng = mx.arange(start, start + 9000, dtype=mx.int64)
        np.testing.assert_array_equal(np.array(s.values(9000, start)), np.array(s(rng)))
    small = np.arange(0, 3000)
    np.testing.assert_array_equal(np.array(s(mx.array(small.astype(np.int32)))), np.array(s(mx.array(small.astype(np.float32)))))


@pytest.mark.parametrize("cid", IDS)
def test_stack_join_and_spec(cid):
    build, oracle, sc = CASES[cid]
    s = build()
    steps = list(range(0, 2500, 7)) + [10**9]
    arr = mx.array(np.array(steps, np.int64))
    # in a stack, each row is the schedule alone
    st = ms.stack([ms.cosine_decay(1.0, 100), s, s])
    out = np.array(st(arr))
    np.testing.assert_array_equal(out[1], np.array(s(arr)))
    np.testing.assert_array_equal(out[2], out[1])
    # as a join piece: shifted by the boundary
    j = ms.join_schedules([ms.linear_schedule(0.0, 1.0, 50), s], [50])
    jv = np.array(j(mx.array(np.array([x + 50 for x in steps], np.int64))))
    np.testing.assert_array_equal(jv, np.array(s(arr)))
    # spec and repr rebuild the same program
    again = ms.from_dict(s.to_dict())
    np.testing.assert_array_equal(np.array(again.program), np.array(s.program))
    import json

    assert ms.from_dict(json.loads(json.dumps(s.to_dict()))).to_dict() == s.to_dict()
    text = repr(s).removeprefix("mlx_sched.")
    np.testing.assert_array_equal(np.array(parse(text, ms).program), np.array(s.program))


BATCHES = [
    (lambda: ms.polynomial_decay([1.0, 2.0], 0.0, [1.0, 3.0], [100, 200]), lambda: [ms.polynomial_decay(1.0, 0.0, 1.0, 100), ms.polynomial_decay(2.0, 0.0, 3.0, 200)]),
    (lambda: ms.warmup_cosine_decay(0.0, [1.0, 2.0, 3.0], [0, 10, 20], [100, 200, 300]),
     lambda: [ms.warmup_cosine_decay(0.0, p, w, d) for p, w, d in [(1.0, 0, 100), (2.0, 10, 200), (3.0, 20, 300)]]),
    (lambda: ms.cyclic(0.1, 1.0, [10, 20], mode="triangular2"), lambda: [ms.cyclic(0.1, 1.0, 10, mode="triangular2"), ms.cyclic(0.1, 1.0, 20, mode="triangular2")]),
    (lambda: ms.cosine_restarts([1.0, 0.5], [7, 9], 2), lambda: [ms.cosine_restarts(1.0, 7, 2), ms.cosine_restarts(0.5, 9, 2)]),
    (lambda: ms.exponential_decay([1.0, 2.0], 0.5, transition_steps=[3, 5], end=[0.1, 0.2]),
     lambda: [ms.exponential_decay(1.0, 0.5, transition_steps=3, end=0.1), ms.exponential_decay(2.0, 0.5, transition_steps=5, end=0.2)]),
    (lambda: ms.onecycle(300, [1.0, 2.0]), lambda: [ms.onecycle(300, 1.0), ms.onecycle(300, 2.0)]),
    (lambda: ms.onecycle_momentum(300, base_momentum=[0.8, 0.85], max_momentum=(0.9, 0.95), three_phase=True),
     lambda: [ms.onecycle_momentum(300, base_momentum=b, max_momentum=m, three_phase=True) for b, m in [(0.8, 0.9), (0.85, 0.95)]]),
    (lambda: ms.cyclic_momentum(0.8, [0.9, 0.95, 0.99], np.array([10, 20, 7]), mode="exp_range", gamma=[0.999, 0.99, 0.9]),
     lambda: [ms.cyclic_momentum(0.8, m, u, mode="exp_range", gamma=g) for m, u, g in [(0.9, 10, 0.999), (0.95, 20, 0.99), (0.99, 7, 0.9)]]),
    (lambda: ms.warmup_stable_decay(1.0, [10, 20], 30, [40, 0]), lambda: [ms.warmup_stable_decay(1.0, 10, 30, 40), ms.warmup_stable_decay(1.0, 20, 30, 0)]),
    (lambda: ms.grid(ms.inverse_sqrt, init=[1.0, 2.0], warmup_steps=[0, 100]),
     lambda: [ms.inverse_sqrt(i, w) for i in (1.0, 2.0) for w in (0, 100)]),
    (lambda: ms.grid(ms.piecewise_interpolate, kind=["linear", "cosine"], init=1.0, boundaries_and_scales={10: 0.5}),
     lambda: [ms.piecewise_interpolate(k, 1.0, {10: 0.5}) for k in ("linear", "cosine")]),
]


@pytest.mark.parametrize("k", range(len(BATCHES)))
def test_batches_sweep_every_argument(k):
    batch, singles = BATCHES[k][0](), BATCHES[k][1]()
    assert batch.batched and len(batch) == len(singles)
    out = np.array(batch.values(5000, -10))
    for g, s in enumerate(singles):
        np.testing.assert_array_equal(out[g], np.array(s.values(5000, -10)))


def test_exponential_keeps_mlx_semantics_without_keywords():
    import mlx.optimizers as optim

    steps = mx.arange(-20, 50)
    np.testing.assert_allclose(np.array(ms.exponential_decay(0.1, 0.9)(steps)), np.array(optim.exponential_decay(0.1, 0.9)(steps)), rtol=1e-5)
    # optax: held at init before begin (also for negative steps)
    v = np.array(ms.exponential_decay(0.1, 0.9, begin=0, transition_steps=2)(steps))
    assert (v[:21] == np.float32(0.1)).all()


def test_docstring_examples():
    import doctest

    from mlx_sched import _families, _schedules

    for mod in (_families, _schedules):
        r = doctest.testmod(mod, extraglobs={"mlx_sched": ms}, optionflags=doctest.ELLIPSIS)
        assert r.failed == 0 and r.attempted > 0


def test_every_family_exported_and_parsable():
    from mlx_sched._families import FAMILIES

    for name in FAMILIES:
        assert getattr(ms, name) is FAMILIES[name] and name in ms.__all__


BAD = [
    (lambda: ms.constant(float("nan")), ValueError, "value must be finite"),
    (lambda: ms.constant("a"), TypeError, "value must be a real number"),
    (lambda: ms.exponential_decay(1.0, 0.0, staircase=True), ValueError, "decay_rate must be > 0"),
    (lambda: ms.exponential_decay(1.0, 0.5, transition_steps=0), ValueError, "transition_steps must be greater than 0"),
    (lambda: ms.exponential_decay(1.0, 0.5, begin=-1), ValueError, "begin must be >= 0"),
    (lambda: ms.exponential_decay(1.0, 0.5, staircase=1), TypeError, "staircase must be a bool"),
    (lambda: ms.exponential_decay(1.0, 0.5, end=float("inf")), ValueError, "end must be finite"),
    (lambda: ms.polynomial_decay(1.0, 0.0, 0.0, 10), ValueError, "power must be > 0"),
    (lambda: ms.polynomial_decay(1.0, 0.0, 1.0, 0), ValueError, "steps must be greater than 0"),
    (lambda: ms.polynomial_decay(1.0, 0.0, 1.0, 10.5), ValueError, "steps must be an integer"),
    (lambda: ms.piecewise_constant(1.0, {10: -0.1}), ValueError, "expects non-negative scale factors"),
    (lambda: ms.piecewise_constant(1.0, [(10, 0.1), (10, 0.2)]), ValueError, "repeated boundary"),
    (lambda: ms.piecewise_constant(1.0, 5), TypeError, "boundaries_and_scales must be a dict"),
    (lambda: ms.piecewise_interpolate("cubic", 1.0, {1: 2.0}), ValueError, "kind must be one of 'linear', 'cosine'"),
    (lambda: ms.piecewise_interpolate("linear", 1.0, {-1: 2.0}), ValueError, "boundary must be >= 0"),
    (lambda: ms.multistep_decay(0.1, 30), TypeError, "milestones must be a list"),
    (lambda: ms.multistep_decay(0.1, [30, -1]), ValueError, r"milestones\[1\] must be >= 0"),
    (lambda: ms.warmup_constant(0.0, 1.0, -5), ValueError, "warmup_steps must be >= 0"),
    (lambda: ms.warmup_cosine_decay(0.0, 1.0, 100, 100), ValueError, "decay_steps must be greater than warmup_steps"),
    (lambda: ms.warmup_cosine_decay(0.0, 1.0, 10, 100, exponent=-1.0), ValueError, "exponent must be > 0"),
    (lambda: ms.warmup_exponential_decay(0.0, 1.0, 10, 10, -0.5), ValueError, "decay_rate must be > 0"),
    (lambda: ms.cosine_restarts(1.0, 0), ValueError, "period must be greater than 0"),
    (lambda: ms.cosine_restarts(1.0, 10, t_mult=1.5), ValueError, "Expected integer t_mult >= 1"),
    (lambda: ms.cosine_restarts(1.0, 10, t_mult=0), ValueError, "Expected integer t_mult >= 1"),
    (lambda: ms.sgdr([]), ValueError, "cosine_kwargs must be a non-empty list"),
    (lambda: ms.sgdr([dict(init=0.0, peak=1.0, warmup_steps=1, decay_steps=10, bogus=1)]), TypeError, r"cosine_kwargs\[0\]"),
    (lambda: ms.linear_onecycle(0, 1.0), ValueError, "transition_steps must be greater than 0"),
    (lambda: ms.cosine_onecycle(100, 1.0, pct_start=1.5), ValueError, r"pct_start must be in \[0, 1\]"),
    (lambda: ms.onecycle(0, 1.0), ValueError, "Expected positive integer total_steps"),
    (lambda: ms.onecycle(100, 1.0, pct_start=-0.1), ValueError, "Expected float between 0 and 1 pct_start"),
    (lambda: ms.onecycle(100, 1.0, anneal="exp"), ValueError, "anneal_strategy must be one of 'cos' or 'linear'"),
    (lambda: ms.onecycle(10, 1.0, pct_start=0.1), ValueError, "phase 1 has zero length"),
    (lambda: ms.onecycle(100, 1.0, div_factor=0), ValueError, "div_factor must be > 0"),
    (lambda: ms.cyclic(0.1, 1.0, mode="sine"), ValueError, "mode must be one of"),
    (lambda: ms.cyclic(0.1, 1.0, 0), ValueError, "step_size_up must be greater than 0"),
    (lambda: ms.cyclic(0.1, 1.0, 10, gamma=0.0), ValueError, "gamma must be > 0"),
    (lambda: ms.onecycle_momentum(0), ValueError, "Expected positive integer total_steps"),
    (lambda: ms.onecycle_momentum(10.0), ValueError, "Expected positive integer total_steps"),
    (lambda: ms.onecycle_momentum(), ValueError, r"either total_steps OR \(epochs AND steps_per_epoch\)"),
    (lambda: ms.onecycle_momentum(epochs=2, steps_per_epoch=0), ValueError, "Expected positive integer steps_per_epoch"),
    (lambda: ms.onecycle_momentum(2**62), ValueError, "total_steps must be less than 2\\*\\*62"),
    (lambda: ms.onecycle_momentum(100, pct_start=1.5), ValueError, "Expected float between 0 and 1 pct_start"),
    (lambda: ms.onecycle_momentum(100, anneal="exp"), ValueError, "anneal_strategy must be one of 'cos' or 'linear'"),
    (lambda: ms.onecycle_momentum(10, pct_start=0.1), ValueError, "onecycle_momentum phase 1 has zero length"),
    (lambda: ms.onecycle_momentum(100, base_momentum="0.8"), TypeError, "base_momentum must be a real number"),
    (lambda: ms.onecycle_momentum(100, max_momentum=float("nan")), ValueError, "max_momentum must be finite"),
    (lambda: ms.onecycle_momentum(100, three_phase=1), TypeError, "three_phase must be a bool"),
    (lambda: ms.onecycle_momentum(100, base_momentum=[0.8, 0.85], max_momentum=[0.9, 0.95, 0.99]), ValueError, "batch sizes differ"),
    (lambda: ms.cyclic_momentum(mode="sine"), ValueError, "mode must be one of"),
    (lambda: ms.cyclic_momentum(0.8, 0.9, 0), ValueError, "step_size_up must be greater than 0"),
    (lambda: ms.cyclic_momentum(0.8, 0.9, 10, 2.5), ValueError, "step_size_down must be an integer"),
    (lambda: ms.cyclic_momentum(0.8, 0.9, 10, gamma=-1.0), ValueError, "gamma must be > 0"),
    (lambda: ms.cyclic_momentum(None, 0.9), TypeError, "base_momentum must be a real number"),
    (lambda: ms.cyclic_momentum(0.8, [[0.9]]), ValueError, "max_momentum must be a scalar or 1-D"),
    (lambda: ms.get_schedule("cyclic_momentum", base_lr=0.1, max_lr=1.0, cycle_momentum=False), ValueError, "cycle_momentum=False"),
    (lambda: ms.get_schedule("onecycle_momentum", max_lr=1.0, total_steps=100, cycle_momentum=False), ValueError, "cycle_momentum=False"),
    (lambda: ms.get_schedule("cyclic_momentum", base_lr=0.1, max_lr=1.0, scale_fn=abs), TypeError, "scale_fn"),
    (lambda: ms.get_schedule("cyclic_momentum", base_lr=0.1, bogus=1), TypeError, "cyclic_momentum got an unexpected keyword argument 'bogus'"),
    (lambda: ms.get_schedule("onecycle_momentum", max_lr=1.0, total_steps=100, bogus=1), TypeError,
     "onecycle_momentum got an unexpected keyword argument 'bogus'"),
    (lambda: ms.get_schedule("onecycle_momentum", max_lr=1.0, total_steps=100, anneal_strategy="exp"), ValueError,
     "anneal_strategy must be one of"),
    (lambda: ms.inverse_sqrt(1.0, 10, timescale=0), ValueError, "timescale must be greater than 0"),
    (lambda: ms.warmup_stable_decay(1.0, 10, 10, 10, min_ratio=-0.5), ValueError, "min_ratio must be >= 0"),
    (lambda: ms.warmup_stable_decay(1.0, 10, 10, 10, decay_type="exp"), ValueError, "decay_type must be one of"),
    (lambda: ms.cosine_with_min_lr(1.0, 100, 100, 0.0), ValueError, "total_steps must be greater than warmup_steps"),
    (lambda: ms.cosine_with_min_lr(0.0, 10, 100, 0.0), ValueError, "init must be > 0"),
    (lambda: ms.cosine_with_min_lr(1.0, 10, 100, [0.0, 0.1, 0.2]) and ms.cosine_with_min_lr([1.0, 2.0], 10, 100, [0.0, 0.1, 0.2]),
     ValueError, "batch sizes differ"),
]


@pytest.mark.parametrize("k", range(len(BAD)))
def test_bad_arguments(k):
    call, exc, msg = BAD[k]
    with pytest.raises(exc, match=msg):
        call()


def test_giant_steps_stay_finite_and_exact_where_defined():
    steps = mx.array(np.array([0, 2**31, 2**53, 2**62, 2**63 - 1], np.int64))
    for cid in IDS:
        v = np.array(CASES[cid][0]()(steps))
        assert np.isfinite(v).all(), cid
    # a restart period that divides 2^53: the cosine is back at its start there
    assert float(ms.cosine_restarts(1.0, 2**20, end=0.5)(mx.array(2**53, mx.int64))) == 1.0
    assert math.isclose(float(ms.cyclic(0.0, 1.0, 2**40)(mx.array(2**52 + 2**39, mx.int64))), 0.5, rel_tol=1e-7)
    assert re.match(r"mlx_sched\.cyclic\(", repr(ms.cyclic(0.0, 1.0, 5)))


# ----------------------------------------------------------------- fuzzing
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import families_oracle as fo  # noqa: E402

_count = st.integers(1, 10**6)
_count0 = st.integers(0, 10**5)
_val = st.floats(1e-6, 10.0)

FUZZ = {
    "polynomial": st.builds(lambda i, e, p, n, b: (ms.polynomial_decay(i, e, p, n, b), fo.polynomial(i, e, p, n, b), max(i, e)),
                            _val, _val, st.floats(0.1, 8.0), _count, _count0),
    "exp_optax": st.builds(lambda i, r, n, sc, b, e: (ms.exponential_decay(i, r, transition_steps=n, staircase=sc, begin=b, end=e),
                                                      fo.optax_exponential(i, r, n, sc, b, e), max(i, e or 0.0)),
                           _val, st.floats(0.05, 1.5), st.integers(1, 1000), st.booleans(), _count0, st.one_of(st.none(), _val)),
    "warmup_cosine": st.builds(lambda i, p, w, d, e, x: (ms.warmup_cosine_decay(i, p, w, w + d, e, x), fo.warmup_cosine(i, p, w, w + d, e, x), max(i, p, e)),
                               _val, _val, _count0, _count, _val, st.floats(0.2, 5.0)),
    "restarts": st.builds(lambda i, T, m, e: (ms.cosine_restarts(i, T, m, e), fo.restarts(i, T, m, e), max(i, e)),
                          _val, st.integers(1, 10**4), st.integers(1, 4), _val),
    "cyclic": st.builds(lambda b, t, u, d, mode, g: (ms.cyclic(b, t, u, d, mode, g), fo.cyclic(b, t, u, d, mode, g), max(b, t)),
                        _val, _val, st.integers(1, 5000), st.integers(1, 5000), st.sampled_from(["triangular", "triangular2", "exp_range"]),
                        st.floats(0.99, 1.0)),
    "inverse_sqrt": st.builds(lambda i, w, tau: (ms.inverse_sqrt(i, w, tau), fo.inverse_sqrt(i, w, tau), i), _val, _count0, st.one_of(st.none(), _count)),
    "wsd": st.builds(lambda i, w, s, d, r, wt, dt: (ms.warmup_stable_decay(i, w, s, d, r, wt, dt), fo.wsd(i, w, s, d, r, wt, dt), i * max(1.0, r)),
                     _val, _count0, _count0, _count0, st.floats(0.0, 1.0), st.sampled_from(["linear", "cosine", "1-sqrt"]),
                     st.sampled_from(["linear", "cosine", "1-sqrt"])),
    "onecycle": st.builds(lambda T, p, a, three: (ms.onecycle(T, 1.0, p, a, three_phase=three), fo.torch_onecycle(T, 1.0, p, a, three=three), 1.0),
                          st.integers(1, 10**6), st.floats(0.0, 1.0), st.sampled_from(["cos", "linear"]), st.booleans()),
    "onecycle_momentum": st.builds(lambda T, p, a, b, m, three: (ms.onecycle_momentum(T, p, a, b, m, three),
                                                               fo.torch_onecycle_momentum(T, p, a, b, m, three), max(b, m)),
                                   st.integers(2, 10**6), st.floats(0.0, 1.0), st.sampled_from(["cos", "linear"]),
                                   st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.booleans()),
    "cyclic_momentum": st.builds(lambda b, m, u, d, mode, g: (ms.cyclic_momentum(b, m, u, d, mode, g), fo.cyclic_momentum(b, m, u, d, mode, g),
                                                             max(b, m)),
                                 st.floats(0.0, 1.0), st.floats(0.0, 1.0), st.integers(1, 5000), st.integers(1, 5000),
                                 st.sampled_from(["triangular", "triangular2", "exp_range"]), st.floats(0.99, 1.0)),
}


@pytest.mark.parametrize("family", sorted(FUZZ))
@settings(max_examples=int(os.environ.get("MLX_SCHED_FAMILY_FUZZ", "25")), deadline=None)
@given(data=st.data())
def test_random_parameters_match_the_oracle(family, data):
    try:
        sched, oracle, sc = data.draw(FUZZ[family])
    except ValueError:  # e.g. a zero-length onecycle phase: rejected by design
        return
    steps = data.draw(st.lists(st.one_of(st.integers(-100, 10**7), st.integers(0, 2**53)), min_size=1, max_size=30))
    steps += [0, 1, 2]
    ours = np.array(sched(mx.array(np.array(steps, np.int64))))
    assert_close(ours, _ref(oracle, steps), sc, rtol=2e-5, atol_rel=2e-6)
