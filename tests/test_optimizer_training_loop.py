"""The training-loop situations of issue 14, each against mlx.optimizers 0.32.4
(bit for bit on the CPU): hyperparameter changes eager and compiled, frozen
layers, parameters added, dtype changes, errors that change nothing, >4-D
strided tensors, empty trees, deepcopy/pickle, loading states (ours, MLX's,
mismatches), shapeless compile."""

import copy
import pickle
from functools import partial

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import pytest
from mlx.utils import tree_flatten, tree_unflatten

import mlx_sched as ms
from mlx_sched import optimizers as fo


def _equal(x, y):
    """Bit for bit on the CPU. On a GPU, MLX's compiled (JIT-fused) kernels
    round an op differently from its eager ones (seen on the H100: Adam's
    parameters one ulp apart after compiled steps), so there float32 closeness:
    a state replayed on the wrong layout is off by far more."""
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if mx.array_equal(x, y).item():
        return True
    return mx.default_device() != mx.cpu and mx.allclose(x, y, rtol=1e-5, atol=1e-7).item()


def same(a, b):
    fa, fb = tree_flatten(a), tree_flatten(b)
    assert [k for k, _ in fa] == [k for k, _ in fb]
    bad = [k for (k, x), (_, y) in zip(fa, fb) if not _equal(x, y)]
    assert not bad, bad
    return True


def tiny(mod, change, compiled):
    """Issue 14's SGD(0.1, momentum=0.9): 6 steps, `change` before step 4."""
    opt = mod.SGD(0.1, momentum=0.9)
    model = nn.Linear(2, 1)
    model.update(tree_unflatten([("weight", mx.array([[0.3, -0.2]])), ("bias", mx.array([0.5]))]))
    lg = nn.value_and_grad(model, lambda m, x: (m(x) ** 2).sum())

    def step(x):
        _, g = lg(model, x)
        opt.update(model, g)

    if compiled:
        opt.init(model.trainable_parameters())
        state = [model.state, opt.state]
        step = mx.compile(step, inputs=state, outputs=state)
    for t in range(6):
        if t == 3:
            change(opt)
        step(mx.array([[1.0, 2.0]]))
        mx.eval(model.parameters(), opt.state)
    return model.parameters()


CHANGES = {
    "setter": lambda o: setattr(o, "learning_rate", 0.0),
    "state": lambda o: o.state.__setitem__("learning_rate", mx.array(0.0)),
    "momentum": lambda o: setattr(o, "momentum", 0.0),
    "weight_decay": lambda o: setattr(o, "weight_decay", 0.5),
    "dampening": lambda o: setattr(o, "dampening", 0.3),
}


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("change", list(CHANGES))
def test_hyperparameter_changes(change, compiled):
    """Eagerly every change takes effect; under mx.compile the learning rate
    (state) does and attributes keep their traced values -- as in MLX."""
    ours, theirs = tiny(fo, CHANGES[change], compiled), tiny(optim, CHANGES[change], compiled)
    # within a last bit: MLX's forward can round differently on its own
    # parameter arrays than on equal ones (its layouts); the errors were 100%
    for (k, x), (_, y) in zip(tree_flatten(ours), tree_flatten(theirs)):
        assert mx.allclose(x, y, rtol=1e-6, atol=0).item(), (k, x, y)


def test_learning_rate_setter_on_a_schedule_is_overwritten_as_in_mlx():
    ours, ref = fo.SGD(ms.step_decay(1.0, 0.5, 2)), optim.SGD(ms.step_decay(1.0, 0.5, 2))
    p1 = p2 = {"w": mx.zeros((3,))}
    for t in range(6):
        if t == 2:
            ours.learning_rate = ref.learning_rate = 0.01  # MLX: the scheduler overwrites it
        p1 = ours.apply_gradients({"w": mx.ones((3,))}, p1)
        p2 = ref.apply_gradients({"w": mx.ones((3,))}, p2)
        assert same(p1, p2) and ours.learning_rate.item() == ref.learning_rate.item()
    ours.learning_rate = ms.constant(0.01)  # a schedule replaces it (MLX has no way)
    p1 = ours.apply_gradients({"w": mx.ones((3,))}, p1)
    assert ours.learning_rate.item() == pytest.approx(0.01)


