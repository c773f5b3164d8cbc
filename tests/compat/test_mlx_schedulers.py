"""Conformance with MLX's own schedule tests, written for mlx-sched.

Mirrors: ml-explore/mlx, python/tests/test_optimizers.py, class TestSchedulers,
tag v0.32.1 (commit 3a6219917e4535575ce5bce2fc2ba27a483a709b).

The code here is mlx-sched's own: no test of MLX's is reproduced. Each row of
the tables names the MLX test it mirrors, builds our schedule with the
arguments that test passes, and states what that test asserts (the steps, the
expected value, the tolerance). Expected values MLX writes as numbers are
kept as numbers; those it derives from a formula come from our float64 oracle
(tests/oracle.py). "equal" compares in float32, as MLX's `array == float`
does. Where our semantics differ on purpose the row is a strict xfail with
the README's reason.
"""

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
import pytest

import mlx_sched as ms
import oracle

PEER = "ml-explore/mlx python/tests/test_optimizers.py@v0.32.1 TestSchedulers"
CALLABLES = "README: plain Python callables as join pieces are a TypeError (a join is compiled into one program)"

WARMUP_COSINE = ("join", [("linear", 0.0, 1e-5, 100), ("cosine", 1e-5, 100, 0.0)], [101])


def _warmup_cosine():
    return ms.join_schedules([ms.linear_schedule(0.0, 1e-5, 100), ms.cosine_decay(1e-5, 100)], [101])


def _python_pieces(boundaries):
    return ms.join_schedules([lambda _: 3, lambda _: 4, lambda _: 5], boundaries)


@dataclass(frozen=True)
class Row:
    mirrors: str                  # the MLX test (TestSchedulers.<name>)
    build: Callable[[], Any]      # our schedule, MLX's arguments
    steps: Sequence[int]
    expect: Any                   # numbers, or an oracle spec (tests/oracle.py)
    check: str = "close"          # close: |v - e| <= tol; equal (float32); above: v > e
    tol: float = 0.0
    xfail: Optional[str] = None


ROWS = [
    Row("test_step_decay", lambda: ms.step_decay(1e-1, 0.9, 1000), [2500], ("step", 0.1, 0.9, 1000), tol=1e-7),
    Row("test_exponential_decay", lambda: ms.exponential_decay(1e-1, 0.99), [10], ("exp", 0.1, 0.99), tol=1e-7),
    Row("test_cosine_decay", lambda: ms.cosine_decay(0.1, 10), [4], ("cosine", 0.1, 10, 0.0), tol=1e-7),
    Row("test_cosine_decay[end, before]", lambda: ms.cosine_decay(0.1, 10, 0.05), [9], [0.05], check="above"),
    Row("test_cosine_decay[end, after]", lambda: ms.cosine_decay(0.1, 10, 0.05), [20], [0.05], check="equal"),
    Row("test_linear_warmup_with_cosine_decay[0]", _warmup_cosine, [0], [0.0], check="equal"),
    Row("test_linear_warmup_with_cosine_decay[101]", _warmup_cosine, [101], WARMUP_COSINE, tol=1e-1),
    Row("test_schedule_joiner[python pieces]", lambda: _python_pieces([2, 4]), [0, 1, 2, 3, 5, 7], [3, 3, 4, 4, 5, 5],
        check="equal", xfail=CALLABLES),
    # the same join with our constant pieces (our addition: what the row above means in mlx-sched)
    Row("test_schedule_joiner[ms.constant pieces]", lambda: ms.join_schedules([ms.constant(3), ms.constant(4), ms.constant(5)], [2, 4]),
        [0, 1, 2, 3, 5, 7], [3, 3, 4, 4, 5, 5], check="equal"),
]


def _marks(row):
    return [pytest.mark.xfail(raises=TypeError, strict=True, reason=row.xfail)] if row.xfail else []


def _expected(row):
    if isinstance(row.expect, tuple):
        return [oracle.value(row.expect, s) for s in row.steps]
    return list(row.expect)


@pytest.mark.parametrize("row", [pytest.param(r, id=r.mirrors, marks=_marks(r)) for r in ROWS])
def test_values(row):
    schedule = row.build()
    for step, want in zip(row.steps, _expected(row)):
        got = schedule(step).item()
        if row.check == "equal":
            assert np.float32(got) == np.float32(want), (step, got, want)
        elif row.check == "above":
            assert got > want, (step, got, want)
        else:
            assert abs(got - want) <= row.tol, (step, got, want)


def test_join_rejects_extra_boundaries():
    """TestSchedulers.test_schedule_joiner: 3 pieces and 3 boundaries is a ValueError."""
    with pytest.raises(ValueError):
        _python_pieces([2, 3, 4])


# ---- the schedule driving mlx.optimizers: the optimizer's learning rate after k updates is the
# ---- schedule at step k - 1.

def _optimizer_names():
    skip = {"Optimizer", "MultiOptimizer"}
    return sorted(n for n, c in vars(optim).items() if isinstance(c, type) and issubclass(c, optim.Optimizer) and n not in skip)


@dataclass(frozen=True)
class Run:
    mirrors: str
    optimizer: str
    build: Callable[[], Any]
    updates: int
    checkpoints: Sequence[int]    # numbers of updates after which the learning rate is checked
    expect: Any                   # an oracle spec, or "schedule": the schedule's own value
    tol: float                    # |lr - expected| <= tol; with places: round(|lr - expected|, places) == 0
    params: str = "ones"          # "ones": w = ones(5, 5), gradients ones; "empty": {} and {}
    compiled: bool = False
    places: Optional[int] = None


RUNS = [Run("test_decay_lr", name, lambda: ms.step_decay(1e-1, 0.9, 1), 10, range(1, 11), ("step", 0.1, 0.9, 1), 1e-7)
        for name in _optimizer_names()]
RUNS += [
    Run("test_linear_warmup_with_cosine_decay", "Adam", _warmup_cosine, 200, [100, 200], WARMUP_COSINE, 1e-1, params="empty"),
    Run("test_compile_with_schedule", "SGD", lambda: ms.exponential_decay(1e-1, 0.9), 5, range(1, 6), "schedule", 0.0,
        params="empty", compiled=True, places=7),
]


def _learning_rates(run, schedule):
    optimizer = getattr(optim, run.optimizer)(learning_rate=schedule)
    if run.params == "ones":
        params = {"w": mx.ones((5, 5))}
        grads = {"w": mx.ones((5, 5))}
        one = lambda: optimizer.apply_gradients(grads, params)  # noqa: E731
    else:
        one = lambda: optimizer.update({}, {})  # noqa: E731
    if run.compiled:
        one = mx.compile(one, inputs=optimizer.state, outputs=optimizer.state)
    rates = {}
    for k in range(1, run.updates + 1):
        one()
        rates[k] = optimizer.learning_rate.item()
    return rates


@pytest.mark.parametrize("run", [pytest.param(r, id=f"{r.mirrors}[{r.optimizer}]") for r in RUNS])
def test_in_optimizer(run):
    schedule = run.build()
    rates = _learning_rates(run, schedule)
    for k in run.checkpoints:
        step = k - 1
        want = schedule(step).item() if run.expect == "schedule" else oracle.value(run.expect, step)
        if run.places is not None:
            assert round(abs(rates[k] - want), run.places) == 0, (k, rates[k], want)
        else:
            assert abs(rates[k] - want) <= run.tol, (k, rates[k], want)
