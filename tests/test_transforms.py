"""mx.compile (also shapeless), vmap and grad through a schedule."""

import mlx.core as mx
import numpy as np
import pytest

import mlx_sched as ms


def test_compile_matches_eager():
    s = ms.join_schedules([ms.linear_schedule(0, 1e-3, 100), ms.cosine_decay(1e-3, 1000)], [100])
    f = mx.compile(lambda step: s(step) * 2)
    steps = mx.arange(2000)
    np.testing.assert_array_equal(np.array(f(steps)), np.array(s(steps) * 2))


def test_shapeless_compile_uses_output_shapes():
    s = ms.cosine_decay([1.0, 2.0], 100)
    f = mx.compile(lambda step: s(step) + 1.0, shapeless=True)
    for n in (3, 17, 250):
        out = f(mx.arange(n))
        assert out.shape == (2, n)
        np.testing.assert_array_equal(np.array(out), np.array(s(mx.arange(n)) + 1.0))


def test_new_hyperparameters_do_not_retrace():
    traces = []

    def f(program, step):
        traces.append(1)
        return ms.evaluate(program, step)

    cf = mx.compile(f)
    step = mx.arange(50)
    for init, n in [(1.0, 10), (2.0, 30), (0.5, 7)]:
        s = ms.cosine_decay([init, init / 2], n)
        np.testing.assert_array_equal(np.array(cf(s.program, step)), np.array(s(step)))
    assert len(traces) == 1


def test_vmap_over_steps():
    s = ms.step_decay(1.0, 0.5, 3)
    steps = mx.arange(24).reshape(4, 6)
    out = mx.vmap(s)(steps)
    np.testing.assert_array_equal(np.array(out), np.array(s(steps)))
    out_t = mx.vmap(s, in_axes=1)(steps)
    np.testing.assert_array_equal(np.array(out_t), np.array(s(steps)).T)
    b = ms.cosine_decay([1.0, 2.0], 10)
    out_b = mx.vmap(b)(steps)  # the mapped axis comes first (out_axes=0), then the batch
    assert out_b.shape == (4, 2, 6)
    np.testing.assert_array_equal(np.array(out_b), np.moveaxis(np.array(b(steps)), 1, 0))


def test_vmap_over_the_program_is_a_clear_error():
    progs = mx.stack([ms.cosine_decay(1.0, 10).program[0], ms.cosine_decay(2.0, 10).program[0]])[:, None]
    with pytest.raises(ValueError, match=r"\[ScheduleEval::vmap\] vmap over a schedule's program"):
        mx.vmap(lambda p: ms.evaluate(p, mx.array(3), batched=False))(progs)


def test_grad_is_zero():
    s = ms.cosine_decay(1.0, 100)
    g = mx.grad(lambda x: s(x).sum())(mx.array([3.0, 50.0]))
    np.testing.assert_array_equal(np.array(g), 0.0)
    _, jvp = mx.jvp(lambda x: s(x), [mx.array(3.0)], [mx.array(1.0)])
    assert jvp[0].item() == 0.0
