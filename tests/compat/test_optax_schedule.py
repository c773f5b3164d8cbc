"""Conformance with optax's own schedule tests, written for mlx-sched.

Mirrors: google-deepmind/optax, optax/schedules/_schedule_test.py at commit
2edbcbe2390da13983b92cbef94ac0460ecde1c5 (the schedule value tests;
ScheduleAsLearningRateTest drives optax's optimizers and is not mirrored).

The code here is mlx-sched's own: no test of optax's is reproduced. Each row
names the optax test (class.test[parameters]) it mirrors, builds our
schedule through `ms.get_schedule` with optax's name and optax's arguments,
and states what that test asserts: the steps, the expected values and
`np.testing.assert_allclose`'s atol/rtol as optax passes them. Expected
values optax writes as numbers are kept as numbers; those it derives from a
formula come from our float64 oracles (tests/oracle.py,
tests/families_oracle.py). optax evaluates under `jax.jit`; every row is
evaluated both through `mx.compile` (all steps as one array) and eagerly
(one step at a time). Where our semantics differ on purpose (README: optax
turns `transition_steps <= 0` and `decay_rate == 0` silently into constants;
mlx-sched raises ValueError) the row is a strict xfail.
"""

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence

import mlx.core as mx
import numpy as np
import pytest

import families_oracle as fo
import mlx_sched as ms
import oracle

PEER = "google-deepmind/optax optax/schedules/_schedule_test.py@2edbcbe2390da13983b92cbef94ac0460ecde1c5"
CONSTANTS = "README: optax turns transition_steps <= 0 and decay_rate == 0 silently into constants; mlx-sched raises ValueError"


@dataclass(frozen=True)
class Row:
    mirrors: str                      # optax's Class.test[parameters]
    name: str                         # optax's schedule name, through ms.get_schedule
    kwargs: Dict[str, Any]            # optax's arguments
    steps: Sequence[int]
    expect: Any                       # numbers, or a float64 oracle: step -> value
    atol: float = 0.0
    rtol: float = 1e-7                # assert_allclose's default where optax gives none
    xfail: Optional[str] = None


def _cos(init, n, end):
    return lambda s: oracle.value(("cosine", init, n, end), s)


