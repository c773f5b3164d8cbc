"""Conformance with MLX's own optimizer tests, written for mlx_sched.optimizers.

Mirrors: ml-explore/mlx, python/tests/test_optimizers.py at commit
846d176227a0ac13d2667e58d2bb68b322109ab0 (the file last changed in 77a0c1e8ae16;
mlx 0.32.4's mlx/optimizers/optimizers.py is the same code): the SGD, Adam and
AdamW tests of TestOptimizers and the tests of TestSchedulers that drive an
optimizer with a schedule. The schedule-only tests of TestSchedulers are
mirrored in tests/compat/test_mlx_schedulers.py.

The code here is mlx-sched's own: no test of MLX's is reproduced. Every test
below carries ``@mirrors(...)``, naming the MLX test whose situation it sets
up (the same arguments, shapes and step counts) and whose assertions it makes
(the same expected values and tolerances). Expected values MLX writes as
numbers are kept as numbers; those MLX derives from a formula come from the
float64 references in this file (_Ref: mlx.optimizers' update rules;
_torch_adamw: torch.optim.AdamW's documented algorithm) or from
tests/oracle.py for schedules. Where it costs nothing, a test also runs
mlx.optimizers side by side on the same inputs and compares (our additions;
marked "side by side").

Where MLX reads ``optim.state[path][name]`` (its per-parameter tree), we read
``optim.param_state(path)[name]``: our states live in flat buffers
(README, "How the fused optimizers behave in a training loop").
Where our documented behaviour differs on purpose, the test states MLX's
expectation as a strict xfail with the README's reason, next to a test of
what we do instead. MLX tests that are not mirrored are listed in NOT_MIRRORED
with the reason; test_coverage_is_accounted_for keeps the list honest.
"""

from functools import partial
from typing import Dict

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_map, tree_unflatten

import mlx_sched as ms
import oracle
from mlx_sched import optimizers as fo

PEER = "ml-explore/mlx python/tests/test_optimizers.py@846d176227a0ac13d2667e58d2bb68b322109ab0"

# Every test of the peer file, by class; what this file (or the schedules file) does with it.
PEER_TESTS = {
    "TestOptimizers": [
        "test_optimizer_state", "test_optimizers", "test_types_conserved", "test_sgd", "test_rmsprop",
        "test_adagrad", "test_adadelta", "test_epsilon_validation", "test_adam", "test_adamw_matches_pytorch",
        "test_lion", "test_adafactor", "test_muon", "test_compiled_optimizer", "test_update_lr_compiled",
    ],
    "TestSchedulers": [
        "test_decay_lr", "test_step_decay", "test_exponential_decay", "test_cosine_decay", "test_schedule_joiner",
        "test_linear_warmup_with_cosine_decay", "test_compile_with_schedule", "test_clip_grad_norm",
        "test_init_from_state", "test_multi_optimizer", "test_multi_optimizer_with_parameterless_layers",
    ],
}
_OTHER = "an optimizer mlx_sched does not provide (only SGD/Adam/AdamW)"
NOT_MIRRORED = {
    "TestOptimizers.test_rmsprop": _OTHER,
    "TestOptimizers.test_adagrad": _OTHER,
    "TestOptimizers.test_adadelta": _OTHER,
    "TestOptimizers.test_epsilon_validation": _OTHER + " (RMSprop/Adagrad/AdaDelta's eps)",
    "TestOptimizers.test_lion": _OTHER,
    "TestOptimizers.test_adafactor": _OTHER,
    "TestOptimizers.test_muon": _OTHER,
    "TestSchedulers.test_clip_grad_norm": "mlx.optimizers.clip_grad_norm, a function on gradient trees, not an optimizer",
    "TestSchedulers.test_multi_optimizer": "MultiOptimizer's own state layout; our groups= against MultiOptimizer: "
                                           "tests/test_fused_optimizers.py, tests/test_optimizer_state_machine.py",
    "TestSchedulers.test_multi_optimizer_with_parameterless_layers": "MultiOptimizer with Muon (not ours)",
}
IN_SCHEDULES_FILE = {  # schedules alone, no optimizer: tests/compat/test_mlx_schedulers.py
    "TestSchedulers.test_step_decay", "TestSchedulers.test_exponential_decay", "TestSchedulers.test_cosine_decay",
    "TestSchedulers.test_schedule_joiner",
}

_MIRRORED: Dict[str, str] = {}  # our test function -> the MLX test it mirrors


