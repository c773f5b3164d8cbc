"""Drop-in use as learning_rate= of every mlx.optimizers optimizer."""

from functools import partial

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest

import mlx_sched as ms

OPTIMIZERS = [
    optim.SGD,
    optim.RMSprop,
    optim.Adagrad,
    optim.AdaDelta,
    optim.Adam,
    optim.AdamW,
    optim.Adamax,
    optim.Lion,
    optim.Adafactor,
    optim.Muon,
]


def _schedules(m):
    return m.join_schedules([m.linear_schedule(0.0, 1e-2, 5), m.cosine_decay(1e-2, 30, 1e-4)], [5])


def _train(opt, compiled, steps=12):
    mx.random.seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    x = mx.random.normal((16, 4))
    y = mx.random.normal((16, 2))
    loss_and_grad = nn.value_and_grad(model, lambda m: ((m(x) - y) ** 2).mean())

    def step():
        loss, grads = loss_and_grad(model)
        opt.update(model, grads)
        return loss

    if compiled:
        state = [model.state, opt.state]
        step = partial(mx.compile, inputs=state, outputs=state)(step)
    lrs = []
    for _ in range(steps):
        mx.eval(step(), model.parameters(), opt.state)
        lrs.append(opt.learning_rate.item())
    return lrs, model.parameters()


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize("cls", OPTIMIZERS, ids=lambda c: c.__name__)
def test_every_optimizer(cls, compiled):
    kw = {"learning_rate": None}
    ours_lr, ours_params = _train(cls(**{**kw, "learning_rate": _schedules(ms)}), compiled)
    ref_lr, ref_params = _train(cls(**{**kw, "learning_rate": _schedules(optim)}), compiled)
    np.testing.assert_allclose(ours_lr, ref_lr, rtol=1e-5, atol=1e-9)
    flat = lambda p: np.concatenate([np.array(v).ravel() for _, v in nn.utils.tree_flatten(p)])  # noqa: E731
    np.testing.assert_allclose(flat(ours_params), flat(ref_params), rtol=1e-4, atol=1e-6)


def test_compile_with_schedule():
    """mlx's own test_compile_with_schedule, with an mlx-sched schedule."""
    lr_schedule = ms.exponential_decay(1e-1, 0.9)
    optimizer = optim.SGD(learning_rate=lr_schedule)

    @partial(mx.compile, inputs=optimizer.state, outputs=optimizer.state)
    def update():
        optimizer.update({}, {})

    for step in range(5):
        update()
        assert lr_schedule(step).item() == pytest.approx(optimizer.learning_rate.item(), abs=1e-7)


def test_optimizer_step_dtype_and_state():
    lr = ms.cosine_decay(1e-3, 100)
    opt = optim.AdamW(learning_rate=lr)
    opt.init({"w": mx.zeros((3,))})
    assert opt.state["step"].dtype == mx.uint64
    assert opt.learning_rate.dtype == mx.float32
    for _ in range(10):
        opt.update({"w": mx.zeros((3,))}, {"w": mx.ones((3,))})
    assert opt.learning_rate.item() == pytest.approx(optim.cosine_decay(1e-3, 100)(9).item(), rel=1e-6)
