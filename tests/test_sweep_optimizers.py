"""Member-batched fused optimizers (``member_axis=0``, issue 21): G models
stacked along axis 0 of every parameter, member m with its own
hyperparameters, in one FusedStep per step. The spec is each member alone:
an ``mlx.optimizers`` optimizer built with that member's values and fed that
member's gradients (bits on the CPU), and every guarantee of the fused
optimizers (hyperparameter changes, frozen parameters, failed steps, saved
states, copies) holds per member."""

import copy
import pickle
import re

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

import mlx_sched as ms
from mlx_sched import optimizers as fo

G = 8
STEPS = 20
ON_CPU = mx.default_device() == mx.cpu


def spread(lo, hi, n=G):
    return [float(v) for v in np.linspace(lo, hi, n)]


LRS = ms.cosine_decay(spread(1e-3, 2e-2), 30, 1e-4)  # a batch of G schedules

# name -> (class, per-member arguments: lists of G values or pairs of them for betas)
CASES = {
    "sgd": ("SGD", dict(momentum=[0.0, 0.0] + spread(0.3, 0.9, G - 2), weight_decay=spread(0.0, 0.05),
                        dampening=spread(0.0, 0.2))),
    "sgd_nesterov": ("SGD", dict(momentum=spread(0.5, 0.95), nesterov=True)),
    "adam": ("Adam", dict(betas=[spread(0.8, 0.95), spread(0.99, 0.999)], eps=spread(1e-8, 1e-4))),
    "adamw": ("AdamW", dict(betas=[0.9, spread(0.98, 0.999)], weight_decay=spread(0.0, 0.1))),
    "rmsprop": ("RMSprop", dict(alpha=spread(0.9, 0.99), eps=spread(1e-8, 1e-3))),
    "adagrad": ("Adagrad", dict(eps=spread(1e-8, 1e-2))),
    "adadelta": ("AdaDelta", dict(rho=spread(0.8, 0.99), eps=spread(1e-6, 1e-3))),
    "adamax": ("Adamax", dict(betas=[spread(0.8, 0.95), 0.999], eps=spread(1e-8, 1e-4))),
    "lion": ("Lion", dict(betas=[spread(0.85, 0.95), spread(0.98, 0.99)], weight_decay=[0.0] + spread(-0.01, 0.1, G - 1))),
}


def member(kwargs, m):
    """Member m's arguments (a list holds one value per member; a number is everyone's)."""
    out = {}
    for k, v in kwargs.items():
        if k == "betas":
            out[k] = [b[m] if isinstance(b, list) else b for b in v]
        else:
            out[k] = v[m] if isinstance(v, list) else v
    return out


def stacked_params(dtype, rng):
    shapes = {"w1": (G, 8, 16), "b1": (G, 16), "w2": (G, 16, 4), "b2": (G, 4), "norm": {"scale": (G, 16)}}

    def make(s):
        return {k: make(v) for k, v in s.items()} if isinstance(s, dict) else \
            mx.array(rng.normal(size=s).astype(np.float32)).astype(dtype)

    return make(shapes)


def part(tree, m):
    return tree_unflatten([(k, v[m]) for k, v in tree_flatten(tree)])


def assert_members_equal(ours, refs, exact, tol=1e-5):
    for k, v in tree_flatten(ours):
        for m, ref in enumerate(refs):
            r = dict(tree_flatten(ref))[k]
            if exact:
                assert mx.array_equal(v[m], r).item(), (k, m, np.abs(np.array(v[m].astype(mx.float32)) -
                                                                    np.array(r.astype(mx.float32))).max())
            else:
                assert mx.allclose(v[m].astype(mx.float32), r.astype(mx.float32), rtol=tol, atol=tol).item(), (k, m)


def run_pair(cls_name, kwargs, dtype, steps=STEPS, lr=LRS, seed=0):
    """Our sweep and G mlx.optimizers fed the same gradients; their parameters."""
    rng = np.random.default_rng(seed)
    params = stacked_params(dtype, rng)
    refs = [part(params, m) for m in range(G)]
    opt = getattr(fo, cls_name)(lr, **kwargs, member_axis=0)
    ref_opts = [getattr(optim, cls_name)(lr[m] if isinstance(lr, ms.Schedule) else lr, **member(kwargs, m))
                for m in range(G)]
    for _ in range(steps):
        grads = tree_unflatten([(k, mx.array(rng.normal(size=v.shape).astype(np.float32)).astype(dtype))
                                for k, v in tree_flatten(params)])
        params = opt.apply_gradients(grads, params)
        for m in range(G):
            refs[m] = ref_opts[m].apply_gradients(part(grads, m), refs[m])
        mx.eval(params, refs, opt.state)
    return params, refs, opt, ref_opts


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("case", list(CASES))
def test_each_member_matches_mlx_alone(case, dtype):
    cls_name, kwargs = CASES[case]
    params, refs, opt, ref_opts = run_pair(cls_name, kwargs, getattr(mx, dtype))
    # MLX's GPU kernels round some ops differently from ours (test_fused_optimizers)
    assert_members_equal(params, refs, exact=ON_CPU, tol=1e-4 if dtype == "float32" else 2e-2)
    assert opt.state["step"].item() == STEPS
    assert opt.state["learning_rate"].shape == (G,)
    want = [r.learning_rate.item() for r in ref_opts]
    assert np.array_equal(np.array(opt.state["learning_rate"]), np.array(want, np.float32))
    # each member's states, as the member's own optimizer keeps them
    for path, _ in tree_flatten(params):
        mine = opt.param_state(path)
        for m in range(G):
            theirs = dict(tree_flatten(ref_opts[m].state))
            for s, v in mine.items():
                r = theirs[f"{path}.{s}"]
                if ON_CPU:
                    assert mx.array_equal(v[m], r).item(), (path, s, m)


