"""Conformance with Hugging Face transformers' own schedule tests, written for mlx-sched.

Mirrors: huggingface/transformers, tests/optimization/test_optimization.py at
commit 74714520aed84bb44c9e6724ba805d2cd1e1eff7 (ScheduleInitTest.test_schedulers;
OptimizationTest exercises AdamW and Adafactor, not schedules, and is not mirrored).

The code here is mlx-sched's own: no test of transformers' is reproduced.
Each row names the scheduler function of HF's table it mirrors, our schedule
through `ms.get_schedule` with HF's name and arguments (the optimizer's
learning rate, 10.0, as `lr`), and the learning rates HF's test expects over
its 10 steps with its tolerance (1e-2). HF's save-and-reload round trip (a
torch state_dict in mid-schedule) is our spec round trip: the schedule
rebuilt by `from_dict(to_dict())` gives the same values, bit for bit.
"""

from dataclasses import dataclass
from typing import Any, Dict, Sequence

import mlx.core as mx
import numpy as np
import pytest

import mlx_sched as ms

PEER = "huggingface/transformers tests/optimization/test_optimization.py@74714520aed84bb44c9e6724ba805d2cd1e1eff7"
LR, STEPS, TOL = 10.0, 10, 1e-2
WARMUP_2_OF_10 = dict(num_warmup_steps=2, num_training_steps=10)


@dataclass(frozen=True)
class Row:
    name: str                     # HF's scheduler function (a key of the test's table)
    kwargs: Dict[str, Any]
    expect: Sequence[float]       # the learning rate at steps 0..9


ROWS = [
    Row("get_constant_schedule", {}, [10.0] * 10),
    Row("get_constant_schedule_with_warmup", dict(num_warmup_steps=4), [0.0, 2.5, 5.0, 7.5, 10.0, 10.0, 10.0, 10.0, 10.0, 10.0]),
    Row("get_linear_schedule_with_warmup", WARMUP_2_OF_10, [0.0, 5.0, 10.0, 8.75, 7.5, 6.25, 5.0, 3.75, 2.5, 1.25]),
    Row("get_cosine_schedule_with_warmup", WARMUP_2_OF_10, [0.0, 5.0, 10.0, 9.61, 8.53, 6.91, 5.0, 3.08, 1.46, 0.38]),
    Row("get_cosine_with_hard_restarts_schedule_with_warmup", dict(WARMUP_2_OF_10, num_cycles=2),
        [0.0, 5.0, 10.0, 8.53, 5.0, 1.46, 10.0, 8.53, 5.0, 1.46]),
    Row("get_polynomial_decay_schedule_with_warmup", dict(WARMUP_2_OF_10, power=2.0, lr_end=1e-7),
        [0.0, 5.0, 10.0, 7.656, 5.625, 3.906, 2.5, 1.406, 0.625, 0.156]),
    Row("get_inverse_sqrt_schedule", dict(num_warmup_steps=2), [0.0, 5.0, 10.0, 8.165, 7.071, 6.325, 5.774, 5.345, 5.0, 4.714]),
]
PARAMS = [pytest.param(r, id=r.name) for r in ROWS]


def _build(row):
    return ms.get_schedule(row.name, lr=LR, **row.kwargs)


def _rates(schedule):
    return np.array(schedule(mx.arange(STEPS)), dtype=np.float64)


@pytest.mark.parametrize("row", PARAMS)
def test_values(row):
    """ScheduleInitTest.test_schedulers, the normal scheduler: one learning rate per step, HF's values."""
    schedule = _build(row)
    assert np.shape(schedule(0)) == ()  # one parameter group: one learning rate
    got = _rates(schedule)
    assert got.shape == (STEPS,)
    assert np.all(np.abs(got - np.array(row.expect)) <= TOL), (row.name, got.tolist())


@pytest.mark.parametrize("row", PARAMS)
def test_save_and_reload(row):
    """ScheduleInitTest.test_schedulers, save and reload: the first half from the schedule,
    the rest from its reloaded copy, equal to the uninterrupted values exactly."""
    schedule = _build(row)
    reloaded = ms.from_dict(schedule.to_dict())
    half = STEPS // 2 + 1
    spliced = np.concatenate([_rates(schedule)[:half], _rates(reloaded)[half:]])
    assert spliced.tolist() == _rates(_build(row)).tolist()
