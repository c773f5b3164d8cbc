"""Validation: the same exceptions and messages as mlx.optimizers 0.32.4, and
clear ones for what only mlx-sched checks. Nothing here reaches a kernel."""

import mlx.core as mx
import mlx.optimizers as optim
import pytest

import mlx_sched as ms

MLX_CASES = [
    ("cosine_decay", (1e-3, 0)),
    ("cosine_decay", (1e-3, -5, 0.1)),
    ("cosine_decay", (1e-3, 0.5)),
    ("linear_schedule", (0.0, 1.0, 0)),
    ("linear_schedule", (0.0, 1.0, -3)),
    ("step_decay", (0.1, 0.9, 0)),
]


@pytest.mark.parametrize("name,args", MLX_CASES)
def test_same_errors_as_mlx(name, args):
    with pytest.raises(Exception) as theirs:
        getattr(optim, name)(*args)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(ms, name)(*args)
    assert str(ours.value) == str(theirs.value)


def test_message_example():
    with pytest.raises(ValueError, match=r"^decay_steps must be greater than 0, but got 0\.$"):
        ms.cosine_decay(1e-3, 0)


@pytest.mark.parametrize(
    "schedules,boundaries",
    [([], []), ("one", [1]), ("two", []), ("two", [1, 2])],
)
def test_join_errors_match_mlx(schedules, boundaries):
    def pieces(m):
        if schedules == "one":
            return [m.linear_schedule(0, 1, 10)]
        if schedules == "two":
            return [m.linear_schedule(0, 1, 10), m.cosine_decay(1, 10)]
        return []

    with pytest.raises(ValueError) as theirs:
        optim.join_schedules(pieces(optim), boundaries)
    with pytest.raises(ValueError) as ours:
        ms.join_schedules(pieces(ms), boundaries)
    assert str(ours.value) == str(theirs.value)


def test_batch_elements_are_validated_like_scalars():
    with pytest.raises(ValueError, match=r"^decay_steps must be greater than 0, but got 0\.$"):
        ms.cosine_decay([1e-3, 1e-2], [100, 0])


def test_python_callable_piece():
    with pytest.raises(TypeError, match=r"schedules\[1\] must be an mlx_sched schedule, but got function"):
        ms.join_schedules([ms.linear_schedule(0, 1, 10), lambda s: s], [10])
    with pytest.raises(TypeError, match=r"schedules\[0\] must be an mlx_sched schedule"):
        ms.join_schedules([optim.cosine_decay(1, 10)], [])


@pytest.mark.parametrize(
    "call,exc,match",
    [
        (lambda: ms.cosine_decay("a", 10), TypeError, "init must be a real number"),
        (lambda: ms.cosine_decay(1.0, "10"), TypeError, "decay_steps must be an integer"),
        (lambda: ms.cosine_decay(True, 10), TypeError, "init must be a real number"),
        (lambda: ms.cosine_decay(1.0, True), TypeError, "decay_steps must be an integer"),
        (lambda: ms.cosine_decay(float("nan"), 10), ValueError, "init must be finite"),
        (lambda: ms.exponential_decay(1.0, float("inf")), ValueError, "decay_rate must be finite"),
        (lambda: ms.cosine_decay(1.0, 10.5), ValueError, "decay_steps must be an integer, but got 10.5"),
        (lambda: ms.cosine_decay(1.0, 2**63), ValueError, "decay_steps must be less than 2\\*\\*62"),
        (lambda: ms.step_decay(1.0, 0.5, [[1, 2]]), ValueError, "step_size must be a scalar or 1-D"),
        (lambda: ms.cosine_decay([1.0, 2.0], [10, 20, 30]), ValueError, "batch sizes differ"),
        (lambda: ms.linear_schedule([], 1.0, 10), ValueError, "init must not be an empty sequence"),
        (lambda: ms.join_schedules([ms.cosine_decay(1, 10)] * 2, [1.5]), ValueError, r"boundaries\[0\] must be an integer"),
        (lambda: ms.join_schedules([ms.cosine_decay([1, 2], 10), ms.cosine_decay([1, 2, 3], 10)], [5]), ValueError, "batch sizes differ"),
        (lambda: ms.stack([]), ValueError, "at least one schedule"),
        (lambda: ms.stack([optim.cosine_decay(1, 10)]), TypeError, "must be an mlx_sched schedule"),
    ],
)
def test_factory_argument_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    "step,exc,match",
    [
        (True, TypeError, "step must be an integer or a float, but got bool"),
        (mx.array([True, False]), TypeError, "step must have an integer or floating point dtype"),
        (mx.array([1 + 2j]), TypeError, "step must have an integer or floating point dtype"),
        (2**64, ValueError, "step must fit in 64 bits"),
        ("12", TypeError, "step must be an int, a float or an array"),
    ],
)
def test_bad_steps(step, exc, match):
    with pytest.raises(exc, match=match):
        ms.cosine_decay(1.0, 10)(step)


def test_bad_values_arguments():
    s = ms.cosine_decay(1.0, 10)
    with pytest.raises(ValueError, match=r"n must be in \[0, 2\*\*31\)"):
        s.values(-1)
    with pytest.raises(TypeError, match="n must be an integer"):
        s.values(3.0)
    with pytest.raises(ValueError, match="start must keep start"):
        s.values(10, start=2**63 - 5)


def test_batch_indexing_errors():
    b = ms.cosine_decay([1.0, 2.0], 10)
    with pytest.raises(IndexError, match="out of range for a batch of 2"):
        b[2]
    with pytest.raises(TypeError, match="len\\(\\) of an unbatched schedule"):
        len(b[0])
    with pytest.raises(TypeError, match="cannot be indexed"):
        b[0][0]


def test_low_level_program_checks():
    with pytest.raises(ValueError, match=r"program must be an int32 array of shape \(G, R, 16\)"):
        ms.evaluate(mx.zeros((1, 2, 15), mx.int32), 3)
    with pytest.raises(ValueError, match="unbatched evaluation takes one program"):
        ms.evaluate(ms.cosine_decay([1.0, 2.0], 10).program, 3, batched=False)


def test_malformed_program_gives_nan_not_a_crash():
    prog = mx.zeros((1, 3, 16), mx.int32)  # no header: not a program mlx-sched wrote
    out = ms.evaluate(prog, mx.arange(5), batched=False)
    assert mx.isnan(out).all().item()


def test_gpu_stream_without_gpu_backend():
    if mx.cuda.is_available() or mx.metal.is_available():
        pytest.skip("this MLX has a GPU backend")
    with pytest.raises(ValueError, match="gpu"):
        ms.cosine_decay(1.0, 10)(mx.array(3), stream=mx.gpu)