def mirrors(mlx_test: str, note: str = ""):
    """Record which MLX test (``Class.test_name`` of PEER) a test of ours mirrors."""
    def tag(fn):
        fn.mirrors = f"{PEER} {mlx_test}"
        _MIRRORED[fn.__name__] = mlx_test
        return fn
    return tag


# ---- the classes side by side: name -> (ours, mlx.optimizers), same signature

PAIRS: Dict[str, tuple] = {"SGD": (fo.SGD, optim.SGD), "Adam": (fo.Adam, optim.Adam), "AdamW": (fo.AdamW, optim.AdamW)}
NAMES = list(PAIRS)

# relative tolerance per dtype against MLX or the float64 reference (tests/test_fused_optimizers.py's TOL)
TOL = {mx.float32: 1e-5, mx.bfloat16: 2**-7, mx.float16: 2**-10}


def _mlx_test_tree():
    """The parameter tree most MLX optimizer tests use: a list of two vectors and a vector."""
    return {"first": [mx.zeros((10,)), mx.zeros((1,))], "second": mx.zeros((1,))}


def _ones_like_tree(tree):
    return tree_map(mx.ones_like, tree)


def _paths(tree):
    return [k for k, _ in tree_flatten(tree)]


def _mlx_state(opt_, path):
    """mlx.optimizers' per-parameter state at a dotted path (its state is a tree like the parameters)."""
    node = opt_.state
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def _per_parameter(ours, params):
    """Our states arranged as mlx.optimizers arranges its own: one dict per parameter, in the parameters' tree.
    This is how to get, from our flat layout, what MLX's tests read from ``optim.state``."""
    return tree_unflatten([(k, ours.param_state(k)) for k in _paths(params)])


def _close(got, want, dtype=mx.float32):
    np.testing.assert_allclose(np.array(got.astype(mx.float32)), np.asarray(want, np.float64).astype(np.float32),
                               rtol=TOL[dtype], atol=TOL[dtype] * 1e-3)


class _Ref:
    """mlx.optimizers 0.32.4's update rules for SGD/Adam/AdamW, in float64 numpy, one parameter at a time."""

    def __init__(self, name, learning_rate, **kw):
        self.name, self.lr, self.kw, self.t, self.s = name, learning_rate, kw, 0, {}

    def step(self, path, p, g):
        p = np.asarray(p, np.float64)
        g = np.asarray(g, np.float64)
        kw, lr = self.kw, self.lr
        if path not in self.s:
            self.s[path] = {"m": np.zeros_like(p), "v": np.zeros_like(p)}
        st = self.s[path]
        if self.name == "SGD":
            mom, wd = kw.get("momentum", 0.0), kw.get("weight_decay", 0.0)
            damp, nest = kw.get("dampening", 0.0), kw.get("nesterov", False)
            if wd:
                g = g + wd * p
            if mom <= 0:
                return p - lr * g
            st["v"] = mom * st["v"] + ((1 - damp) * g if damp > 0 else g)
            return p - lr * (g + mom * st["v"] if nest else st["v"])
        b1, b2 = kw.get("betas", (0.9, 0.999))
        eps, bc = kw.get("eps", 1e-8), kw.get("bias_correction", False)
        if self.name == "AdamW":
            p = p * (1 - lr * kw.get("weight_decay", 0.01))
        st["m"] = b1 * st["m"] + (1 - b1) * g
        st["v"] = b2 * st["v"] + (1 - b2) * g * g
        if bc:
            t = self.t
            return p - (lr / (1 - b1**t)) * st["m"] / (np.sqrt(st["v"]) / np.sqrt(1 - b2**t) + eps)
        return p - lr * st["m"] / (np.sqrt(st["v"]) + eps)

    def apply(self, grads, params):
        self.t += 1
        g = dict(tree_flatten(grads))
        return tree_unflatten([(k, self.step(k, p, g[k])) for k, p in tree_flatten(params)])


def _torch_adamw(p, g, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, t=1, m=None, v=None):
    """One step of torch.optim.AdamW as its documentation writes the algorithm (amsgrad off), float64."""
    p, g = np.asarray(p, np.float64), np.asarray(g, np.float64)
    m = np.zeros_like(p) if m is None else m
    v = np.zeros_like(p) if v is None else v
    p = p - lr * weight_decay * p
    m = betas[0] * m + (1 - betas[0]) * g
    v = betas[1] * v + (1 - betas[1]) * g * g
    m_hat, v_hat = m / (1 - betas[0] ** t), v / (1 - betas[1] ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps)