def test_bias_correction_per_member():
    # b^t: our pow and MLX's may differ in the last ulp (test_fused_optimizers)
    kwargs = dict(betas=[spread(0.8, 0.95), spread(0.99, 0.999)], bias_correction=True)
    params, refs, _, _ = run_pair("Adam", kwargs, mx.float32)
    assert_members_equal(params, refs, exact=False, tol=1e-5)


def _value(v, step):
    return float(np.float32(np.array(v(step)))) if isinstance(v, ms.Schedule) else v


def test_scheduled_hyperparameters_per_member_and_shown_in_state():
    """Every argument a batch of G schedules: the reference sets each
    member's attribute to its schedule's float32 value before each step."""
    b1 = ms.cosine_decay(spread(0.95, 0.9), 20, 0.85)
    wd = ms.linear_schedule(0.0, spread(0.01, 0.1), 20)
    eps = ms.exponential_decay(spread(1e-6, 1e-4), 0.9)
    rng = np.random.default_rng(3)
    params = stacked_params(mx.float32, rng)
    refs = [part(params, m) for m in range(G)]
    opt = fo.AdamW(LRS, betas=[b1, 0.999], weight_decay=wd, eps=eps, member_axis=0)
    ref_opts = [optim.AdamW(LRS[m], betas=[_value(b1[m], 0), 0.999], weight_decay=_value(wd[m], 0),
                            eps=_value(eps[m], 0)) for m in range(G)]
    for k in range(12):
        for m, r in enumerate(ref_opts):
            r.betas = [_value(b1[m], k), 0.999]
            r.weight_decay = _value(wd[m], k)
            r.eps = _value(eps[m], k)
        grads = tree_unflatten([(p, mx.array(rng.normal(size=v.shape).astype(np.float32)))
                                for p, v in tree_flatten(params)])
        params = opt.apply_gradients(grads, params)
        refs = [ref_opts[m].apply_gradients(part(grads, m), refs[m]) for m in range(G)]
        mx.eval(params, refs, opt.state)
        assert opt.state["betas"].shape == (G, 2) and opt.state["weight_decay"].shape == (G,)
        assert np.array_equal(np.array(opt.state["weight_decay"]), np.array([_value(wd[m], k) for m in range(G)],
                                                                           np.float32))
        assert np.array_equal(np.array(opt.state["betas"][:, 0]), np.array([_value(b1[m], k) for m in range(G)],
                                                                          np.float32))
    assert_members_equal(params, refs, exact=ON_CPU, tol=1e-4)


def graph_primitives(outputs, tmp_path):
    path = tmp_path / "graph.dot"
    mx.export_to_dot(str(path), *outputs)
    return re.findall(r'label\s*=\s*"([A-Za-z]+)[^"]*"', path.read_text())


