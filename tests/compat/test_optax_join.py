"""Conformance with optax's own join test, written for mlx-sched.

Mirrors: google-deepmind/optax, optax/schedules/_join_test.py at commit
2edbcbe2390da13983b92cbef94ac0460ecde1c5 (JoinTest.test_join_schedules).

The code here is mlx-sched's own: no test of optax's is reproduced. Each row
names the optax test it mirrors, our join of schedules built through
`ms.get_schedule` with optax's names and arguments, the steps, and the
values optax's test asserts with its tolerance (atol 0, rtol
assert_allclose's default).
"""

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import pytest

import mlx_sched as ms

PEER = "google-deepmind/optax optax/schedules/_join_test.py@2edbcbe2390da13983b92cbef94ac0460ecde1c5"


def _constant(value):
    return ms.get_schedule("constant_schedule", value=value)


@dataclass(frozen=True)
class Row:
    mirrors: str
    build: Callable[[], Any]
    steps: Sequence[int]
    expect: Sequence[float]
    atol: float = 0.0
    rtol: float = 1e-7


ROWS = [
    Row("JoinTest.test_join_schedules",
        lambda: ms.join_schedules(schedules=[_constant(1.0), _constant(2.0), _constant(1.0)], boundaries=[3, 6]),
        range(7), [1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 1.0]),
]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.mirrors) for r in ROWS])
def test_values(row):
    schedule = row.build()
    got = np.array([schedule(s).item() for s in row.steps], dtype=np.float64)
    np.testing.assert_allclose(got, np.array(row.expect, dtype=np.float64), atol=row.atol, rtol=row.rtol)
