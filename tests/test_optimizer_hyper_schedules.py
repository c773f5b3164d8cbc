"""Every float argument of every fused optimizer as a schedule (issue 20):
the fused step evaluates it in the kernel at the step counter; the reference
is mlx.optimizers with that attribute set, before each step, to the
schedule's value there (a Python float of the float32 value, as a scheduled
value is used). Bit for bit on the CPU."""

import math

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest
from mlx.utils import tree_flatten

import mlx_sched as ms
from mlx_sched import optimizers as fo

STEPS = 60
lr = ms.join_schedules([ms.linear_schedule(0.0, 1e-2, 10), ms.cosine_decay(1e-2, 50, 1e-3)], [10])

# name -> (class name, constructor kwargs with schedules, how the reference's attributes follow them)
CASES = {
    "sgd_momentum_dampening": ("SGD", dict(momentum=ms.cosine_decay(0.95, 60, 0.85), dampening=ms.linear_schedule(0.0, 0.3, 60),
                                           weight_decay=1e-3)),
    "sgd_momentum_crosses_zero": ("SGD", dict(momentum=ms.linear_schedule(-0.2, 0.9, 30))),
    "sgd_nesterov": ("SGD", dict(momentum=ms.cosine_decay(0.9, 60, 0.8), nesterov=True)),
    "adam_betas_eps": ("Adam", dict(betas=[ms.cosine_decay(0.95, 60, 0.85), 0.999], eps=ms.exponential_decay(1e-3, 0.9))),
    "adam_bias": ("Adam", dict(betas=[0.9, ms.linear_schedule(0.99, 0.999, 60)], bias_correction=True)),
    "adamw_wd": ("AdamW", dict(betas=[ms.cosine_decay(0.95, 60, 0.85), 0.99], weight_decay=ms.linear_schedule(0.0, 0.1, 60))),
    "rmsprop": ("RMSprop", dict(alpha=ms.linear_schedule(0.9, 0.99, 60), eps=ms.constant(1e-3))),
    "adagrad": ("Adagrad", dict(eps=ms.exponential_decay(1e-2, 0.95))),
    "adadelta": ("AdaDelta", dict(rho=ms.cosine_decay(0.95, 60, 0.8), eps=1e-4)),
    "adamax": ("Adamax", dict(betas=[ms.cosine_decay(0.95, 60, 0.85), ms.constant(0.99)])),
    "lion": ("Lion", dict(betas=[ms.linear_schedule(0.9, 0.95, 60), 0.99], weight_decay=ms.linear_schedule(-0.05, 0.1, 60))),
}


def _value(v, step):
    """What the reference's attribute holds before the step with counter `step`."""
    return float(np.float32(np.array(v(step)))) if isinstance(v, ms.Schedule) else v


def _run(cls_name, kwargs, ours, dtype):
    mx.random.seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    model.set_dtype(dtype)
    x, y = mx.random.normal((32, 8)).astype(dtype), mx.random.normal((32, 4)).astype(dtype)
    grad = nn.value_and_grad(model, lambda m: ((m(x).astype(mx.float32) - y.astype(mx.float32)) ** 2).mean())
    if ours:
        opt = getattr(fo, cls_name)(lr, **kwargs)
    else:
        fixed = {k: (_value(v, 0) if k != "betas" else [_value(b, 0) for b in v]) for k, v in kwargs.items()}
        opt = getattr(optim, cls_name)(lr, **fixed)
    seen = []
    for k in range(STEPS):
        if not ours:  # the attributes at this step, as the kernel evaluates them
            for name, v in kwargs.items():
                setattr(opt, name, [_value(b, k) for b in v] if name == "betas" else _value(v, k))
        _, g = grad(model)
        opt.update(model, g)
        mx.eval(model.parameters(), opt.state)
        if ours:
            seen.append({name: opt.state[name] for name in kwargs if name in opt.state})
    return model.parameters(), opt, seen


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("case", list(CASES))
def test_scheduled_hyperparameters_match_mlx_set_each_step(case, dtype):
    cls_name, kwargs = CASES[case]
    dt = getattr(mx, dtype)
    ours, opt, _ = _run(cls_name, kwargs, True, dt)
    ref, _, _ = _run(cls_name, kwargs, False, dt)
    for (k, a), (_, b) in zip(tree_flatten(ours), tree_flatten(ref)):
        # bias correction: b^t by our pow and MLX's differ in the last ulp (as
        # for constant betas: test_fused_optimizers' float32 tolerance)
        if mx.default_device() == mx.cpu and not kwargs.get("bias_correction"):
            assert mx.array_equal(a, b).item(), (case, k)
        elif kwargs.get("bias_correction") and mx.default_device() == mx.cpu:
            assert mx.allclose(a.astype(mx.float32), b.astype(mx.float32), rtol=1e-5, atol=1e-7).item(), (case, k)
        else:  # MLX's GPU kernels round an op differently from ours (see test_fused_optimizers)
            assert mx.allclose(a.astype(mx.float32), b.astype(mx.float32), rtol=1e-4, atol=1e-6).item(), (case, k)
    assert opt.state["step"].item() == STEPS


