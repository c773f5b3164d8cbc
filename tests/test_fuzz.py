"""Fuzzing against the float64 oracle: random schedules (joins and batches of
every kind) at random steps (every dtype, huge and negative). CI runs a fast
profile; `MLX_SCHED_FUZZ_EXAMPLES=100000 pytest tests/test_fuzz.py` is the slow
run (its command and outcome: benchmarks/fuzz-slow.log)."""

import os

import mlx.core as mx
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlx_sched as ms
from oracle import build, scale, values
from strategies import pos32, product_spec, spec
from helpers import assert_close

EXAMPLES = int(os.environ.get("MLX_SCHED_FUZZ_EXAMPLES", "100"))
fuzz = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)

steps_st = st.one_of(
    st.lists(st.integers(-(2**53), 2**53), min_size=1, max_size=12).map(lambda v: np.array(v, np.int64)),
    st.lists(st.integers(0, 2**53), min_size=1, max_size=12).map(lambda v: np.array(v, np.uint64)),
    st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=12).map(lambda v: np.array(v, np.int32)),
    st.lists(st.integers(-4000, 4000), min_size=1, max_size=12).map(lambda v: np.array(v, np.float32) / 2),
)


@fuzz
@given(st.lists(spec(), min_size=1, max_size=3), steps_st)
def test_fuzz_against_float64_oracle(specs, steps):
    _check_against_oracle(specs, steps)


def _check_against_oracle(specs, steps):
    """The specs (stacked when several) at the steps against the float64
    oracle; range mode bit for bit with the step array over the same steps."""
    sched = ms.stack([build(ms, s) for s in specs]) if len(specs) > 1 else build(ms, specs[0])
    out = np.array(sched(mx.array(steps))).reshape(len(specs), -1)
    py_steps = [float(x) if steps.dtype == np.float32 else int(x) for x in steps]
    for row, s in zip(out, specs):
        assert_close(row, values(s, py_steps), scale(s), rtol=1e-5, atol_rel=2e-6)
    if steps.dtype != np.float32 and len(specs) == 1:
        start = int(steps.min())
        rng = np.arange(start, start + 16, dtype=np.int64)
        np.testing.assert_array_equal(np.array(sched.values(16, start=start)), np.array(sched(mx.array(rng))))


@fuzz
@given(st.lists(product_spec(), min_size=1, max_size=3), steps_st)
def test_fuzz_products_and_exponents_against_float64_oracle(specs, steps):
    """multiply and cosine_decay(exponent=) (issue 15): joins of products and
    products of joins, at steps of every dtype, against the float64 oracle."""
    _check_against_oracle(specs, steps)


# ---- the families (issue 15): random arguments against families_oracle
from fractions import Fraction  # noqa: E402

from families_oracle import hf_cosine, torch_onecycle, torch_onecycle_momentum  # noqa: E402

# num_cycles: decimals people write (exact as fractions, also past T), and
# arbitrary floats (nearest fraction within 2^-40: checked up to 4 (T - W))
_cycles = st.one_of(st.integers(1, 400).map(lambda k: k / 100), st.integers(1, 12).map(lambda k: k / 3),
                    st.floats(0.01, 20.0))


@st.composite
def _family(draw):
    which = draw(st.sampled_from(["warmup", "min_lr", "warmup_lr_rate", "onecycle", "onecycle_momentum"]))
    if which.startswith("onecycle"):
        e, spe = draw(st.integers(1, 40)), draw(st.integers(1, 60))
        pct = draw(st.floats(0.0625, 0.9375, width=32))
        lr, three = draw(pos32), draw(st.booleans())
        an = draw(st.sampled_from(["cos", "linear"]))
        T = e * spe
        # (three-phase with its second end at or past T - 1: torch's value at T - 1 is held, issue 20)
        if three and (2 * pct * T - 2 <= pct * T - 1 or T - 1 == 2 * pct * T - 2) or pct * T - 1 <= 0 or T - 1 <= pct * T - 1:
            which = "skip"
        if which == "onecycle_momentum":
            b, m = draw(st.floats(0.0, 1.0, width=32)), draw(st.floats(0.0, 1.0, width=32))
            return (which, lambda: ms.onecycle_momentum(epochs=e, steps_per_epoch=spe, pct_start=pct, anneal=an, base_momentum=b,
                                                        max_momentum=m, three_phase=three),
                    lambda: torch_onecycle_momentum(T, pct, an, b, m, three), max(b, m, 2**-20), T)
        return (which, lambda: ms.onecycle(max_lr=lr, epochs=e, steps_per_epoch=spe, pct_start=pct, anneal=an, three_phase=three),
                lambda: torch_onecycle(T, lr, pct, an, three=three), lr, T)
    w, L = draw(st.integers(0, 300)), draw(st.integers(1, 5000))
    c, init = draw(_cycles), draw(pos32)
    exact = not isinstance(c, float) or Fraction(repr(c)).denominator <= 300
    if which == "warmup":
        return (which, lambda: ms.cosine_with_warmup(init, w, w + L, num_cycles=c), lambda: hf_cosine(init, w, w + L, c), init, (exact, L))
    m = draw(st.floats(0.0, 1.0, width=32))
    if which == "min_lr":
        return (which, lambda: ms.cosine_with_min_lr(init, w, w + L, num_cycles=c, min_lr_rate=m),
                lambda: hf_cosine(init, w, w + L, c, m), init, (exact, L))
    r = draw(st.floats(0.0, 1.0, width=32))
    return (which, lambda: ms.cosine_warmup_with_min_lr(init, w, w + L, num_cycles=c, min_lr_rate=m, warmup_lr_rate=r),
            lambda: hf_cosine(init, w, w + L, c, m, 1, r), init, (exact, L))


@fuzz
@given(_family(), st.lists(st.integers(-100, 2**62), min_size=1, max_size=12), st.lists(st.integers(0, 20000), min_size=1, max_size=12))
def test_fuzz_families_against_float64_oracle(fam, far, near):
    which, make, oracle, sc, extra = fam
    if which == "skip":
        return
    steps = near
    if which.startswith("onecycle") or extra[0]:
        steps = near + far  # exact fractions: any step; others to 4 (T - W)
    else:
        steps = [s % (4 * extra[1] + 300) for s in near]
    ours = np.array(make()(mx.array(np.array(steps, np.int64))))
    f = oracle()
    assert_close(ours, [f(s) for s in steps], sc, rtol=1e-5, atol_rel=2e-6)