# ================================ TestOptimizers ================================


@mirrors("TestOptimizers.test_optimizers")
@pytest.mark.parametrize("name", NAMES)
def test_update_keeps_the_tree_and_shapes(name):
    """lr 0.1, the zeros tree, gradients of ones: the returned tree has the parameters' structure and shapes."""
    params, grads = _mlx_test_tree(), _ones_like_tree(_mlx_test_tree())
    updated = PAIRS[name][0](0.1).apply_gradients(grads, params)
    mx.eval(updated)
    assert tree_flatten(tree_map(lambda _: 0, updated)) == tree_flatten(tree_map(lambda _: 0, params))
    for (k, p), (_, u) in zip(tree_flatten(params), tree_flatten(updated)):
        assert u.shape == p.shape, k
    # our addition: the values, against the float64 reference and against mlx.optimizers side by side
    want = _Ref(name, 0.1).apply(grads, params)
    theirs = PAIRS[name][1](0.1).apply_gradients(grads, params)
    for k, u in tree_flatten(updated):
        _close(u, dict(tree_flatten(want))[k])
        _close(u, np.array(dict(tree_flatten(theirs))[k]))


@mirrors("TestOptimizers.test_types_conserved")
@pytest.mark.parametrize("name", NAMES)
def test_float16_stays_float16(name):
    """A float16 (5, 5) parameter of ones, float16 gradients, lr 0.1: the update is float16."""
    params = {"w": mx.ones((5, 5), mx.float16)}
    grads = _ones_like_tree(params)
    got = PAIRS[name][0](0.1).apply_gradients(grads, params)["w"]
    assert got.dtype == mx.float16
    # side by side: mlx.optimizers' float16 result
    _close(got, np.array(PAIRS[name][1](0.1).apply_gradients(grads, params)["w"].astype(mx.float32)), mx.float16)


@mirrors("TestOptimizers.test_sgd")
def test_sgd_velocity_after_init_and_after_one_step():
    """SGD(1e-2, momentum=0.9): after init every velocity is zeros of its parameter's shape; after one step
    from a fresh optimizer (state made implicitly) the velocity equals the gradient."""
    params, grads = _mlx_test_tree(), _ones_like_tree(_mlx_test_tree())
    explicit = fo.SGD(learning_rate=1e-2, momentum=0.9)
    explicit.init(params)
    for k, p in tree_flatten(params):
        assert mx.array_equal(explicit.param_state(k)["v"], mx.zeros_like(p)), k

    implicit = fo.SGD(learning_rate=1e-2, momentum=0.9)
    implicit.apply_gradients(grads, params)
    for k, g in tree_flatten(grads):
        assert mx.array_equal(implicit.param_state(k)["v"], g), k

    # side by side: arranged per parameter, our states equal mlx.optimizers' state tree
    theirs = optim.SGD(learning_rate=1e-2, momentum=0.9)
    theirs.apply_gradients(grads, params)
    ours_tree = _per_parameter(implicit, params)
    for k in _paths(params):
        assert mx.array_equal(dict(tree_flatten(ours_tree))[k + ".v"], _mlx_state(theirs, k)["v"]), k


@mirrors("TestOptimizers.test_adam")
@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_moments_start_at_zero(name):
    """Adam/AdamW(1e-2) after init: both moments are zeros of each parameter's shape (MLX includes Adamax: not ours)."""
    params = _mlx_test_tree()
    o = PAIRS[name][0](learning_rate=1e-2)
    o.init(params)
    for k, p in tree_flatten(params):
        st = o.param_state(k)
        assert mx.array_equal(st["m"], mx.zeros_like(p)), k
        assert mx.array_equal(st["v"], mx.zeros_like(p)), k


@mirrors("TestOptimizers.test_adam")
def test_adam_float16_gradients_give_float16_parameters():
    """The same tree and gradients cast to float16, Adam(1e-2, bias_correction=True): every result is float16."""
    params = tree_map(lambda a: a.astype(mx.float16), _mlx_test_tree())
    grads = _ones_like_tree(params)
    new = fo.Adam(1e-2, bias_correction=True).apply_gradients(grads, params)
    assert all(a.dtype == mx.float16 for _, a in tree_flatten(new))
    theirs = optim.Adam(1e-2, bias_correction=True).apply_gradients(grads, params)  # side by side
    for (k, a), (_, b) in zip(tree_flatten(new), tree_flatten(theirs)):
        _close(a, np.array(b.astype(mx.float32)), mx.float16)