def test_one_dispatch_for_every_member_tensor_and_group(tmp_path):
    rng = np.random.default_rng(1)
    params = {f"layer{i}": {"w": mx.array(rng.normal(size=(G, 4, 3)).astype(np.float32)),
                            "b": mx.array(rng.normal(size=(G, 3)).astype(np.float32))} for i in range(10)}
    grads = tree_unflatten([(k, mx.array(rng.normal(size=v.shape).astype(np.float32))) for k, v in tree_flatten(params)])
    mx.eval(params, grads)
    opt = fo.AdamW(LRS, weight_decay=spread(0.0, 0.1), member_axis=0,
                   groups=[(lambda path, p: p.ndim == 2, {"weight_decay": 0.0, "learning_rate": ms.constant(1e-3)})])
    opt.init(params)
    mx.eval(opt.state)
    new = opt.apply_gradients(grads, params)
    prims = graph_primitives([v for _, v in tree_flatten(new)] + [v for _, v in tree_flatten(opt.state)], tmp_path)
    assert prims.count("FusedStep") == 1 and set(prims) == {"FusedStep", "FlatView"}, prims
    # two groups of G members: (2, G)
    mx.eval(new, opt.state)
    assert opt.state["learning_rate"].shape == (2, G)
    assert np.allclose(np.array(opt.state["learning_rate"][1]), 1e-3)
    assert np.array_equal(np.array(opt.state["learning_rate"][0]), np.array([LRS[m](0).item() for m in range(G)]))
    # a float learning rate is read from state["learning_rate"] (as MLX reads
    # it): a few small ops, as many for 8 members as for 64
    counts = []
    for n in (8, 64):
        p = {"w": mx.ones((n, 4, 3)), "b": mx.ones((n, 3))}
        opt = fo.AdamW(spread(1e-3, 1e-2, n), member_axis=0)
        opt.init(p)
        mx.eval(opt.state)
        new = opt.apply_gradients({k: mx.ones(v.shape) for k, v in p.items()}, p)
        prims = graph_primitives([v for _, v in tree_flatten(new)] + [v for _, v in tree_flatten(opt.state)], tmp_path)
        assert prims.count("FusedStep") == 1
        counts.append(len(prims))
    assert counts[0] == counts[1], counts


def test_groups_with_members_match_each_member_alone():
    """A group with its own per-member weight decay: every member, every group, as MLX alone."""
    rng = np.random.default_rng(5)
    params = stacked_params(mx.float32, rng)
    wd_bias = spread(0.0, 0.02)
    opt = fo.AdamW(LRS, weight_decay=spread(0.0, 0.1), member_axis=0,
                   groups=[(lambda path, p: p.ndim == 2, {"weight_decay": wd_bias})])
    grads = tree_unflatten([(k, mx.array(rng.normal(size=v.shape).astype(np.float32))) for k, v in tree_flatten(params)])
    new = opt.apply_gradients(grads, params)
    for m in range(G):
        ref = {}
        for path, v in tree_flatten(params):
            wd = wd_bias[m] if v.ndim == 2 else spread(0.0, 0.1)[m]
            r = optim.AdamW(LRS[m], weight_decay=wd)
            ref[path] = r.apply_gradients({"x": dict(tree_flatten(grads))[path][m]}, {"x": v[m]})["x"]
        for path, v in tree_flatten(new):
            if ON_CPU:
                assert mx.array_equal(v[m], ref[path]).item(), (path, m)


def test_more_members_than_a_launch_argument_holds():
    """200 kernel groups (100 members, 2 groups): the CUDA launch moves its
    group table into a buffer; every backend gives each member its own rate."""
    n = 100
    lrs = ms.linear_schedule(spread(1e-3, 1e-1, n), 0.0, 50)
    params = {"w": mx.ones((n, 5)), "b": mx.ones((n, 2))}
    opt = fo.SGD(lrs, member_axis=0, groups=[(lambda path, p: path == "b", {"learning_rate": 0.5})])
    grads = {"w": mx.ones((n, 5)), "b": mx.ones((n, 2))}
    for _ in range(3):
        params = opt.apply_gradients(grads, params)
    mx.eval(params)
    want = 1.0 - sum(np.float32(np.array(lrs(s))) for s in range(3))
    assert np.allclose(np.array(params["w"][:, 0]), want, rtol=1e-6)
    assert np.allclose(np.array(params["b"]), 1.0 - 1.5)
    assert opt.state["learning_rate"].shape == (2, n)


def test_strided_and_broadcast_gradients():
    """Gradients as MLX hands them out (a transpose; one broadcast along the
    members): the same bits as their contiguous copies."""
    rng = np.random.default_rng(2)
    w = mx.array(rng.normal(size=(G, 6, 5)).astype(np.float32))
    b = mx.array(rng.normal(size=(G, 5)).astype(np.float32))
    gw_t = mx.swapaxes(mx.array(rng.normal(size=(G, 5, 6)).astype(np.float32)), 1, 2)  # (G, 6, 5), strided
    gb = mx.broadcast_to(mx.array(rng.normal(size=(1, 5)).astype(np.float32)), (G, 5))
    ga = mx.swapaxes(mx.array(rng.normal(size=(6, G, 5)).astype(np.float32)), 0, 1)  # members not outermost in memory
    outs = []
    for grads in ({"w": gw_t, "b": gb}, {"w": mx.contiguous(gw_t), "b": mx.contiguous(gb)}):
        opt = fo.Adam(LRS, betas=[spread(0.8, 0.9), 0.999], member_axis=0)
        p = opt.apply_gradients(grads, {"w": w, "b": b})
        p = opt.apply_gradients({"w": ga, "b": gb}, p)
        outs.append(p)
    mx.eval(outs)
    for k in ("w", "b"):
        assert mx.array_equal(outs[0][k], outs[1][k]).item(), k


