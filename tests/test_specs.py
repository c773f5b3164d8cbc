"""to_dict / from_dict: plain JSON, rebuilt bit for bit; bad dicts name the field."""

import json

import mlx.core as mx
import numpy as np
import pytest

import mlx_sched as ms
from cases import SCHEDULES


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_round_trip_is_exact(name):
    s = SCHEDULES[name]()
    d = json.loads(json.dumps(s.to_dict()))  # plain JSON types only
    r = ms.from_dict(d)
    assert repr(r) == repr(s) and r.batched == s.batched
    np.testing.assert_array_equal(np.array(r.program), np.array(s.program))
    steps = mx.arange(-100, 5000)
    np.testing.assert_array_equal(np.array(r(steps)), np.array(s(steps)))


def test_indexing_slicing_and_arrays_round_trip():
    b = ms.cosine_decay(mx.array([1.0, 2.0, 3.0]), np.array([10, 20, 30]))
    for s in (b[1], b[-1], b[1:], ms.join_schedules([b[0], ms.step_decay(0.1, 0.5, [3])], [[4]])):
        r = ms.from_dict(json.loads(json.dumps(s.to_dict())))
        np.testing.assert_array_equal(np.array(r.program), np.array(s.program))


@pytest.mark.parametrize(
    "d,match",
    [
        ({"kind": "nope"}, "unknown schedule kind 'nope' in field 'kind'"),
        ({"kind": "cosine_decay"}, "has no field 'args'"),
        ({"kind": "cosine_decay", "args": {"init": 1.0, "decay_steps": 10}, "x": 1}, "unknown field 'x'"),
        ({"kind": "cosine_decay", "args": {"init": 1.0, "steps": 10}}, "field 'args' of 'cosine_decay'"),
        ({"kind": "cosine_decay", "args": {"init": 1.0, "decay_steps": 0}}, "decay_steps must be greater than 0"),
        ({"kind": "stack", "schedules": 3}, "field 'schedules' must be a list"),
        ({"kind": "join_schedules", "schedules": [{"kind": "cosine_decay", "args": {"init": 1.0, "decay_steps": 5}}]}, "no field 'boundaries'"),
        ([], "must be a dict"),
    ],
)
def test_bad_specs(d, match):
    with pytest.raises(ValueError, match=match):
        ms.from_dict(d)