@mirrors("TestOptimizers.test_adamw_matches_pytorch",
         "torch is not a test dependency: its AdamW is the float64 transcription _torch_adamw")
def test_adamw_one_step_matches_torch_algorithm():
    """Linear(3, 1), MSE of random (3, 3) inputs against (3, 1) targets (numpy seed 0, mlx seed 0),
    AdamW(3e-4, bias_correction=True) one update: gradients and parameters np.allclose (default tolerances)
    to torch.optim.AdamW(lr=3e-4) on the same start."""
    mx.random.seed(0)
    rng = np.random.RandomState(0)
    model = nn.Linear(3, 1)
    w0, b0 = np.array(model.weight, np.float64), np.array(model.bias, np.float64)
    x, y = rng.rand(3, 3), rng.rand(3, 1)

    def loss_fn(m, xs, ys):
        return nn.losses.mse_loss(m(xs), ys)

    _, grads = nn.value_and_grad(model, loss_fn)(model, mx.array(x), mx.array(y))
    fo.AdamW(learning_rate=3e-4, bias_correction=True).update(model, grads)
    mx.eval(model.parameters())

    # gradients of the mean squared error, by hand (what the MLX test compares with torch's autograd)
    x32, y32 = x.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    dpred = 2.0 * (x32 @ w0.T + b0 - y32) / y32.size
    want_grads = {"weight": dpred.T @ x32, "bias": dpred.sum(axis=0)}
    for k, g in want_grads.items():
        assert np.allclose(g, np.array(grads[k])), k
    # the parameters after torch's AdamW step, from the same gradients
    for k, p0 in (("weight", w0), ("bias", b0)):
        want = _torch_adamw(p0, np.array(grads[k]), lr=3e-4)
        assert np.allclose(want, np.array(model[k])), k


@mirrors("TestOptimizers.test_compiled_optimizer")
def test_compiled_sgd_matches_eager():
    """Linear(10, 10), x uniform (2, 10), loss = sum of the outputs, SGD(1e-2, momentum=0.9), one step three
    ways from the same start: eager update(model, grads); a pure compiled function taking params and the
    state and returning both (assigning the state inside); an impure one compiled with
    inputs=outputs=[model.state, optim.state]. The weights and biases agree (mx.allclose defaults)."""
    model = nn.Linear(10, 10)
    x = mx.random.uniform(shape=(2, 10))
    start = model.parameters()

    def loss_of_model(m, xs):
        return m(xs).sum()

    eager_opt = fo.SGD(learning_rate=1e-2, momentum=0.9)
    _, g = nn.value_and_grad(model, loss_of_model)(model, x)
    eager_opt.update(model, g)
    eager = model.parameters()

    def loss_of_params(params, xs):
        model.update(params)
        return model(xs).sum()

    model.update(start)
    pure_opt = fo.SGD(learning_rate=1e-2, momentum=0.9)

    @mx.compile
    def pure_step(params, opt_state, xs):
        grads = mx.grad(loss_of_params)(params, xs)
        pure_opt.state = opt_state
        return pure_opt.apply_gradients(grads, params), pure_opt.state

    pure_opt.init(model.parameters())
    pure, _ = pure_step(model.parameters(), pure_opt.state, x)

    model.update(start)
    impure_opt = fo.SGD(learning_rate=1e-2, momentum=0.9)
    captured = [model.state, impure_opt.state]

    @partial(mx.compile, inputs=captured, outputs=captured)
    def impure_step(xs):
        _, grads = nn.value_and_grad(model, loss_of_model)(model, xs)
        impure_opt.update(model, grads)

    impure_step(x)
    impure = model.parameters()

    for k in ("weight", "bias"):
        assert mx.allclose(pure[k], eager[k]), k
        assert mx.allclose(impure[k], eager[k]), k
    # side by side: mlx.optimizers' eager step from the same start and gradients
    theirs = optim.SGD(learning_rate=1e-2, momentum=0.9).apply_gradients(g, start)
    for k in ("weight", "bias"):
        assert mx.allclose(eager[k], theirs[k]), k


def _lr_change_under_compile(outputs: bool):
    params = {"w": mx.ones((5, 5))}
    grads = _ones_like_tree(params)
    o = fo.SGD(-1.0)
    kw = {"inputs": o.state, "outputs": o.state} if outputs else {"inputs": o.state}
    update = mx.compile(lambda gs: o.apply_gradients(gs, params), **kw)
    first = update(grads)["w"]
    mx.eval(first)
    o.learning_rate = -2.0
    second = update(grads)["w"]
    mx.eval(second)
    return first, second