def test_vmapped_training_loop_compiled_matches_separate_models():
    """The way a sweep trains: G MLPs as stacked parameters, mx.vmap over the
    members, one compiled step with the sweep optimizer; against G separate
    nn.Modules with mlx.optimizers."""
    rng = np.random.default_rng(7)
    x = mx.array(rng.normal(size=(64, 8)).astype(np.float32))
    y = mx.sin(x @ mx.array(rng.normal(size=(8, 1)).astype(np.float32)))
    params = {"w1": mx.array(rng.normal(size=(G, 8, 32)).astype(np.float32) * 0.3), "b1": mx.zeros((G, 32)),
              "w2": mx.array(rng.normal(size=(G, 32, 1)).astype(np.float32) * 0.3), "b2": mx.zeros((G, 1))}

    def forward(p, x):
        return mx.tanh(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]

    def loss_one(p, x, y):
        return ((forward(p, x) - y) ** 2).mean()

    def loss_all(p):
        return mx.vmap(loss_one, in_axes=(0, None, None))(p, x, y).sum()

    wd = spread(0.0, 0.1)
    opt = fo.AdamW(LRS, weight_decay=wd, member_axis=0)
    state = [params, opt.state]

    def _step():
        p = state[0]
        loss, g = mx.value_and_grad(loss_all)(p)
        state[0] = opt.apply_gradients(g, p)
        state[1] = opt.state
        return loss

    step = mx.compile(_step, inputs=state, outputs=state)  # the state goes in and out (as mlx.optimizers')

    refs = [{k: v[m] for k, v in params.items()} for m in range(G)]
    ref_opts = [optim.AdamW(LRS[m], weight_decay=wd[m]) for m in range(G)]
    first = None
    for _ in range(30):
        loss = step()
        mx.eval(state, loss)
        first = loss.item() if first is None else first
        for m in range(G):
            _, g = mx.value_and_grad(loss_one)(refs[m], x, y)
            refs[m] = ref_opts[m].apply_gradients(g, refs[m])
        mx.eval(refs)
    assert loss.item() < first
    # a vmapped matrix product may round otherwise than G separate ones (GPU): looser there
    assert_members_equal(state[0], refs, exact=False, tol=1e-4 if ON_CPU else 3e-2)
    assert opt.state["step"].item() == 30


def test_hyperparameter_changes_mid_loop_per_member():
    """Attributes assigned between steps (a list per member, a number for
    all, a new batch of schedules) take effect at the next step, as for each
    member's own mlx.optimizers optimizer."""
    rng = np.random.default_rng(11)
    params = stacked_params(mx.float32, rng)
    refs = [part(params, m) for m in range(G)]
    opt = fo.AdamW(1e-2, weight_decay=spread(0.0, 0.1), member_axis=0)
    ref_opts = [optim.AdamW(1e-2, weight_decay=spread(0.0, 0.1)[m]) for m in range(G)]
    new_lr = ms.step_decay(spread(1e-3, 1e-2), 0.5, 2)
    for k in range(10):
        if k == 3:
            opt.weight_decay = spread(0.2, 0.0)
            for m, r in enumerate(ref_opts):
                r.weight_decay = spread(0.2, 0.0)[m]
        if k == 5:
            opt.learning_rate = spread(5e-3, 1e-3)  # a number per member
            for m, r in enumerate(ref_opts):
                r.learning_rate = spread(5e-3, 1e-3)[m]
        if k == 7:
            opt.learning_rate = 2e-3  # every member
            for r in ref_opts:
                r.learning_rate = 2e-3
        grads = tree_unflatten([(p, mx.array(rng.normal(size=v.shape).astype(np.float32)))
                                for p, v in tree_flatten(params)])
        params = opt.apply_gradients(grads, params)
        refs = [ref_opts[m].apply_gradients(part(grads, m), refs[m]) for m in range(G)]
        mx.eval(params, refs)
        if k >= 5:
            assert np.array_equal(np.array(opt.learning_rate), np.array([r.learning_rate.item() for r in ref_opts],
                                                                       np.float32))
    assert_members_equal(params, refs, exact=ON_CPU, tol=1e-4)
    # a new batch of schedules replaces the learning rate (mlx.optimizers has no such setter: compared by value)
    opt.learning_rate = new_lr
    step = opt.state["step"].item()
    assert np.array_equal(np.array(opt.learning_rate), np.array([new_lr[m](step).item() for m in range(G)]))
    before = {k: np.array(v) for k, v in tree_flatten(params)}
    grads = tree_unflatten([(p, mx.ones(v.shape)) for p, v in tree_flatten(params)])
    params = opt.apply_gradients(grads, params)
    mx.eval(params)
    assert not np.array_equal(before["w1"], np.array(params["w1"]))