R = range
ROWS = [
    Row("ConstantTest.test_constant", "constant_schedule", dict(value=10), R(15), [10.0] * 15, atol=1e-3),
    # PolynomialTest
    Row("PolynomialTest.test_linear", "polynomial_schedule", dict(init_value=10.0, end_value=20.0, power=1, transition_steps=10),
        R(15), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 20, 20, 20, 20], atol=1e-3),
    *[Row(f"PolynomialTest.test_zero_steps_schedule[{n}]", "polynomial_schedule",
          dict(init_value=10.0, end_value=20.0, power=1, transition_steps=n), R(15), [10.0] * 15, rtol=1e-7, xfail=CONSTANTS)
      for n in (-1, 0)],
    Row("PolynomialTest.test_nonlinear", "polynomial_schedule", dict(init_value=25.0, end_value=10.0, power=2, transition_steps=10),
        R(15), fo.polynomial(25.0, 10.0, 2, 10), atol=1e-3),
    Row("PolynomialTest.test_with_decay_begin", "polynomial_schedule",
        dict(init_value=30.0, end_value=10.0, power=2, transition_steps=10, transition_begin=4),
        R(20), fo.polynomial(30.0, 10.0, 2, 10, begin=4), atol=1e-3),
    # PiecewiseConstantTest
    Row("PiecewiseConstantTest.test_positive", "piecewise_constant_schedule", dict(init_value=0.1, boundaries_and_scales={3: 2.0, 6: 0.5}),
        R(10), [0.1, 0.1, 0.1, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1], atol=1e-3),
    Row("PiecewiseConstantTest.test_negative", "piecewise_constant_schedule", dict(init_value=-0.1, boundaries_and_scales={3: 2.0, 6: 0.5}),
        R(10), [-0.1, -0.1, -0.1, -0.2, -0.2, -0.2, -0.1, -0.1, -0.1, -0.1], atol=1e-3),
    # ExponentialTest
    *[Row(f"ExponentialTest.test_constant_schedule[staircase={st}]", "exponential_decay",
          dict(init_value=1.0, transition_steps=15, decay_rate=1.0, staircase=st), R(15), [1.0] * 15, atol=1e-3)
      for st in (False, True)],
    *[Row(f"ExponentialTest.test_nonvalid_transition_steps[staircase={st}, transition_steps={n}]", "exponential_decay",
          dict(init_value=1.0, transition_steps=n, decay_rate=1.0, staircase=st), R(15), [1.0] * 15, xfail=CONSTANTS)
      for st in (False, True) for n in (-1, 0)],
    *[Row(f"ExponentialTest.test_nonvalid_decay_rate[staircase={st}]", "exponential_decay",
          dict(init_value=1.0, transition_steps=2, decay_rate=0.0, staircase=st), R(15), [1.0] * 15, xfail=CONSTANTS)
      for st in (False, True)],
    *[Row(f"ExponentialTest.test_exponential[staircase={st}, transition_begin={b}]", "exponential_decay",
          dict(init_value=1.0, transition_steps=2, decay_rate=2.0, transition_begin=b, staircase=st),
          R(15 + b), fo.optax_exponential(1.0, 2.0, 2, st, b, None), atol=1e-3)
      for st, b in ((False, 0), (True, 0), (False, 5), (True, 5))],
    *[Row(f"ExponentialTest.test_end_value_with_staircase[decay_rate={rate}, end_value={end}, staircase={st}]", "exponential_decay",
          dict(init_value=1.0, transition_steps=2, decay_rate=rate, transition_begin=3, staircase=st, end_value=end),
          R(14), fo.optax_exponential(1.0, rate, 2, st, 3, end), atol=1e-3)
      for st in (False, True) for rate, end in ((0.2, 0.1), (1.0, 0.1), (2.0, 3.0))],
    Row("ExponentialTest.test_immutable_count", "exponential_decay", dict(init_value=32.0, transition_steps=1, decay_rate=0.5),
        R(5), [32, 16, 8, 4, 2], atol=1e-3),
    # CosineDecayTest
    Row("CosineDecayTest.test_decay_count_smaller_count", "cosine_decay_schedule", dict(init_value=0.1, decay_steps=10, alpha=0.0),
        R(10), _cos(0.1, 10, 0.0), atol=1e-3),
    Row("CosineDecayTest.test_decay_count_greater_count", "cosine_decay_schedule", dict(init_value=0.1, decay_steps=5, alpha=0.0),
        R(12), _cos(0.1, 5, 0.0), atol=1e-3),
    Row("CosineDecayTest.test_decay_count_greater_count_with_alpha", "cosine_decay_schedule",
        dict(init_value=0.1, decay_steps=5, alpha=0.1), R(12), _cos(0.1, 5, 0.1 * 0.1), atol=1e-3),
    Row("CosineDecayTest.test_with_exponent", "cosine_decay_schedule", dict(init_value=0.1, decay_steps=100, alpha=0.0, exponent=2),
        [0, 10, 50, 75, 100], [0.1, 0.09516553580760956, 0.025, 0.0021446612663567066, 0.0], atol=1e-8, rtol=1e-6),
    Row("CosineDecayTest.test_with_giant_int_steps", "cosine_decay_schedule",
        dict(init_value=1000.0, decay_steps=int(1e10), alpha=0.0, exponent=1), [int(1e9)], [975.52826]),
    # WarmupCosineDecayTest
    *[Row(f"WarmupCosineDecayTest.test_limits[{label}]", "warmup_cosine_decay_schedule",
          dict(init_value=init, peak_value=peak, warmup_steps=100, decay_steps=1000, end_value=end), [at], [want], rtol=rtol)
      for label, init, peak, end in (("with end value", 10, 0.5, 1e-4), ("without end value", 5, 3, 0.0))
      for at, want, rtol in ((0, init, 1e-7), (100, peak, 1e-7), (1000, end, 1e-3))],
    Row("WarmupCosineDecayTest.test_with_exponent", "warmup_cosine_decay_schedule",
        dict(init_value=0.2, peak_value=1.21, end_value=-3.0, warmup_steps=50, decay_steps=100, exponent=2),
        [0, 10, 50, 75, 100], [0.20000004768371582, 0.4020000100135803, 1.2100000381469727, -1.947500228881836, -3.000000238418579],
        atol=1e-8, rtol=1e-6),
    Row("WarmupCosineDecayTest.test_zero_peak_value", "warmup_cosine_decay_schedule",
        dict(init_value=0.2, peak_value=0, end_value=-3.0, warmup_steps=50, decay_steps=100, exponent=2),
        [0, 10, 50, 75, 100], [0.2, 0.16, 0.0, 0.0, 0.0], atol=1e-8, rtol=1e-6),
    # SGDRTest: three warmup-cosine cycles of 2000, 3000 and 5000 steps, 500 of warmup each
    *[Row(f"SGDRTest.test_limits[{label}]", "sgdr_schedule",
          dict(cosine_kwargs=[dict(init_value=0, peak_value=p, end_value=0.0, warmup_steps=500, decay_steps=d)
                              for p, d in zip(peaks, (2000, 3000, 5000))]),
          [500, 2500, 5500], list(peaks))
      for label, peaks in (("with step decay", (1.6, 0.8, 0.4)), ("without step_decay", (1.6, 1.6, 1.6)))],
    # PiecewiseInterpolateTest
    Row("PiecewiseInterpolateTest.test_linear_piecewise", "piecewise_interpolate_schedule",
        dict(interpolate_type="linear", init_value=200.0, boundaries_and_scales={5: 1.5, 10: 0.25}),
        R(13), [200, 220, 240, 260, 280, 300, 255, 210, 165, 120, 75, 75, 75], atol=1e-3),
    Row("PiecewiseInterpolateTest.test_cos_piecewise", "piecewise_interpolate_schedule",
        dict(interpolate_type="cosine", init_value=400.0, boundaries_and_scales={5: 1.2, 3: 0.6, 7: 1.0}),
        R(9), [400, 360, 280, 240, 264, 288, 288, 288, 288], atol=1e-3),
    Row("PiecewiseInterpolateTest.test_empty_dict", "piecewise_interpolate_schedule",
        dict(interpolate_type="linear", init_value=13.0, boundaries_and_scales={}), R(5), [13.0] * 5, atol=1e-3),
    Row("PiecewiseInterpolateTest.test_no_dict", "piecewise_interpolate_schedule",
        dict(interpolate_type="cosine", init_value=17.0), R(3), [17.0] * 3, atol=1e-3),
    # assertAlmostEqual (7 places) at 0 and 5; every value finite (checked for every row)
    Row("PiecewiseInterpolateTest.test_zero_interval_size", "piecewise_interpolate_schedule",
        dict(interpolate_type="linear", init_value=13.0, boundaries_and_scales={0: 2.0, 5: 3.0}), [0, 5], [26.0, 78.0], atol=5e-8, rtol=0.0),
    # OneCycleTest
    Row("OneCycleTest.test_linear", "linear_onecycle_schedule",
        dict(transition_steps=10, peak_value=1000, pct_start=0.3, pct_final=0.7, div_factor=10.0, final_div_factor=100.0),
        R(12), [100, 400, 700, 1000, 775, 550, 325, 100, 67, 34, 1, 1], atol=1e-3),
    Row("OneCycleTest.test_cosine", "cosine_onecycle_schedule",
        dict(transition_steps=5, peak_value=1000.0, pct_start=0.4, div_factor=10.0, final_div_factor=100.0),
        R(7), [100, 550, 1000, 750.25, 250.75, 1, 1], atol=1e-3),
]


