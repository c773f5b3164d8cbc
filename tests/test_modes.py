"""Range mode, strides, empty arrays and the one-primitive graph."""

import re

import mlx.core as mx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlx_sched as ms
from oracle import build
from strategies import spec


@given(spec(), st.integers(-(2**40), 2**40), st.integers(0, 3000), st.sampled_from([1, 7, 64, 4096]))
def test_range_mode_equals_step_array(s, start, n, chunk):
    """Bit for bit, also when the steps come shuffled or one by one."""
    sched = build(ms, s)
    steps = np.arange(start, start + n, dtype=np.int64)
    perm = np.random.default_rng(n).permutation(n)
    shuffled = np.array(sched(mx.array(steps[perm])))
    unshuffled = np.empty_like(shuffled)
    unshuffled[perm] = shuffled
    np.testing.assert_array_equal(np.array(sched.values(n, start=start)), unshuffled)
    for j in range(0, min(n, 3 * chunk), chunk):
        np.testing.assert_array_equal(np.array(sched(mx.array(steps[j : j + chunk]))), unshuffled[j : j + chunk])
    steps = mx.array(steps)
    # a value depends on its step alone (plans are anchored at fixed windows)
    np.testing.assert_array_equal(np.array(sched.values(n, start=start)), np.array(sched(steps)))


def test_long_range_crosses_many_plans():
    # runs end at windows, cosine half periods and segment changes
    s = ms.join_schedules([ms.linear_schedule(0, 1, 3), ms.cosine_decay(1.0, 5_000_000, 0.5)], [3])
    n = 20_000_000
    v = np.array(s.values(n, start=-7))
    a = np.array(s(mx.arange(-7, n - 7, dtype=mx.int64)))
    np.testing.assert_array_equal(v, a)


def _strided_cases():
    base = mx.arange(0, 4000, dtype=mx.int32).reshape(40, 100)
    return {
        "transposed": base.T,
        "step_slice": base[:, ::3],
        "negative_stride": base[::-1, 5:50],
        "broadcast": mx.broadcast_to(mx.arange(100, dtype=mx.int64), (7, 100)),
        "float_transposed": base.astype(mx.float32).T,
        "scalar_broadcast": mx.broadcast_to(mx.array(77, mx.uint64), (3, 5)),
    }


@pytest.mark.parametrize("name", list(_strided_cases()))
def test_non_contiguous_steps(name):
    steps = _strided_cases()[name]
    s = ms.stack([ms.cosine_decay(1.0, 300), ms.step_decay(1.0, 0.5, 7)])
    out = np.array(s(steps))
    contiguous = mx.array(np.array(steps))
    np.testing.assert_array_equal(out, np.array(s(contiguous)))
    assert out.shape == (2, *steps.shape)


def test_empty_steps():
    s = ms.cosine_decay(1.0, 10)
    assert s(mx.array([], mx.int32)).shape == (0,)
    assert s(mx.zeros((3, 0), mx.float32)).shape == (3, 0)
    assert ms.cosine_decay([1.0, 2.0], 10)(mx.zeros((0, 4), mx.int64)).shape == (2, 0, 4)
    assert s.values(0).shape == (0,)


def test_nan_and_inf_float_steps():
    s = ms.linear_schedule(1.0, 0.0, 10)
    out = np.array(s(mx.array([float("nan"), float("inf"), 5.0, float("nan")])))
    assert np.isnan(out[0]) and np.isnan(out[3])
    assert out[1] == 0.0 and out[2] == pytest.approx(0.5)


def primitive_names(out, tmp_path):
    path = tmp_path / "g.dot"
    mx.export_to_dot(str(path), out)
    return re.findall(r'label ="([^"]+)"', path.read_text())


@pytest.mark.parametrize(
    "make",
    [
        lambda: ms.cosine_decay(1.0, 10),
        lambda: ms.join_schedules([ms.linear_schedule(0, 1, 10)] + [ms.cosine_decay(1.0, 100)] * 20, list(range(10, 210, 10))),
        lambda: ms.cosine_decay(np.linspace(0.1, 1, 1000).tolist(), 100),
        lambda: ms.stack([ms.step_decay(0.1, 0.5, 3), ms.exponential_decay(0.1, 0.9), ms.linear_schedule(0, 1, 5)]),
    ],
)
def test_one_primitive_in_the_graph(make, tmp_path):
    sched = make()
    steps = mx.array(np.arange(10_000, dtype=np.uint64))  # a leaf: no primitive of its own
    assert primitive_names(sched(steps), tmp_path) == ["ScheduleEval"]
    assert primitive_names(sched.values(10_000), tmp_path) == ["ScheduleEval"]
    assert primitive_names(sched(mx.array(5, mx.uint64)), tmp_path) == ["ScheduleEval"]


def test_float64_steps_on_cpu():
    s = ms.cosine_decay(1.0, 100)
    out = s(mx.array([2.5, 50.0], mx.float64), stream=mx.cpu)
    np.testing.assert_allclose(np.array(out), np.array(s(mx.array([2.5, 50.0]))), rtol=1e-7)