def test_frozen_parameters_keep_their_members_states():
    """A parameter absent from the gradients (frozen) keeps each member's
    state; unfrozen, it continues as each member alone would."""
    rng = np.random.default_rng(13)
    params = stacked_params(mx.float32, rng)
    refs = [part(params, m) for m in range(G)]
    opt = fo.Adam(LRS, betas=[spread(0.8, 0.95), 0.99], member_axis=0)
    ref_opts = [optim.Adam(LRS[m], betas=[spread(0.8, 0.95)[m], 0.99]) for m in range(G)]
    for k in range(9):
        full = tree_unflatten([(p, mx.array(rng.normal(size=v.shape).astype(np.float32)))
                               for p, v in tree_flatten(params)])
        grads = {"w1": full["w1"], "b1": full["b1"]} if 3 <= k < 6 else full
        new = opt.apply_gradients(grads, params)
        params = {**params, **new}
        for m in range(G):
            refs[m] = {**refs[m], **ref_opts[m].apply_gradients(part(grads, m), refs[m])}
        mx.eval(params, refs, opt.state)
    assert_members_equal(params, refs, exact=ON_CPU, tol=1e-4)


def test_dtype_fallback_per_member():
    """A bfloat16 parameter with a float32 gradient is updated with MLX's own
    operations (type promotions included): per member, with its values."""
    rng = np.random.default_rng(17)
    params = {"w": mx.array(rng.normal(size=(G, 4, 3)).astype(np.float32)).astype(mx.bfloat16),
              "b": mx.array(rng.normal(size=(G, 3)).astype(np.float32))}
    refs = [part(params, m) for m in range(G)]
    opt = fo.AdamW(LRS, weight_decay=spread(0.0, 0.1), member_axis=0)
    ref_opts = [optim.AdamW(LRS[m], weight_decay=spread(0.0, 0.1)[m]) for m in range(G)]
    for _ in range(4):
        grads = {"w": mx.array(rng.normal(size=(G, 4, 3)).astype(np.float32)),
                 "b": mx.array(rng.normal(size=(G, 3)).astype(np.float32))}
        params = opt.apply_gradients(grads, params)
        refs = [ref_opts[m].apply_gradients(part(grads, m), refs[m]) for m in range(G)]
        mx.eval(params, refs, opt.state)
    for m in range(G):
        for k in params:
            assert params[k].dtype == refs[m][k].dtype
    assert_members_equal(params, refs, exact=ON_CPU, tol=1e-2)


def test_save_load_copy_and_pickle_resume_each_member():
    rng = np.random.default_rng(19)
    params = stacked_params(mx.float32, rng)
    kwargs = dict(betas=[spread(0.8, 0.95), 0.99], weight_decay=ms.linear_schedule(0.0, spread(0.01, 0.1), 10),
                  member_axis=0)
    opt = fo.AdamW(LRS, **kwargs)
    gs = [tree_unflatten([(p, mx.array(rng.normal(size=v.shape).astype(np.float32))) for p, v in tree_flatten(params)])
          for _ in range(6)]
    for g in gs[:3]:
        params = opt.apply_gradients(g, params)
    mx.eval(params, opt.state)
    saved = dict(tree_flatten(opt.state))
    copies = [copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))]
    loaded = fo.AdamW(LRS, **kwargs)
    loaded.state = tree_unflatten(list(saved.items()))
    runs = []
    for o in [opt] + copies + [loaded]:
        p = params
        for g in gs[3:]:
            p = o.apply_gradients(g, p)
        mx.eval(p, o.state)
        runs.append(p)
    for r in runs[1:]:
        for (k, a), (_, b) in zip(tree_flatten(runs[0]), tree_flatten(r)):
            assert mx.array_equal(a, b).item(), k
    assert loaded.state["weight_decay"].shape == (G,)


@pytest.mark.parametrize("bad, err, msg", [
    (lambda: fo.AdamW(LRS, weight_decay=spread(0, 1, G + 1), member_axis=0), ValueError,
     "weight_decay has 9 values, one per member, but learning_rate has 8"),
    (lambda: fo.Adam(1e-3, betas=[spread(0.8, 0.9, 4), spread(0.9, 0.99, 5)], member_axis=0), ValueError,
     "betas[1] has 5 values, one per member, but betas[0] has 4"),
    (lambda: fo.AdamW(LRS, member_axis=1), ValueError, "member_axis must be 0"),
    (lambda: fo.AdamW(LRS, member_axis=True), TypeError, "member_axis must be 0 or None"),
    (lambda: fo.AdamW(LRS), ValueError, "not a batch of 8 (a sweep of models stacked along axis 0: pass member_axis=0)"),
    (lambda: fo.SGD([0.1, 0.2]), TypeError, "learning_rate must be a float or an mlx_sched schedule"),
    (lambda: fo.Adam(1e-3, betas=[spread(0.8, 1.2), 0.9], member_axis=0), ValueError, "Adam beta1 should be in [0, 1)"),
    (lambda: fo.SGD(0.1, momentum=[0.9, "x"], member_axis=0), TypeError, "momentum must be a float"),
    (lambda: fo.SGD(0.1, momentum=[[0.9]], member_axis=0), TypeError, "momentum[0] must be a float"),
    (lambda: fo.SGD(0.1, momentum=[], member_axis=0), ValueError, "momentum must hold a value per member"),
    (lambda: fo.AdamW(LRS, member_axis=0, groups=[(lambda k, p: True, {"weight_decay": [0.1, 0.2]})]), ValueError,
     "groups[0]'s weight_decay has 2 values, one per member, but learning_rate has 8"),
])
def test_errors_name_the_argument(bad, err, msg):
    with pytest.raises(err) as e:
        bad()
    assert msg in str(e.value)


