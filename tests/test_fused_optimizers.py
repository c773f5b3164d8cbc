"""mlx_sched.optimizers: the fused SGD/Adam/AdamW against mlx.optimizers 0.32.4
(200 training steps of an MLP and a transformer block, float32/bfloat16/float16,
eager and under mx.compile), against a float64 numpy oracle of the formulas,
and one dispatch per step, donation, groups, state saving, bad arguments.
Runs on the default device: the CPU here, the GPU on the GPU machine."""

import re

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

import mlx_sched as ms
from mlx_sched import _ext
from mlx_sched import optimizers as fo

STEPS = 200


def warmup_cosine(peak=1e-2):
    return ms.join_schedules([ms.linear_schedule(0.0, peak, 20), ms.cosine_decay(peak, 180, peak / 10)], [20])


def _times(schedule, c):
    """The schedule times a constant (one program, for both libraries)."""
    return ms.multiply(schedule, ms.constant(c))


# (name, mlx.optimizers factory, mlx_sched factory): same arguments.
CONFIGS = {
    "sgd": (lambda lr: optim.SGD(lr), lambda lr: fo.SGD(lr)),
    "sgd_momentum_wd": (
        lambda lr: optim.SGD(lr, momentum=0.9, weight_decay=1e-2, dampening=0.1),
        lambda lr: fo.SGD(lr, momentum=0.9, weight_decay=1e-2, dampening=0.1),
    ),
    "sgd_nesterov": (
        lambda lr: optim.SGD(lr, momentum=0.8, nesterov=True, weight_decay=1e-3),
        lambda lr: fo.SGD(lr, momentum=0.8, nesterov=True, weight_decay=1e-3),
    ),
    "adam": (lambda lr: optim.Adam(lr, eps=1e-3), lambda lr: fo.Adam(lr, eps=1e-3)),
    "adam_bias": (
        lambda lr: optim.Adam(lr, betas=[0.8, 0.99], eps=1e-3, bias_correction=True),
        lambda lr: fo.Adam(lr, betas=[0.8, 0.99], eps=1e-3, bias_correction=True),
    ),
    "adamw": (lambda lr: optim.AdamW(lr, eps=1e-3, weight_decay=0.05), lambda lr: fo.AdamW(lr, eps=1e-3, weight_decay=0.05)),
    "adamw_bias": (
        lambda lr: optim.AdamW(lr, eps=1e-3, bias_correction=True),
        lambda lr: fo.AdamW(lr, eps=1e-3, bias_correction=True),
    ),
    "rmsprop": (lambda lr: optim.RMSprop(lr, alpha=0.9, eps=1e-3), lambda lr: fo.RMSprop(lr, alpha=0.9, eps=1e-3)),
    "adagrad": (lambda lr: optim.Adagrad(lr, eps=1e-3), lambda lr: fo.Adagrad(lr, eps=1e-3)),
    "adadelta": (lambda lr: optim.AdaDelta(_times(lr, 100.0), rho=0.95, eps=1e-4),
                 lambda lr: fo.AdaDelta(_times(lr, 100.0), rho=0.95, eps=1e-4)),
    "adamax": (lambda lr: optim.Adamax(lr, betas=[0.85, 0.99], eps=1e-3), lambda lr: fo.Adamax(lr, betas=[0.85, 0.99], eps=1e-3)),
    "lion": (lambda lr: optim.Lion(_times(lr, 0.1)), lambda lr: fo.Lion(_times(lr, 0.1))),
    "lion_wd": (lambda lr: optim.Lion(_times(lr, 0.1), betas=[0.95, 0.98], weight_decay=0.1),
                lambda lr: fo.Lion(_times(lr, 0.1), betas=[0.95, 0.98], weight_decay=0.1)),
}
DTYPES = {"float32": mx.float32, "bfloat16": mx.bfloat16, "float16": mx.float16}
# Largest difference after 200 steps, relative to the parameter's scale.
# float32: a few ulp (powers and square roots of different libraries where
# bias correction is on, and MLX's GPU kernels); 16-bit: one ulp of the dtype.
TOL = {"float32": 1e-5, "bfloat16": 2**-7, "float16": 2**-10}


def mlp():
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))


class Block(nn.Module):
    """A pre-norm transformer block (attention, MLP, layer norms) and a head."""

    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(16, 4, 32, norm_first=True)
        self.head = nn.Linear(16, 4)

    def __call__(self, x):
        return self.head(self.layer(x, None))