def run_freeze(mod, kind):
    mx.random.seed(1)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x, y = mx.random.normal((5, 4)), mx.random.normal((5, 3))
    opt = getattr(mod, kind)(1e-2)
    opt.init(model.trainable_parameters())
    lg = nn.value_and_grad(model, lambda m, x, y: ((m(x) - y) ** 2).mean())
    for t in range(12):
        if t == 2:
            model.layers[0].freeze()
        if t == 4:
            model.layers[0].unfreeze()
        if t == 7:
            model.layers[2].freeze(keys=["bias"])  # a partial tree
        _, g = lg(model, x, y)
        opt.update(model, g)
        mx.eval(model.parameters(), opt.state)
        if mod is fo and t == 2:
            assert opt.param_state("layers.0.weight")[opt._STATES[0]].shape == (8, 4)
    return model, opt


@pytest.mark.parametrize("kind", ["SGD", "Adam", "AdamW"])
def test_frozen_layers_keep_their_state(kind):
    m1, o1 = run_freeze(fo, kind)
    m2, o2 = run_freeze(optim, kind)
    assert same(m1.parameters(), m2.parameters())
    for path, _ in tree_flatten(m1.parameters()):
        assert same(o1.param_state(path), tree_flatten_lookup(o2.state, path))


def tree_flatten_lookup(tree, path):
    for k in path.split("."):
        tree = tree[int(k)] if isinstance(tree, list) else tree[k]
    return tree


def test_parameters_added_and_dtype_changes():
    for kind, kw in [("SGD", dict(momentum=0.9)), ("Adam", {}), ("AdamW", dict(bias_correction=False))]:
        a, r = getattr(fo, kind)(0.1, **kw), getattr(optim, kind)(0.1, **kw)
        pa = pr = {"w": mx.ones((3,)) * 0.3}
        pa = a.apply_gradients({"w": mx.ones((3,))}, pa)
        pr = r.apply_gradients({"w": mx.ones((3,))}, pr)
        pa = {**pa, "z": mx.ones((2,), mx.bfloat16), "y": mx.ones((4,))}  # a new dtype, appended last
        pr = {**pr, "z": pa["z"], "y": pa["y"]}
        r.init(pr)  # MLX needs it (KeyError otherwise); ours starts them from zero by itself
        for t in range(4):
            if t == 2:  # set_dtype: MLX promotes with the float32 state
                pa = {**pa, "w": pa["w"].astype(mx.bfloat16)}
                pr = {**pr, "w": pr["w"].astype(mx.bfloat16)}
            g = {k: mx.ones(v.shape, v.dtype) * 0.7 for k, v in pa.items()}
            pa, pr = a.apply_gradients(g, pa), r.apply_gradients(g, pr)
            mx.eval(pa, a.state)
            assert same(pa, pr)
            for k in pa:
                assert same(a.param_state(k), r.state[k])


def test_errors_change_nothing_and_leave_the_optimizer_usable():
    opt = fo.Adam(0.1)
    p = {"w": mx.ones((2, 3)), "b": mx.ones((3,))}
    p = opt.apply_gradients({"w": mx.ones((2, 3)), "b": mx.ones((3,))}, p)
    mx.eval(p, opt.state)
    before = dict(tree_flatten(opt.state))
    for bad in [{"w": mx.ones((3, 3)), "b": mx.ones((3,))}, {"w": mx.ones((2, 3), mx.int32)}, {"x": mx.ones((2,))},
                {"w": "not an array"}]:
        with pytest.raises((ValueError, TypeError, KeyError)):
            opt.apply_gradients(bad, p)
        after = dict(tree_flatten(opt.state))
        assert after.keys() == before.keys() and all(after[k] is before[k] for k in before)
    opt.state["learning_rate"] = mx.zeros((5,))  # a bad learning rate (float learning rates are read from it)
    with pytest.raises(ValueError, match="state\\['learning_rate'\\] must be"):
        opt.apply_gradients({"w": mx.ones((2, 3))}, p)
    opt.state["learning_rate"] = mx.array(0.1)
    p2 = opt.apply_gradients({"w": mx.ones((2, 3)), "b": mx.ones((3,))}, p)
    r = optim.Adam(0.1)
    q = r.apply_gradients({"w": mx.ones((2, 3)), "b": mx.ones((3,))}, {"w": mx.ones((2, 3)), "b": mx.ones((3,))})
    assert same(p2, r.apply_gradients({"w": mx.ones((2, 3)), "b": mx.ones((3,))}, q))


def test_five_dim_transposed_parameters_and_gradients():
    """More than 4 non-mergeable strided dims: copied for the kernel; the
    issue's segfault after the failed step is gone with the failure."""
    mx.random.seed(0)
    p = {"w": mx.random.normal((2, 3, 2, 3, 2)).transpose(4, 3, 2, 1, 0)}
    g = {"w": mx.random.normal((2, 3, 2, 3, 2)).transpose(4, 3, 2, 1, 0)}
    a, r = fo.Adam(0.1), optim.Adam(0.1)
    assert same(a.apply_gradients(g, p), r.apply_gradients(g, p))
    assert a.state["step"].item() == 1