def test_parameters_must_hold_the_members_and_a_failed_step_changes_nothing():
    opt = fo.AdamW(LRS, member_axis=0)
    good = {"w": mx.ones((G, 3)), "b": mx.ones((G,))}
    params = opt.apply_gradients({k: mx.ones(v.shape) for k, v in good.items()}, good)
    mx.eval(params, opt.state)
    before = {k: np.array(v) for k, v in tree_flatten(opt.state) if isinstance(v, mx.array)}
    with pytest.raises(ValueError, match=r"parameter 'c' has shape \(3, 3\): with member_axis=0 its axis 0 must hold "
                                         r"this optimizer's 8 members"):
        opt.apply_gradients({"c": mx.ones((3, 3))}, {"c": mx.ones((3, 3))})
    with pytest.raises(ValueError, match="parameter 's' is a scalar"):
        opt.apply_gradients({"s": mx.ones(())}, {"s": mx.ones(())})
    with pytest.raises(ValueError, match="parameter 'c' has shape"):
        opt.init({"c": mx.ones((4, 2))})
    with pytest.raises(ValueError, match="weight_decay has 3 values"):
        opt.weight_decay = [0.1, 0.2, 0.3]
        opt.apply_gradients({k: mx.ones(v.shape) for k, v in good.items()}, params)
    opt.weight_decay = 0.01
    after = {k: np.array(v) for k, v in tree_flatten(opt.state) if isinstance(v, mx.array)}
    assert before.keys() == after.keys() and all(np.array_equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match="learning_rate has 3 values"):
        opt.learning_rate = [0.1, 0.2, 0.3]
    # and the optimizer goes on as if nothing had happened
    params = opt.apply_gradients({k: mx.ones(v.shape) for k, v in good.items()}, params)
    mx.eval(params)
    assert opt.state["step"].item() == 2


def test_same_hyperparameters_for_every_member_need_equal_leading_axes():
    """No argument per member: a seed sweep; the parameters still hold the members."""
    opt = fo.SGD(0.1, momentum=0.9, member_axis=0)
    assert opt.members == 1 and fo.SGD(0.1).members is None and fo.SGD([0.1, 0.2], member_axis=0).members == 2
    p = opt.apply_gradients({"w": mx.ones((5, 2)), "b": mx.ones((5,))}, {"w": mx.ones((5, 2)), "b": mx.ones((5,))})
    mx.eval(p)
    assert opt.state["learning_rate"].shape == ()
    with pytest.raises(ValueError, match="parameter 'b' has 4 members along axis 0, but 'w' has 5"):
        opt.apply_gradients({"w": mx.ones((5, 2)), "b": mx.ones((4,))}, {"w": mx.ones((5, 2)), "b": mx.ones((4,))})