def block():
    return Block()


MODELS = {"mlp": (mlp, (16, 8)), "transformer": (block, (4, 6, 16))}


def train(make_model, in_shape, opt, dtype, steps=STEPS, compiled=False):
    mx.random.seed(3)
    model = make_model()
    model.set_dtype(dtype)
    mx.eval(model.parameters())
    x = mx.random.normal(in_shape).astype(dtype)
    y = mx.random.normal(in_shape[:-1] + (4,)).astype(dtype)

    def loss_fn(m, x, y):
        return ((m(x).astype(mx.float32) - y.astype(mx.float32)) ** 2).mean()

    grad = nn.value_and_grad(model, loss_fn)

    def step(x, y):
        loss, g = grad(model, x, y)
        opt.update(model, g)
        return loss

    if compiled:
        opt.init(model.trainable_parameters())
        state = [model.state, opt.state]
        step = mx.compile(step, inputs=state, outputs=state)
    for _ in range(steps):
        step(x, y)
        mx.eval(model.parameters(), opt.state)
    return model, opt


def _lookup(tree, path):
    for key in path.split("."):
        tree = tree[int(key)] if isinstance(tree, list) else tree[key]
    return tree


def max_rel_diff(a, b):
    worst = 0.0
    for (ka, pa), (kb, pb) in zip(tree_flatten(a), tree_flatten(b)):
        assert ka == kb
        pa = np.array(pa.astype(mx.float32), np.float64)
        pb = np.array(pb.astype(mx.float32), np.float64)
        assert np.array_equal(np.isnan(pa), np.isnan(pb)), ka
        ok = ~np.isnan(pa)
        if ok.any():
            scale = max(1.0, float(np.abs(pa[ok]).max()))
            worst = max(worst, float(np.abs(pa[ok] - pb[ok]).max()) / scale)
    return worst


def close_to_mlx(ours, theirs, make_ref, make_model, in_shape, dtype, steps=STEPS):
    """Within TOL of MLX's own result; where training has amplified the
    last-ulp differences of two libraries' pow/sqrt (MLX's GPU kernels), as
    close to the exact result (MLX's optimizer in float64 on the CPU) as MLX
    itself, within the same TOL."""
    direct = max_rel_diff(theirs, ours)
    if direct <= TOL[dtype]:
        return True
    with mx.stream(mx.cpu):
        exact, _ = train(make_model, in_shape, make_ref(warmup_cosine()), mx.float64, steps=steps)
        exact = exact.parameters()
        ours_err, theirs_err = max_rel_diff(exact, ours), max_rel_diff(exact, theirs)
    assert ours_err <= 2 * theirs_err + TOL[dtype], (direct, ours_err, theirs_err)
    return True


@pytest.mark.parametrize("dtype", list(DTYPES))
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("model", list(MODELS))
def test_parity_with_mlx(model, config, dtype):
    make_ref, make_ours = CONFIGS[config]
    make_model, in_shape = MODELS[model]
    m1, o1 = train(make_model, in_shape, make_ref(warmup_cosine()), DTYPES[dtype])
    m2, o2 = train(make_model, in_shape, make_ours(warmup_cosine()), DTYPES[dtype])
    assert close_to_mlx(m2.parameters(), m1.parameters(), make_ref, make_model, in_shape, dtype)
    assert o2.state["step"].item() == STEPS and o2.state["step"].dtype == mx.uint64
    assert o2.state["learning_rate"].item() == pytest.approx(o1.state["learning_rate"].item(), rel=1e-6)
    # each parameter's states, as mlx.optimizers keeps them (views of the flat states)
    for path, p in tree_flatten(m2.parameters()):
        theirs = _lookup(o1.state, path)
        ours = o2.param_state(path)
        assert ours.keys() == theirs.keys()
        for name in ours:
            assert ours[name].dtype == theirs[name].dtype == p.dtype
            assert ours[name].shape == theirs[name].shape == p.shape