@pytest.mark.parametrize("case", list(CASES))
def test_state_shows_each_scheduled_value(case):
    """As learning_rate: after the step with counter k, the value at k (from
    the step's own kernel); floats are not shown (as mlx.optimizers)."""
    cls_name, kwargs = CASES[case]
    _, opt, seen = _run(cls_name, kwargs, True, mx.float32)
    scheduled = [k for k, v in kwargs.items() if isinstance(v, ms.Schedule) or
                 (isinstance(v, list) and any(isinstance(b, ms.Schedule) for b in v))]
    assert sorted(seen[0]) == sorted(scheduled)
    for k, row in enumerate(seen):
        for name, got in row.items():
            v = kwargs[name]
            want = [_value(b, k) for b in v] if name == "betas" else _value(v, k)
            assert np.array_equal(np.array(got), np.array(want, np.float32)), (name, k)  # float32, as learning_rate
    # saved and loaded: the values come back with the state
    flat = dict(tree_flatten(opt.state))
    again = getattr(fo, cls_name)(lr, **kwargs)
    from mlx.utils import tree_unflatten
    again.state = tree_unflatten(list(flat.items()))
    for name in scheduled:
        assert mx.array_equal(again.state[name], opt.state[name]).item()


def test_groups_show_one_value_each():
    opt = fo.SGD(0.1, momentum=ms.linear_schedule(0.5, 0.9, 10),
                 groups=[(lambda path, p: p.ndim == 1, {"momentum": 0.3})])
    params = {"w": mx.ones((2, 2)), "b": mx.ones((2,))}
    assert opt.state["momentum"].tolist() == pytest.approx([0.5, 0.3])
    for _ in range(3):
        params = opt.apply_gradients({k: mx.ones(v.shape) for k, v in params.items()}, params)
    assert opt.state["momentum"].shape == (2,)
    assert opt.state["momentum"].tolist() == pytest.approx([0.5 + 0.4 * 2 / 10, 0.3])


def test_one_primitive_per_step_with_every_hyperparameter_scheduled():
    import re
    import tempfile

    params = {"w": mx.ones((4, 4)), "b": mx.zeros((4,))}
    opt = fo.Adam(lr, betas=[ms.cosine_decay(0.95, 60, 0.85), ms.linear_schedule(0.99, 0.999, 60)], eps=ms.constant(1e-6))
    opt.init(params)
    mx.eval(opt.state)
    grads = {k: mx.full(v.shape, 0.5) for k, v in params.items()}
    mx.eval(grads)
    out = opt.apply_gradients(grads, params)
    with tempfile.NamedTemporaryFile("r", suffix=".dot") as f:
        mx.export_to_dot(f.name, out["w"], opt.state["step"])
        text = f.read()
    names = re.findall(r'label ="?([A-Za-z]+)', text)
    assert names.count("FusedStep") == 1, names