@mirrors("TestOptimizers.test_update_lr_compiled")
def test_learning_rate_change_reaches_compiled_step():
    """SGD(-1.0) on ones (5, 5), gradients of ones, compiled with the state captured: the update is 2.0
    everywhere; after ``learning_rate = -2.0`` the same compiled function gives 3.0 (no retrace needed).
    Ours captures the state as outputs too (README: a step writes new flat states)."""
    first, second = _lr_change_under_compile(outputs=True)
    assert mx.allclose(first, mx.full((5, 5), 2.0))
    assert mx.allclose(second, mx.full((5, 5), 3.0))


@mirrors("TestOptimizers.test_update_lr_compiled", "MLX's form: inputs=state only")
@pytest.mark.xfail(raises=RuntimeError, strict=True,
                   reason="README: under mx.compile ours needs outputs=state as well as inputs=state "
                          "(a step writes new flat states, which must leave the trace as outputs)")
def test_learning_rate_change_reaches_compiled_step_inputs_only():
    first, second = _lr_change_under_compile(outputs=False)
    assert mx.allclose(first, mx.full((5, 5), 2.0))
    assert mx.allclose(second, mx.full((5, 5), 3.0))


@mirrors("TestOptimizers.test_optimizer_state", "first half: a key of the caller's own in optim.state")
def test_state_holds_a_key_of_the_callers_own():
    """``optim.state["hello"] = "world"`` on SGD(0.1) reads back; ours keeps it through a step."""
    o = fo.SGD(0.1)
    o.state["hello"] = "world"
    assert o.state["hello"] == "world"
    o.apply_gradients({"w": mx.ones((3,))}, {"w": mx.ones((3,))})  # our addition: a step leaves it alone
    assert o.state["hello"] == "world"


@mirrors("TestOptimizers.test_optimizer_state", "second half: an arbitrary object as the whole state")
@pytest.mark.xfail(raises=ValueError, strict=True,
                   reason="README: an assigned state is checked (step, learning_rate, fused buckets against "
                          "the layout); {0: 1} is refused with a ValueError")
def test_state_accepts_any_tree():
    o = fo.SGD(0.1)
    o.state = {0: 1}
    assert o.state == {0: 1}


# ================================ TestSchedulers (with an optimizer) ================================


@mirrors("TestSchedulers.test_decay_lr")
@pytest.mark.parametrize("name", NAMES)
def test_step_decay_drives_the_learning_rate(name):
    """step_decay(0.1, 0.9, 1), w ones (5, 5), gradients ones, 10 updates: after update it + 1 the learning
    rate is 0.1 * 0.9**it within 1e-7 (expected: tests/oracle.py)."""
    o = PAIRS[name][0](learning_rate=ms.step_decay(1e-1, 0.9, 1))
    params = {"w": mx.ones((5, 5))}
    grads = _ones_like_tree(params)
    for it in range(10):
        o.apply_gradients(grads, params)
        assert abs(o.learning_rate.item() - oracle.value(("step", 0.1, 0.9, 1), it)) <= 1e-7, it


def _warmup_cosine_ours():
    return ms.join_schedules([ms.linear_schedule(0.0, 1e-5, 100), ms.cosine_decay(1e-5, 100)], [101])


def _warmup_cosine_mlx():
    return optim.join_schedules([optim.linear_schedule(0.0, 1e-5, 100), optim.cosine_decay(1e-5, 100)], [101])


@mirrors("TestSchedulers.test_linear_warmup_with_cosine_decay", "the optimizer half; the schedule half: schedules file")
def test_warmup_cosine_drives_adam_with_empty_trees():
    """Adam driven by linear warmup 0 -> 1e-5 over 100 steps joined at 101 to cosine_decay(1e-5, 100),
    update({}, {}) 100 times then 100 more: the learning rate is within 1e-1 of 1e-5 both times (MLX's
    numbers; its second expected value 1e-5 * 0.5 * (1 + cos(20 pi)) is 1e-5)."""
    ours = fo.Adam(learning_rate=_warmup_cosine_ours())
    theirs = optim.Adam(learning_rate=_warmup_cosine_mlx())
    spec = ("join", [("linear", 0.0, 1e-5, 100), ("cosine", 1e-5, 100, 0.0)], [101])
    for k in (100, 200):
        for _ in range(100):
            ours.update({}, {})
            theirs.update({}, {})
        lr = ours.learning_rate.item()
        assert abs(lr - 1e-5) <= 1e-1, k
        # our additions: the schedule at step k - 1 (float64 oracle), and mlx.optimizers side by side
        assert lr == pytest.approx(oracle.value(spec, k - 1), rel=1e-6, abs=1e-12), k
        assert lr == pytest.approx(theirs.learning_rate.item(), rel=1e-6, abs=1e-12), k
        assert ours.state["step"].item() == k