def test_sweep_of_models_as_modules():
    """nn.Module parameters stacked with a leading axis (a sweep of Linear
    layers' weights) through opt.update, with the module API."""
    class Stacked(nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = mx.zeros((G, 4, 3))
            self.bias = mx.zeros((G, 4))

        def __call__(self, x):
            return mx.einsum("gij,bj->gbi", self.weight, x) + self.bias[:, None]

    model = Stacked()
    x, y = mx.ones((2, 3)), mx.ones((G, 2, 4)) * mx.arange(G)[:, None, None]
    opt = fo.SGD(spread(0.01, 0.1), member_axis=0)
    grad = nn.value_and_grad(model, lambda m: ((m(x) - y) ** 2).mean(axis=(1, 2)).sum())
    for _ in range(3):
        _, g = grad(model)
        opt.update(model, g)
        mx.eval(model.parameters())
    # member 0 learns towards 0 (its target), the others towards theirs, each at its own rate
    assert float(mx.abs(model.bias[0]).max()) == 0.0
    assert all(float(model.bias[m, 0]) > float(model.bias[m - 1, 0]) for m in range(2, G))


def test_dtype_fallback_with_groups_and_members():
    """The fallback reads each member's rate of each group ((K, G) rates)."""
    rng = np.random.default_rng(23)
    params = {"w": mx.array(rng.normal(size=(G, 4, 3)).astype(np.float32)).astype(mx.bfloat16),
              "b": mx.array(rng.normal(size=(G, 3)).astype(np.float32))}
    wlr = ms.linear_schedule(spread(0.1, 0.5), 0.0, 10)
    opt = fo.SGD(LRS, momentum=spread(0.0, 0.9), member_axis=0, groups=[(lambda path, p: path == "w", {"learning_rate": wlr})])
    grads = {"w": mx.array(rng.normal(size=(G, 4, 3)).astype(np.float32)),
             "b": mx.array(rng.normal(size=(G, 3)).astype(np.float32))}
    new = opt.apply_gradients(grads, params)
    mx.eval(new)
    assert opt.state["learning_rate"].shape == (2, G)
    for m in range(G):
        for path, lr in (("w", wlr[m]), ("b", LRS[m])):
            ref = optim.SGD(lr, momentum=spread(0.0, 0.9)[m]).apply_gradients({"x": grads[path][m]}, {"x": params[path][m]})
            assert ref["x"].dtype == new[path].dtype
            if ON_CPU:
                assert mx.array_equal(ref["x"], new[path][m]).item(), (path, m)


@pytest.mark.parametrize("shapeless", [False, True])
def test_compiled_step_with_state_in_and_out(shapeless):
    """mx.compile of a step (state in, state out; shapeless too): each member as MLX alone."""
    wds = spread(0.0, 0.3, 4)
    lr = ms.cosine_decay(spread(1e-2, 4e-2, 4), 50)
    opt = fo.AdamW(lr, weight_decay=wds, member_axis=0)
    params = {"w": mx.ones((4, 3, 2)), "b": mx.zeros((4, 2))}
    state = [params, opt.state]

    def step(g):
        state[0] = opt.apply_gradients(g, state[0])
        state[1] = opt.state
        return state[0]["w"].sum()

    f = mx.compile(step, inputs=state, outputs=state, shapeless=shapeless)
    refs = [optim.AdamW(lr[m], weight_decay=wds[m]) for m in range(4)]
    rp = [part(params, m) for m in range(4)]
    for i in range(5):
        g = {"w": mx.full((4, 3, 2), 0.1 * (i + 1)), "b": mx.full((4, 2), -0.2)}
        f(g)
        mx.eval(state)
        rp = [refs[m].apply_gradients(part(g, m), rp[m]) for m in range(4)]
    assert_members_equal(state[0], rp, exact=ON_CPU, tol=1e-5)
    assert opt.state["step"].item() == 5 and opt.state["learning_rate"].shape == (4,)


def test_copies_take_attribute_changes_made_since_the_last_step():
    """deepcopy and pickle build from the attributes as they are (found by the
    skeptical-user pass: they rebuilt from the last step's values)."""
    params = {"w": mx.ones((4, 3))}
    g = {"w": mx.ones((4, 3))}
    for member_axis in (0, None):
        opt = fo.AdamW([1e-2] * 4 if member_axis == 0 else 1e-2, weight_decay=0.0, member_axis=member_axis)
        p = opt.apply_gradients(g, params)
        opt.weight_decay = 0.5
        copies = [copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))]
        outs = [o.apply_gradients(g, p) for o in [opt] + copies]
        mx.eval(outs)
        for o in outs[1:]:
            assert mx.array_equal(o["w"], outs[0]["w"]).item()


def test_in_place_changes_of_per_member_values_take_effect():
    """As mlx.optimizers reads its attributes at every step: a list, a nested
    list (betas) or an array changed in place is seen at the next step."""
    wd = spread(0.0, 0.1, 4)
    g = {"w": mx.ones((4, 3))}
    for make, change in [
        (lambda: fo.AdamW(1e-2, weight_decay=np.array(wd), member_axis=0), lambda o: o.weight_decay.__setitem__(2, 0.9)),
        (lambda: fo.AdamW(1e-2, weight_decay=list(wd), member_axis=0), lambda o: o.weight_decay.__setitem__(2, 0.9)),
        (lambda: fo.AdamW(1e-2, betas=[[0.9] * 4, 0.999], member_axis=0), lambda o: o.betas[0].__setitem__(2, 0.5)),
    ]:
        changed, same = make(), make()
        p1 = changed.apply_gradients(g, {"w": mx.ones((4, 3))})
        p2 = same.apply_gradients(g, {"w": mx.ones((4, 3))})
        change(changed)
        p1, p2 = changed.apply_gradients(g, p1), same.apply_gradients(g, p2)
        mx.eval(p1, p2)
        differs = [not mx.array_equal(p1["w"][m], p2["w"][m]).item() for m in range(4)]
        assert differs == [False, False, True, False], differs