def test_empty_tree_deepcopy_pickle():
    a = fo.Adam(0.1)
    assert a.apply_gradients({}, {}) == {} and a.state["step"].item() == 1
    a = fo.AdamW(ms.cosine_decay(0.1, 10))
    p = a.apply_gradients({"w": mx.ones((3,))}, {"w": mx.ones((3,))})
    outs = [o.apply_gradients({"w": mx.ones((3,))}, p) for o in (copy.deepcopy(a), pickle.loads(pickle.dumps(a)), a)]
    assert same(outs[0], outs[2]) and same(outs[1], outs[2])
    state = tree_unflatten(tree_flatten(a.state))
    assert same(state, a.state)


def test_loading_states():
    r, a = optim.Adam(0.1), fo.Adam(0.1)
    p = {"w": mx.ones((3,)), "b": {"c": mx.ones((2, 2))}}
    g = {"w": mx.ones((3,)) * 0.5, "b": {"c": mx.ones((2, 2))}}
    p1 = r.apply_gradients(g, p)
    a.state = r.state  # an mlx.optimizers state, converted
    assert same(a.apply_gradients(g, p1), r.apply_gradients(g, p1))
    saved = tree_flatten(a.state)
    for model, msg in [({"x": mx.ones((3,))}, "parameter 'x' has no state"),
                       ({"w": mx.ones((4,)), "b": {"c": mx.ones((2, 2))}}, "parameter 'w' has shape \\(4,\\)")]:
        b = fo.Adam(0.1)
        b.state = tree_unflatten(saved)
        with pytest.raises(ValueError, match=msg):
            b.apply_gradients(model, model)
    with pytest.raises(ValueError, match="SGD keeps \\['v'\\]"):
        fo.SGD(0.1).state = r.state
    with pytest.raises(ValueError, match="another kind of optimizer"):
        fo.SGD(0.1).state = tree_unflatten(saved)
    bad = dict(saved)
    bad["fused.float32.m"] = bad["fused.float32.m"][:64]
    with pytest.raises(ValueError, match="the states of 'w'"):
        fo.Adam(0.1).state = tree_unflatten(list(bad.items()))
    with pytest.raises(ValueError, match="no 'layout'"):
        fo.Adam(0.1).state = {k: v for k, v in tree_unflatten(saved).items() if k != "layout"}


def test_shapeless_compile():
    a, r = fo.Adam(0.1), optim.Adam(0.1)
    p = {"w": mx.ones((3,)), "b": mx.ones((2, 2))}
    a.init(p)
    r.init(p)
    sa, sr = [a.state], [r.state]
    fa = mx.compile(lambda g, p: a.apply_gradients(g, p), inputs=sa, outputs=sa, shapeless=True)
    fr = mx.compile(lambda g, p: r.apply_gradients(g, p), inputs=sr, outputs=sr, shapeless=True)
    g = {"w": mx.ones((3,)) * 0.5, "b": mx.ones((2, 2))}
    pa = pr = p
    for _ in range(3):
        pa, pr = fa(g, pa), fr(g, pr)
    assert same(pa, pr)
    with pytest.raises(ValueError, match="shapeless=True"):
        fa({"w": mx.ones((4,)), "b": mx.ones((2, 2))}, {"w": mx.ones((4,)), "b": mx.ones((2, 2))})
    assert a.state["step"].item() == 3


def _compiled_after_relayout(mod, events):
    """Adam side by side through ``events``: ("add", path, shape), ("freeze",
    path), ("unfreeze", path), ("step", compiled), ("recompile",). The
    compiled function is made afresh after "recompile" only."""
    rng = __import__("numpy").random.default_rng(0)
    opt = mod.Adam(0.01)
    params, frozen, fn = {}, set(), None
    for ev in events:
        if ev[0] == "add":
            params[ev[1]] = mx.array(rng.normal(size=ev[2]).astype("float32"))
            opt.init(params)  # mlx.optimizers needs it for a new parameter
        elif ev[0] == "freeze":
            frozen.add(ev[1])
        elif ev[0] == "unfreeze":
            frozen.discard(ev[1])
        elif ev[0] == "recompile":
            fn = mx.compile(lambda g, p: opt.apply_gradients(g, p), inputs=[opt.state], outputs=[opt.state])
        else:
            g = {k: mx.array(rng.normal(size=v.shape).astype("float32")) for k, v in params.items()
                 if k not in frozen}
            params.update(fn(g, params) if ev[1] else opt.apply_gradients(g, params))
            mx.eval(params, opt.state)
    states = {k: (opt.param_state(k) if mod is fo else opt.state[k]) for k in params}
    return params, states