def _expected(row):
    if callable(row.expect):
        return np.array([row.expect(s) for s in row.steps], dtype=np.float64)
    return np.array(row.expect, dtype=np.float64)


def _param(row):
    marks = [pytest.mark.xfail(raises=ValueError, strict=True, reason=row.xfail)] if row.xfail else []
    return pytest.param(row, id=row.mirrors, marks=marks)


@pytest.mark.parametrize("row", [_param(r) for r in ROWS])
def test_values(row):
    schedule = ms.get_schedule(row.name, **row.kwargs)
    want = _expected(row)
    compiled = mx.compile(lambda s: schedule(s))
    at_once = np.array(compiled(mx.array(list(row.steps))), dtype=np.float64)
    one_by_one = np.array([schedule(s).item() for s in row.steps], dtype=np.float64)
    for got in (at_once, one_by_one):
        assert np.all(np.isfinite(got))
        np.testing.assert_allclose(got, want, atol=row.atol, rtol=row.rtol)


@dataclass(frozen=True)
class Refusal:
    mirrors: str
    name: str
    kwargs: Dict[str, Any]
    error: type = ValueError
    match: Optional[str] = None


REFUSALS = [
    Refusal("WarmupCosineDecayTest.test_raises_when_decay_equals_warmup", "warmup_cosine_decay_schedule",
            dict(init_value=0.2, peak_value=1.2, warmup_steps=10, decay_steps=10, end_value=0.0)),
    Refusal("PiecewiseInterpolateTest.test_invalid_type[linar]", "piecewise_interpolate_schedule",
            dict(interpolate_type="linar", init_value=13.0)),
    Refusal("PiecewiseInterpolateTest.test_invalid_type[empty]", "piecewise_interpolate_schedule",
            dict(interpolate_type="", init_value=13.0, boundaries_and_scales={5: 3.0})),
    Refusal("PiecewiseInterpolateTest.test_invalid_type[None]", "piecewise_interpolate_schedule",
            dict(interpolate_type=None, init_value=13.0, boundaries_and_scales={})),
    Refusal("PiecewiseInterpolateTest.test_invalid_scale", "piecewise_interpolate_schedule",
            dict(interpolate_type="linear", init_value=13.0, boundaries_and_scales={5: -3})),
    Refusal("OneCycleTest.test_nonpositive_transition_steps[cosine]", "cosine_onecycle_schedule",
            dict(transition_steps=0, peak_value=5.0), match="cosine onecycle"),
    Refusal("OneCycleTest.test_nonpositive_transition_steps[linear]", "linear_onecycle_schedule",
            dict(transition_steps=0, peak_value=5.0), match="linear onecycle"),
]