def test_betas_are_a_pair_of_per_member_values():
    opt = fo.Adam([1e-3, 2e-3, 3e-3], betas=[[0.9, 0.8, 0.7], np.array([0.99, 0.98, 0.97])], member_axis=0)
    assert [h["betas"] for h in opt._hyper] == [[0.9, 0.99], [0.8, 0.98], [0.7, 0.97]]
    opt = fo.Adam([1e-3, 2e-3], betas=np.array([0.9, 0.99]), member_axis=0)  # one pair for both members
    assert [h["betas"] for h in opt._hyper] == [[0.9, 0.99], [0.9, 0.99]]
    for bad in (0.9, [0.9], [0.9, 0.99, 0.999], [(0.9, 0.99)] * 3):
        with pytest.raises((TypeError, ValueError), match=r"betas"):
            fo.Adam([1e-3] * 3, betas=bad, member_axis=0)


@pytest.mark.parametrize("bad, err", [
    (lambda: fo.AdamW(mx.array([1e-3 + 1j, 2e-3]), member_axis=0), "learning_rate must hold a real number per member"),
    (lambda: fo.AdamW(1e-3, weight_decay=np.array(["a", "b"]), member_axis=0), "weight_decay must hold a real number"),
    (lambda: fo.AdamW(1e-3, weight_decay=mx.array([True, False]), member_axis=0), "weight_decay must hold a real number"),
])
def test_arrays_that_are_not_real_numbers_are_refused(bad, err):
    with pytest.raises(TypeError, match=err):
        bad()


def test_array_arguments_of_any_float_dtype_and_numpy_scalars():
    a = fo.AdamW(mx.array([1e-3, 2e-3]).astype(mx.bfloat16), weight_decay=np.float32(0.1), member_axis=np.int64(0))
    assert a.members == 2 and a._hyper[1]["learning_rate"] == float(mx.array(2e-3).astype(mx.bfloat16).item())
    b = fo.AdamW(np.float32(1e-3), weight_decay=np.float64(0.1))  # as mlx.optimizers takes them
    assert b.members is None


def test_learning_rate_scaled_in_place_with_groups_and_members():
    opt = fo.SGD(spread(0.1, 0.4, 4), member_axis=0, groups=[(lambda path, p: path == "b", {"learning_rate": 1.0})])
    params = {"w": mx.ones((4, 2)), "b": mx.ones((4,))}
    params = opt.apply_gradients({k: mx.ones(v.shape) for k, v in params.items()}, params)
    opt.learning_rate = opt.learning_rate * 0.5
    assert opt.learning_rate.shape == (2, 4)
    before = {k: np.array(v) for k, v in params.items()}
    params = opt.apply_gradients({k: mx.ones(v.shape) for k, v in params.items()}, params)
    assert np.allclose(before["w"][:, 0] - np.array(params["w"][:, 0]), np.array(spread(0.05, 0.2, 4)))
    assert np.allclose(before["b"] - np.array(params["b"]), 0.5)
    # without members, K groups: the same
    opt = fo.SGD(0.1, groups=[(lambda path, p: path == "b", {"learning_rate": 1.0})])
    opt.apply_gradients({k: mx.ones(v.shape) for k, v in params.items()}, params)
    opt.learning_rate = opt.learning_rate * 0.5
    assert np.allclose(np.array(opt.learning_rate), [0.05, 0.5])


@pytest.mark.parametrize("kind, kwargs", [("AdaDelta", {}), ("SGD", {"weight_decay": ms.linear_schedule(0.1, 0.3, 10)})])
def test_mixed_dtype_fallback_as_mlx(kind, kwargs):
    """A bfloat16 parameter with float32 gradients (MLX's own operations): the
    states start as MLX's init(gradients) makes them, and a scheduled weight
    decay meets the parameter as MLX's Python float does (skeptical-user pass)."""
    rng = np.random.default_rng(29)
    p = mx.array(rng.normal(size=(3, 5)).astype(np.float32)).astype(mx.bfloat16)
    ours, ref = getattr(fo, kind)(0.1, **kwargs), getattr(optim, kind)(0.1, **{k: 0.1 for k in kwargs})
    pa, pb = {"w": p}, {"w": p}
    for k in range(4):
        if kwargs:
            ref.weight_decay = float(np.float32(np.array(kwargs["weight_decay"](k))))
        g = {"w": mx.array(rng.normal(size=(3, 5)).astype(np.float32))}
        pa, pb = ours.apply_gradients(g, pa), ref.apply_gradients(g, pb)
        mx.eval(pa, pb)
        assert pa["w"].dtype == pb["w"].dtype
        if ON_CPU:
            assert mx.array_equal(pa["w"], pb["w"]).item(), k
