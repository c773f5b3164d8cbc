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
from strategies import product_spec, spec
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