@pytest.mark.parametrize("bad, msg", [
    (lambda: fo.SGD(0.1, momentum="0.9"), "momentum must be a float or an mlx_sched schedule"),
    (lambda: fo.Adam(0.1, betas=[ms.stack([ms.constant(0.9), ms.constant(0.8)]), 0.99]), "betas[0] must be one schedule"),
    (lambda: fo.RMSprop(0.1, alpha=-0.5), "RMSprop alpha should be >=0"),
    (lambda: fo.RMSprop(0.1, eps=0.0), "RMSprop epsilon should be >0"),
    (lambda: fo.Adagrad(0.1, eps=-1.0), "Adagrad epsilon should be >0"),
    (lambda: fo.AdaDelta(0.1, rho=-0.1), "AdaDelta rho should be >=0"),
    (lambda: fo.Lion(0.1, betas=[1.0, 0.9]), "Lion beta1 should be in [0, 1)"),
    (lambda: fo.Adamax(0.1, betas=[0.9, 1.5]), "Adam beta2 should be in [0, 1)"),
    (lambda: fo.SGD(0.1, dampening=ms.constant(0.1), nesterov=True, momentum=0.9), "Nesterov momentum requires"),
    (lambda: fo.Lion(0.1, betas=[0.9, math.nan]), "betas[1] must be finite"),
])
def test_errors_name_the_argument(bad, msg):
    with pytest.raises((TypeError, ValueError)) as e:
        bad()
    assert msg in str(e.value)


@pytest.mark.parametrize("cls_name", ["RMSprop", "Adagrad", "AdaDelta", "Adamax", "Lion"])
def test_new_optimizers_same_messages_as_mlx(cls_name):
    """MLX's own constructor errors, word for word."""
    bad = {"RMSprop": dict(alpha=-1.0), "Adagrad": dict(eps=0.0), "AdaDelta": dict(rho=-1.0),
           "Adamax": dict(betas=[1.0, 0.9]), "Lion": dict(betas=[0.9, 1.0])}[cls_name]
    with pytest.raises(ValueError) as theirs:
        getattr(optim, cls_name)(0.1, **bad)
    with pytest.raises(ValueError) as ours:
        getattr(fo, cls_name)(0.1, **bad)
    assert str(ours.value) == str(theirs.value)


def test_lion_sign_of_nan_and_zero_as_mlx():
    """mx.sign gives 0 for NaN, 0 and -0: a NaN gradient leaves Lion's parameter as MLX does."""
    g = {"w": mx.array([math.nan, -0.0, 0.0, 1.0, -2.0])}
    p = {"w": mx.array([1.0, -0.0, 0.0, 2.0, 3.0])}
    ours, ref = fo.Lion(0.1, weight_decay=0.5), optim.Lion(0.1, weight_decay=0.5)
    pr = dict(p)
    ref.init(pr)
    a = ours.apply_gradients(g, dict(p))["w"]
    b = ref.apply_gradients(g, pr)["w"]
    assert mx.array_equal(a, b, equal_nan=True).item(), (a, b)
    assert np.isfinite(np.array(a)).all()


def test_numpy_scalars_and_one_element_arrays_are_numbers():
    """As mlx.optimizers takes them (np.float32 comes out of configs)."""
    p, g = {"b": mx.ones((4,))}, {"b": mx.ones((4,))}
    ours = fo.SGD(0.1, momentum=np.float32(0.9)).apply_gradients(g, dict(p))["b"]
    ref = optim.SGD(0.1, momentum=0.9)
    pr = dict(p)
    ref.init(pr)
    assert mx.array_equal(ours, ref.apply_gradients(g, pr)["b"]).item()
    fo.Adam(0.1, betas=mx.array([0.9, 0.99])).apply_gradients(g, dict(p))
    o = fo.SGD(0.1, momentum=0.9)
    o.momentum = np.float32(0.5)
    o.apply_gradients(g, dict(p))