@pytest.mark.parametrize("config", ["sgd_nesterov", "adamw_bias"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_compiled(config, dtype):
    """Inside mx.compile(inputs=state, outputs=state) (the whole training step:
    forward, backward, update): as close to our eager run as MLX's compiled
    run is to MLX's eager run (on the CPU both are bit for bit the same; on
    the GPU MLX's compiled forward and backward round differently), and
    close to MLX compiled."""
    make_ref, make_ours = CONFIGS[config]
    make_model, in_shape = MODELS["transformer"]
    dt = DTYPES[dtype]
    m_eager, _ = train(make_model, in_shape, make_ours(warmup_cosine()), dt, steps=50)
    m_comp, o_comp = train(make_model, in_shape, make_ours(warmup_cosine()), dt, steps=50, compiled=True)
    r_eager, _ = train(make_model, in_shape, make_ref(warmup_cosine()), dt, steps=50)
    r_comp, _ = train(make_model, in_shape, make_ref(warmup_cosine()), dt, steps=50, compiled=True)
    ours = max_rel_diff(m_eager.parameters(), m_comp.parameters())
    theirs = max_rel_diff(r_eager.parameters(), r_comp.parameters())
    assert ours <= 2 * theirs + (0.0 if mx.default_device() == mx.cpu else TOL[dtype]), (ours, theirs)
    assert close_to_mlx(m_comp.parameters(), r_comp.parameters(), make_ref, make_model, in_shape, dtype, steps=50)
    assert o_comp.state["step"].item() == 50


# ----------------------------------------------------------------- float64 oracle


def oracle(kind, params, grads, lrs, wds, *, momentum=0.0, dampening=0.0, nesterov=False, betas=(0.9, 0.999),
           eps=1e-8, bias_correction=False):
    """The update formulas of mlx.optimizers in float64, over a fixed list of gradients."""
    p = {k: np.array(v, np.float64) for k, v in params.items()}
    s0 = {k: np.zeros_like(v) for k, v in p.items()}
    s1 = {k: np.zeros_like(v) for k, v in p.items()}
    for t, (g_t, lr, wd) in enumerate(zip(grads, lrs, wds), start=1):
        for k in p:
            g = np.array(g_t[k], np.float64)
            if kind == "sgd":
                if wd != 0:
                    g = g + wd * p[k]
                if momentum <= 0:
                    p[k] = p[k] - lr * g
                    continue
                s0[k] = momentum * s0[k] + ((1 - dampening) if dampening > 0 else 1.0) * g
                upd = g + momentum * s0[k] if nesterov else s0[k]
                p[k] = p[k] - lr * upd
            else:
                if kind == "adamw":
                    p[k] = p[k] * (1 - lr * wd)
                b1, b2 = betas
                s0[k] = b1 * s0[k] + (1 - b1) * g
                s1[k] = b2 * s1[k] + (1 - b2) * g * g
                if bias_correction:
                    p[k] = p[k] - (lr / (1 - b1**t)) * s0[k] / (np.sqrt(s1[k]) / np.sqrt(1 - b2**t) + eps)
                else:
                    p[k] = p[k] - lr * s0[k] / (np.sqrt(s1[k]) + eps)
    return p


ORACLE_CASES = [
    ("sgd", dict(momentum=0.9, dampening=0.2), lambda: fo.SGD(ms.step_decay(0.1, 0.5, 3), momentum=0.9, dampening=0.2)),
    ("sgd", dict(momentum=0.5, nesterov=True), lambda: fo.SGD(ms.cosine_decay(0.1, 10), momentum=0.5, nesterov=True,
                                                             weight_decay=ms.linear_schedule(0.1, 0.0, 10))),
    ("adam", dict(betas=(0.8, 0.95), eps=1e-6, bias_correction=True),
     lambda: fo.Adam(ms.exponential_decay(1e-2, 0.9), betas=[0.8, 0.95], eps=1e-6, bias_correction=True)),
    ("adamw", dict(eps=1e-6), lambda: fo.AdamW(ms.warmup_cosine_decay(0.0, 1e-2, 3, 12), eps=1e-6,
                                               weight_decay=ms.cosine_decay(0.1, 12))),
]


@pytest.mark.parametrize("case", range(len(ORACLE_CASES)))
def test_float64_oracle(case):
    kind, kw, make = ORACLE_CASES[case]
    rng = np.random.default_rng(case)
    shapes = {"a": (5, 7), "b": (300,), "c": (3, 4100)}  # c: more than one chunk of 4096
    params = {k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()}
    grads = [{k: rng.normal(size=s).astype(np.float32) for k, s in shapes.items()} for _ in range(12)]
    opt = make()
    lr_sched = opt._schedules[0]
    wd_value = opt._hyper[0].get("weight_decay", 0.0)
    lrs = [float(lr_sched(t).item()) for t in range(12)]
    wds = [float(wd_value(t).item()) if isinstance(wd_value, ms.Schedule) else wd_value for t in range(12)]
    tree = {k: mx.array(v) for k, v in params.items()}
    for g in grads:
        tree = opt.apply_gradients({k: mx.array(v) for k, v in g.items()}, tree)
        mx.eval(tree, opt.state)
    want = oracle(kind, params, grads, lrs, wds, **kw)
    for k in shapes:
        np.testing.assert_allclose(np.array(tree[k]), want[k], rtol=2e-5, atol=2e-6)


def test_strided_gradients():
    """Gradients MLX hands out as views (transposes, broadcasts) are read in place."""
    rng = np.random.default_rng(0)
    p = rng.normal(size=(33, 70)).astype(np.float32)
    gt = rng.normal(size=(70, 33)).astype(np.float32)
    grads = {"w": mx.array(gt).T, "b": mx.broadcast_to(mx.array([0.5], mx.float32), (33, 70))}
    params = {"w": mx.array(p), "b": mx.array(p)}
    ours = fo.SGD(0.1, momentum=0.9).apply_gradients(grads, params)
    ref = optim.SGD(0.1, momentum=0.9).apply_gradients(grads, params)
    for k in params:
        assert mx.array_equal(ours[k], ref[k]).item(), k
    # strided parameters too (the first step reads them in place), 1-D and 2-D
    params = {"v": mx.arange(20.0)[::2], "w": mx.array(p).T}
    grads = {"v": mx.ones((10,)), "w": mx.array(gt)}
    ours = fo.SGD(0.1, momentum=0.9).apply_gradients(grads, params)
    ref = optim.SGD(0.1, momentum=0.9).apply_gradients(grads, params)
    for k in params:
        assert mx.array_equal(ours[k], ref[k]).item(), k


# ------------------------------------------------------------------- one dispatch


def graph_primitives(outputs, tmp_path):
    path = tmp_path / "graph.dot"
    mx.export_to_dot(str(path), *outputs)
    return re.findall(r'label\s*=\s*"([A-Za-z]+)[^"]*"', path.read_text())


@pytest.mark.parametrize("kind", ["SGD", "Adam", "AdamW"])
def test_one_dispatch(kind, tmp_path):
    """Thirty tensors in three groups with three schedules: one primitive."""
    rng = np.random.default_rng(1)
    params = {f"layer{i}": {"w": mx.array(rng.normal(size=(4, 3)).astype(np.float32)),
                            "b": mx.array(rng.normal(size=(3,)).astype(np.float32))} for i in range(15)}
    grads = {k: {n: mx.array(rng.normal(size=v.shape).astype(np.float32)) for n, v in d.items()}
             for k, d in params.items()}
    mx.eval(params, grads)
    groups = [(lambda path, p: p.ndim == 1, {"learning_rate": ms.cosine_decay(0.1, 10)}),
              (lambda path, p: path.startswith("layer1"), {"learning_rate": ms.step_decay(0.2, 0.5, 2)})]
    opt = getattr(fo, kind)(ms.linear_schedule(0.1, 0.0, 10), groups=groups)
    opt.init(params)
    mx.eval(opt.state)
    new = opt.apply_gradients(grads, params)
    outs = [v for _, v in tree_flatten(new)] + [v for _, v in tree_flatten(opt.state)]
    prims = graph_primitives(outs, tmp_path)
    # one kernel; the parameters are handed out as views of its flat output
    # (no kernel, no copy; up to 32 views per node)
    assert prims.count("FusedStep") == 1
    assert prims.count("FlatView") == 1
    assert set(prims) == {"FusedStep", "FlatView"}
    views = [v for _, v in tree_flatten(new)]
    assert len({id(v) for v in views}) == 30 and all(v.shape in ((4, 3), (3,)) for v in views)
    assert opt.state["learning_rate"].shape == (3,)


def test_groups_match_multioptimizer():
    """Groups = MultiOptimizer with the same filters (schedules and hyperparameters per group)."""
    make_model, in_shape = MODELS["transformer"]
    is_norm = lambda path, p: p.ndim == 1  # noqa: E731
    is_attn = lambda path, p: "attention" in path  # noqa: E731
    def make_ref(_):
        return optim.MultiOptimizer(
            [optim.AdamW(ms.cosine_decay(1e-2, 200), weight_decay=0.0, eps=1e-3),
             optim.AdamW(ms.step_decay(5e-3, 0.5, 50), weight_decay=0.1, eps=1e-3),
             optim.AdamW(warmup_cosine(), eps=1e-3)],
            [is_norm, is_attn],
        )

    ours = fo.AdamW(warmup_cosine(), eps=1e-3, groups=[
        (is_norm, {"learning_rate": ms.cosine_decay(1e-2, 200), "weight_decay": 0.0}),
        (is_attn, {"learning_rate": ms.step_decay(5e-3, 0.5, 50), "weight_decay": 0.1}),
    ])
    m1, _ = train(make_model, in_shape, make_ref(None), mx.float32, steps=60)
    m2, o2 = train(make_model, in_shape, ours, mx.float32, steps=60)
    assert close_to_mlx(m2.parameters(), m1.parameters(), make_ref, make_model, in_shape, "float32", steps=60)
    want = [ms.cosine_decay(1e-2, 200)(59).item(), ms.step_decay(5e-3, 0.5, 50)(59).item(), warmup_cosine()(59).item()]
    np.testing.assert_allclose(np.array(o2.state["learning_rate"]), [want[2], want[0], want[1]], rtol=1e-6)


def test_donation_updates_in_place():
    """Parameters and states nothing else holds are updated in their own
    buffers: a step over 3 x 32 MB (param, m, v) allocates no new 32 MB."""
    n = 8 * 1024 * 1024
    params = {"w": mx.random.normal((n,))}
    grads = {"w": mx.random.normal((n,))}
    opt = fo.Adam(1e-3)
    opt.init(params)
    mx.eval(params, grads, opt.state)
    params = opt.apply_gradients(grads, params)  # the old parameter is held by the step only
    mx.eval(params, opt.state)
    mx.synchronize()
    base = mx.get_active_memory()
    mx.reset_peak_memory()
    params = opt.apply_gradients(grads, params)
    mx.eval(params, opt.state)
    assert mx.get_peak_memory() - base < n * 4 // 2
    # held elsewhere: a new buffer, the held array unchanged
    held = params["w"]
    before = np.array(held)
    params = opt.apply_gradients(grads, params)
    mx.eval(params, opt.state)
    assert np.array_equal(np.array(held), before)
    assert not np.array_equal(np.array(params["w"]), before)


def test_state_save_and_load(tmp_path):
    """Saving the state (tree_flatten + safetensors) and loading it into a new
    optimizer continues the run bit for bit."""
    make_model, in_shape = MODELS["mlp"]
    m_full, _ = train(make_model, in_shape, fo.AdamW(warmup_cosine(), bias_correction=True), mx.float32, steps=40)
    m_half, o_half = train(make_model, in_shape, fo.AdamW(warmup_cosine(), bias_correction=True), mx.float32, steps=20)
    path = str(tmp_path / "opt.safetensors")
    mx.save_safetensors(path, dict(tree_flatten(o_half.state)))
    o_new = fo.AdamW(warmup_cosine(), bias_correction=True)
    o_new.state = tree_unflatten(list(mx.load(path).items()))
    assert o_new.state["step"].item() == 20
    mx.random.seed(3)
    _ = make_model()  # same random stream position as train()
    x = mx.random.normal(in_shape)
    y = mx.random.normal(in_shape[:-1] + (4,))
    grad = nn.value_and_grad(m_half, lambda m, x, y: ((m(x) - y) ** 2).mean())
    for _ in range(20):
        _, g = grad(m_half, x, y)
        o_new.update(m_half, g)
        mx.eval(m_half.parameters(), o_new.state)
    assert max_rel_diff(m_full.parameters(), m_half.parameters()) == 0.0


def test_learning_rate_state_and_setter():
    opt = fo.SGD(ms.step_decay(1.0, 0.5, 2))
    params = {"w": mx.zeros((3,))}
    assert opt.learning_rate.item() == 1.0
    for t in range(5):
        params = opt.apply_gradients({"w": mx.ones((3,))}, params)
        assert opt.learning_rate.item() == 0.5 ** (t // 2)
    opt.learning_rate = 0.25  # replaces the schedule, as with mlx.optimizers
    params = opt.apply_gradients({"w": mx.ones((3,))}, params)
    assert opt.learning_rate.item() == 0.25
    np.testing.assert_allclose(np.array(params["w"]), -(1 + 1 + 0.5 + 0.5 + 0.25 + 0.25) * np.ones(3))


# ------------------------------------------------------------------ bad arguments

BAD = [
    (lambda: fo.SGD(lambda step: 0.1), TypeError, "learning_rate must be a float or an mlx_sched schedule"),
    (lambda: fo.SGD(optim.cosine_decay(0.1, 10)), TypeError, "learning_rate must be a float or an mlx_sched"),
    (lambda: fo.SGD(ms.stack([ms.cosine_decay(1.0, 10)] * 2)), ValueError, "learning_rate must be one schedule"),
    (lambda: fo.SGD(float("nan")), ValueError, "learning_rate must be finite"),
    (lambda: fo.SGD("0.1"), TypeError, "learning_rate must be a float"),
    (lambda: fo.SGD(0.1, nesterov=True), ValueError, "Nesterov momentum requires a momentum and zero dampening."),
    (lambda: fo.SGD(0.1, momentum=float("inf")), ValueError, "momentum must be finite"),
    (lambda: fo.Adam(0.1, betas=[1.0, 0.9]), ValueError, "Adam beta1 should be in [0, 1), 1.0 was provided instead"),
    (lambda: fo.Adam(0.1, betas=[0.9, -0.1]), ValueError, "Adam beta2 should be in [0, 1)"),
    (lambda: fo.Adam(0.1, betas=[0.9]), ValueError, "betas must be two floats"),
    (lambda: fo.Adam(0.1, eps=-1.0), ValueError, "Adam epsilon should be >=0, -1.0 was provided instead"),
    (lambda: fo.AdamW(0.1, weight_decay=lambda s: 0.1), TypeError, "weight_decay must be a float or an mlx_sched"),
    (lambda: fo.AdamW(0.1, groups=[(lambda k, p: True, {"momentum": 0.9})]), ValueError, "groups[0] sets ['momentum']"),
    (lambda: fo.AdamW(0.1, groups=[lambda k, p: True]), TypeError, "groups[0] must be a (predicate"),
    (lambda: fo.AdamW(0.1, groups=[(lambda k, p: True, {"eps": -2.0})]), ValueError, "Adam epsilon should be >=0"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_arguments(case):
    make, exc, msg = BAD[case]
    with pytest.raises(exc) as e:
        make()
    assert msg in str(e.value)


BAD_STEP = [
    ({"w": mx.zeros((3,))}, {"w": mx.zeros((4,))}, ValueError, "gradient 'w' has shape (4,)"),
    ({"w": mx.zeros((3,))}, {"v": mx.zeros((3,))}, KeyError, "gradient 'v' has no parameter at the same place"),
    ({"w": mx.zeros((3,))}, {"w": mx.zeros((3,), mx.int32)}, TypeError, "gradient 'w' must be float32"),
    ({"w": mx.zeros((3,), mx.int32)}, {"w": mx.zeros((3,), mx.int32)}, TypeError, "parameter 'w' must be float32"),
]


@pytest.mark.parametrize("case", range(len(BAD_STEP)))
def test_bad_step_inputs(case):
    params, grads, exc, msg = BAD_STEP[case]
    opt = fo.Adam(0.1)
    with pytest.raises(exc) as e:
        opt.apply_gradients(grads, params)
    assert msg in str(e.value)


def test_raw_primitive_checks():
    prog = ms.constant(0.1).program
    g, flat = mx.zeros((3,)), mx.zeros((64,))
    group = _ext.FusedGroup(lr_prog=0, wd_prog=0)
    place = dict(group_of=[0], bucket_of=[0], offset=[0], param_src=[0], param_off=[0])
    step = mx.array(0, mx.uint64)
    cases = [
        (dict(kind=len(_ext.OPTIMIZERS)), f"kind must be one of OPTIMIZERS' values, 0 to {len(_ext.OPTIMIZERS) - 1}"),
        (dict(step=mx.array(0)), "step must be a uint64 scalar"),
        (dict(programs=mx.zeros((1, 2, 3), mx.int32)), "program must be an int32 array of shape (G, R, 16)"),
        (dict(groups=[_ext.FusedGroup(lr_prog=1, wd_prog=0)]), "groups[0] names a program outside the 1 given"),
        (dict(tensors=dict(place, group_of=[1])), "group_of[0] = 1 is not a group"),
        (dict(tensors=dict(place, bucket_of=[1])), "bucket_of[0] = 1 is not a bucket"),
        (dict(tensors=dict(place, offset=[62])), "grads[0] (dtype float32, 3 elements at offset 62) does not fit its bucket"),
        (dict(tensors=dict(place, param_src=[2])), "param_src[0] = 2 is not a parameter source"),
        (dict(param_sources=[mx.zeros((2, 2))]), "the parameter of grads[0] (source 0, shape (2, 2)"),
        (dict(states=[[flat.astype(mx.int32)]]), "states[0][0] must be a flat float32, float16 or bfloat16 array"),
        (dict(states=[]), "states must hold 1 flat arrays per bucket, but got 0"),
        (dict(states=[[flat, flat]]), "states must hold 1 flat arrays per bucket, but bucket 0 has 2"),
        (dict(tensors=dict(place, group_of=[])), "must have the same length"),
    ]
    for change, msg in cases:
        args = dict(kind=0, step=step, programs=prog, groups=[group], tensors=place, grads=[g], param_sources=[g],
                    states=[[flat]])
        args.update(change)
        args["tensors"] = _ext.FusedTensors(**args["tensors"])
        with pytest.raises(ValueError) as e:
            _ext.fused_step(**args)
        assert msg in str(e.value)
    # a strided programs array (a view) is refused when the step runs, before it writes anything
    strided = mx.concatenate([prog, prog, prog, prog])[::2]  # (2, R, 16), every other program
    args = dict(kind=0, step=step, programs=strided, groups=[group], tensors=_ext.FusedTensors(**place), grads=[g],
                param_sources=[g], states=[[flat]])
    with pytest.raises(ValueError, match=r"\[FusedStep::eval\] the program must be row-contiguous"):
        mx.eval(_ext.fused_step(**args)["step"])
    # the named results, each where the primitive put it
    args = dict(kind=1, step=step, programs=prog, groups=[group], tensors=_ext.FusedTensors(**place), grads=[g],
                param_sources=[g], states=[[flat[:3], flat[3:6]]])
    out = _ext.fused_step(**args)
    assert sorted(out) == ["hypers", "learning_rate", "params", "states", "step"]
    assert out["hypers"].shape == (1 + _ext.OPT_HPS,)
    assert out["step"].item() == 1 and out["learning_rate"].shape == ()
    assert [p.shape for p in out["params"]] == [(3,)] and [[a.shape for a in b] for b in out["states"]] == [[(3,), (3,)]]
    with pytest.raises(ValueError, match="the view must lie inside a flat"):
        _ext.flat_view(flat, 60, [2, 3])


def test_docstring_examples():
    import doctest

    from mlx_sched.optimizers import _adam, _fused, _sgd

    failed = attempted = 0
    for mod in (fo, _fused, _sgd, _adam):  # the package and the modules its classes live in
        r = doctest.testmod(mod, extraglobs={"mlx_sched": ms}, optionflags=doctest.ELLIPSIS)
        failed, attempted = failed + r.failed, attempted + r.attempted
    assert failed == 0 and attempted >= 6


def test_many_tensors_and_strided_gradients():
    """400 tensors, 40 of them with transposed gradients: more than the CUDA
    kernel's argument holds (320 tensors, 32 layouts; the table goes to a
    buffer), still the numbers of mlx.optimizers."""
    rng = np.random.default_rng(5)
    params = {f"t{i}": mx.array(rng.normal(size=(3, 5 + i % 7)).astype(np.float32)) for i in range(400)}
    grads = {}
    for i, (k, p) in enumerate(params.items()):
        g = rng.normal(size=p.shape[::-1]).astype(np.float32)
        grads[k] = mx.array(g).T if i % 10 == 0 else mx.array(g.T.copy())
    mx.eval(params, grads)
    ours, ref = fo.AdamW(ms.cosine_decay(1e-2, 10), eps=1e-3), optim.AdamW(ms.cosine_decay(1e-2, 10), eps=1e-3)
    p1, p2 = params, params
    for _ in range(3):
        p1 = ours.apply_gradients(grads, p1)
        p2 = ref.apply_gradients(grads, p2)
        mx.eval(p1, p2, ours.state, ref.state)
    assert max_rel_diff(p1, p2) <= TOL["float32"]
    assert ours.state["step"].item() == 3
    assert ours.state["learning_rate"].item() == pytest.approx(ref.state["learning_rate"].item(), rel=1e-6)