@mirrors("TestSchedulers.test_compile_with_schedule")
def test_schedule_under_compile_with_empty_trees():
    """SGD(exponential_decay(0.1, 0.9)), update({}, {}) compiled with inputs=outputs=state, 5 calls: after
    call step + 1 the learning rate equals the schedule at step to 7 decimal places (assertAlmostEqual)."""
    schedule = ms.exponential_decay(1e-1, 0.9)
    o = fo.SGD(learning_rate=schedule)
    update = mx.compile(lambda: o.update({}, {}), inputs=o.state, outputs=o.state)
    for step in range(5):
        update()
        lr = o.learning_rate.item()
        assert round(abs(schedule(step).item() - lr), 7) == 0, step
        assert round(abs(oracle.value(("exp", 0.1, 0.9), step) - lr), 7) == 0, step  # our addition


class _NestedModel(nn.Module):
    """Two Linear(2, 2), a Dropout between, and a list of a Linear(2, 2) and two ReLUs (MLX's test model)."""

    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(2, 2)
        self.drop = nn.Dropout(p=0.5)
        self.l2 = nn.Linear(2, 2)
        self.vals = [nn.Linear(2, 2), nn.ReLU(), nn.ReLU()]


@mirrors("TestSchedulers.test_init_from_state")
@pytest.mark.parametrize("saved_by", ["mlx_sched", "mlx.optimizers"])
def test_resume_from_flattened_state(saved_by):
    """Adam(3e-4) initialised on the model's trainable parameters, its state flattened (as for saving);
    a new Adam(3e-4) is given tree_unflatten of it and updates the model (gradients = the parameters)
    without error. saved_by=mlx.optimizers (our addition): MLX's per-parameter state is converted."""
    model = _NestedModel()
    start = model.trainable_parameters()
    first = fo.Adam(learning_rate=3e-4) if saved_by == "mlx_sched" else optim.Adam(learning_rate=3e-4)
    first.init(start)
    saved = tree_flatten(first.state)

    resumed = fo.Adam(learning_rate=3e-4)
    resumed.state = tree_unflatten(saved)
    resumed.update(model, model.trainable_parameters())
    mx.eval(model.parameters())

    # side by side: mlx.optimizers doing the same from its own saved state
    reference = optim.Adam(learning_rate=3e-4)
    reference.init(start)
    again = optim.Adam(learning_rate=3e-4)
    again.state = tree_unflatten(tree_flatten(reference.state))
    want = again.apply_gradients(start, start)
    for (k, got), (_, w) in zip(tree_flatten(model.trainable_parameters()), tree_flatten(want)):
        _close(got, np.array(w))
    assert resumed.state["step"].item() == 1


# ================================ bookkeeping ================================


def test_every_test_here_names_what_it_mirrors():
    here = {n: f for n, f in globals().items() if n.startswith("test_") and callable(f)}
    own = {"test_every_test_here_names_what_it_mirrors", "test_coverage_is_accounted_for"}
    for n, f in here.items():
        if n not in own:
            assert getattr(f, "mirrors", "").startswith(PEER), n
    peer = {f"{c}.{t}" for c, ts in PEER_TESTS.items() for t in ts}
    assert set(_MIRRORED.values()) <= peer


def test_coverage_is_accounted_for():
    """Each test of the peer file is mirrored here, mirrored in the schedules file, or listed in NOT_MIRRORED."""
    peer = {f"{c}.{t}" for c, ts in PEER_TESTS.items() for t in ts}
    mirrored = set(_MIRRORED.values())
    assert not (mirrored & set(NOT_MIRRORED)) and not (mirrored & IN_SCHEDULES_FILE)
    assert mirrored | set(NOT_MIRRORED) | IN_SCHEDULES_FILE == peer, peer - mirrored - set(NOT_MIRRORED) - IN_SCHEDULES_FILE