RELAYOUTS = {
    # the state machine's find (benchmarks/repro_compiled_freeze.py): a0 frozen,
    # then unfrozen while a2 is frozen and a5 added; the first compiled step
    # lays float32 out again ([a0 b1 a3 a4 a5] [a2] for [b1 a2 a3 a4 a5] [a0]:
    # the same shapes), the second replayed that move on the moved states
    "unfreeze_while_freezing": [
        ("add", "a0", (2, 3)), ("add", "b1", (5,)), ("add", "a2", (3, 2, 2)), ("add", "a3", (2, 3)),
        ("step", False), ("step", False), ("freeze", "a0"), ("add", "a4", (2, 3)),
        ("step", False), ("step", False), ("add", "a5", (2, 3)), ("unfreeze", "a0"), ("freeze", "a2"),
        ("recompile",), ("step", True), ("step", True), ("step", True)],
    # one compiled function throughout; eager steps with other frozen sets in
    # between lay the states out again with the same shapes, and back
    "same_function_eager_relayouts": [
        ("add", "a", (2, 3)), ("add", "b", (5,)), ("add", "c", (2, 3)), ("recompile",),
        ("freeze", "b"), ("step", True), ("step", True), ("unfreeze", "b"),
        ("freeze", "a"), ("step", False), ("unfreeze", "a"), ("freeze", "c"), ("step", False),
        ("unfreeze", "c"), ("freeze", "b"), ("step", True), ("step", True), ("step", False), ("step", True),
        ("unfreeze", "b"), ("freeze", "a"), ("step", False), ("unfreeze", "a"), ("freeze", "b"),
        ("step", True), ("step", True),
        # back to a layout a trace moved away from: MLX replays that trace (no
        # Python runs), the states move; then an eager step, a new trace
        ("unfreeze", "b"), ("freeze", "a"), ("step", False), ("unfreeze", "a"), ("freeze", "c"), ("step", False),
        ("unfreeze", "c"), ("freeze", "b"), ("step", True), ("step", True), ("step", False),
        ("unfreeze", "b"), ("freeze", "a"), ("step", False), ("unfreeze", "a"), ("freeze", "c"), ("step", False),
        ("unfreeze", "c"), ("freeze", "b"), ("step", True), ("recompile",), ("step", True), ("step", True)],
}


@pytest.mark.parametrize("case", list(RELAYOUTS))
def test_compiled_steps_after_a_relayout(case):
    """A compiled step that lays the states out again (frozen/unfrozen
    parameters) must not be replayed on states already laid out anew, nor on
    another layout of the same shapes: compiled steps equal mlx.optimizers'."""
    p1, s1 = _compiled_after_relayout(fo, RELAYOUTS[case])
    p2, s2 = _compiled_after_relayout(optim, RELAYOUTS[case])
    assert same(p1, p2)
    for k in p1:
        assert same(s1[k], s2[k]), k


def test_shapeless_compile_never_replays_a_trace_on_another_layout():
    """Under mx.compile(shapeless=True) MLX keys traces on ranks, not shapes:
    an eager re-layout (another parameter frozen) between shapeless calls used
    to replay the old trace on the new layout's states, silently wrong. Each
    layout's state['layout'] now has a rank of its own, so MLX traces again,
    and the re-layout inside that trace is made of FlatViews (shape-inferable,
    where a Slice is not), so the trace replays: equal to mlx.optimizers."""
    import numpy as np

    def run(mod):
        rng = np.random.default_rng(0)
        opt = mod.Adam(0.01)
        params = {k: mx.array(rng.normal(size=(2, 3)).astype("float32")) for k in "abc"}
        opt.init(params)
        fn = mx.compile(lambda g, p: opt.apply_gradients(g, p), inputs=[opt.state], outputs=[opt.state],
                        shapeless=True)
        for frozen, compiled in [("b", False), ("b", True), ("b", True), ("c", False), ("b", True)]:
            g = {k: mx.array(rng.normal(size=(2, 3)).astype("float32")) for k in params if k != frozen}
            params.update((fn if compiled else opt.apply_gradients)(g, params))
            mx.eval(params, opt.state)
        return params

    ref, ours = run(optim), run(fo)
    for k in ref:
        assert _equal(ours[k], ref[k]), k