@pytest.mark.parametrize("refusal", [pytest.param(r, id=r.mirrors) for r in REFUSALS])
def test_refusals(refusal):
    with pytest.raises(refusal.error, match=refusal.match):
        ms.get_schedule(refusal.name, **refusal.kwargs)


def test_warmup_cosine_shape():
    """WarmupCosineDecayTest.test_monotonicity_and_exponent_ordering: over steps 0..25
    (init 0, peak 1, end 0.1, warmup 5) the warmup rises strictly, the peak is hit at
    step 5 and the end at step 25 (6 places), the decay never rises, and exponent 2
    is nowhere above exponent 1 (+1e-12) after the warmup."""
    def values(exponent):
        s = ms.get_schedule("warmup_cosine_decay_schedule", init_value=0.0, peak_value=1.0, warmup_steps=5,
                            decay_steps=25, end_value=0.1, exponent=exponent)
        return np.array([s(k).item() for k in range(26)], dtype=np.float64)

    regular, steep = values(1.0), values(2.0)
    assert np.all(np.diff(regular[:6]) > 0)
    assert round(abs(regular[5] - 1.0), 6) == 0
    assert np.all(np.diff(regular[5:]) <= 0)
    assert round(abs(regular[-1] - 0.1), 6) == 0
    assert np.all(steep[5:] <= regular[5:] + 1e-12)
