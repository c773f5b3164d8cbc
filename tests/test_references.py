"""The families against the reference libraries themselves (optional extra
``mlx-sched[refs]``: optax, torch, transformers; each test is skipped, with
the reason shown by ``pytest -rs``, where its library is not installed).

Steps 0 .. N-1 as the references are used in training; float32 references
(optax under JAX) get float32 tolerances."""

import mlx.core as mx
import numpy as np
import pytest

import mlx_sched as ms
import families_oracle as fo
from helpers import assert_close

N = 4000


def _ours(s, n=N):
    return np.array(s.values(n))


# ------------------------------------------------------------------- optax

OPTAX = {
    "constant": (lambda o: o.constant_schedule(3e-4), lambda: ms.constant(3e-4)),
    "exponential": (lambda o: o.exponential_decay(1.0, 100, 0.5, 20), lambda: ms.exponential_decay(1.0, 0.5, transition_steps=100, begin=20)),
    "exponential_stair_end": (lambda o: o.exponential_decay(2.0, 37, 0.7, 5, True, 0.01),
                              lambda: ms.exponential_decay(2.0, 0.7, transition_steps=37, staircase=True, begin=5, end=0.01)),
    "exponential_ceiling": (lambda o: o.exponential_decay(0.1, 3, 1.01, end_value=0.5), lambda: ms.exponential_decay(0.1, 1.01, transition_steps=3, end=0.5)),
    "polynomial": (lambda o: o.polynomial_schedule(1.0, 0.01, 2, 1000, 5), lambda: ms.polynomial_decay(1.0, 0.01, 2, 1000, 5)),
    "polynomial_frac": (lambda o: o.polynomial_schedule(1e-3, 1e-5, 0.7, 3001), lambda: ms.polynomial_decay(1e-3, 1e-5, 0.7, 3001)),
    "piecewise_constant": (lambda o: o.piecewise_constant_schedule(1.0, {100: 0.1, 200: 0.5, 1500: 3.0}),
                           lambda: ms.piecewise_constant(1.0, {100: 0.1, 200: 0.5, 1500: 3.0})),
    "interp_linear": (lambda o: o.piecewise_interpolate_schedule("linear", 1.0, {4: 0.1, 8: 0.01, 1000: 3.0}),
                      lambda: ms.piecewise_interpolate("linear", 1.0, {4: 0.1, 8: 0.01, 1000: 3.0})),
    "interp_cosine": (lambda o: o.piecewise_interpolate_schedule("cosine", 2.0, {0: 0.5, 333: 0.1, 2000: 4.0}),
                      lambda: ms.piecewise_interpolate("cosine", 2.0, {0: 0.5, 333: 0.1, 2000: 4.0})),
    "warmup_constant": (lambda o: o.warmup_constant_schedule(0.0, 1e-3, 100), lambda: ms.warmup_constant(0.0, 1e-3, 100)),
    "warmup_cosine": (lambda o: o.warmup_cosine_decay_schedule(0.0, 1e-3, 100, 3000, 1e-5), lambda: ms.warmup_cosine_decay(0.0, 1e-3, 100, 3000, 1e-5)),
    "warmup_cosine_exponent": (lambda o: o.warmup_cosine_decay_schedule(1e-4, 1e-3, 0, 3001, 1e-5, 2.5),
                               lambda: ms.warmup_cosine_decay(1e-4, 1e-3, 0, 3001, 1e-5, 2.5)),
    "warmup_exponential": (lambda o: o.warmup_exponential_decay_schedule(0.0, 1.0, 50, 100, 0.5, 30, True, 0.05),
                           lambda: ms.warmup_exponential_decay(0.0, 1.0, 50, 100, 0.5, 30, True, 0.05)),
    "sgdr": (lambda o: o.sgdr_schedule([dict(init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=500),
                                        dict(init_value=0.1, peak_value=0.5, warmup_steps=0, decay_steps=800, end_value=0.01)]),
             lambda: ms.sgdr([dict(init_value=0.0, peak_value=1.0, warmup_steps=10, decay_steps=500),
                              dict(init_value=0.1, peak_value=0.5, warmup_steps=0, decay_steps=800, end_value=0.01)])),
    "linear_onecycle": (lambda o: o.linear_onecycle_schedule(1000, 1.0), lambda: ms.linear_onecycle(1000, 1.0)),
    "cosine_onecycle": (lambda o: o.cosine_onecycle_schedule(777, 2.0, 0.25), lambda: ms.cosine_onecycle(777, 2.0, 0.25)),
}


# float64 oracles (tests/families_oracle.py) of the cases whose float32
# reference rounds most (staircase floors, powers)
OPTAX_ORACLE = {
    "exponential_stair_end": fo.optax_exponential(2.0, 0.7, 37, True, 5, 0.01),
    "exponential": fo.optax_exponential(1.0, 0.5, 100, False, 20, None),
}


@pytest.mark.parametrize("cid", sorted(OPTAX))
def test_optax(cid):
    optax = pytest.importorskip("optax", reason="optax is not installed (pip install 'mlx-sched[refs]')")
    import jax
    import jax.numpy as jnp

    theirs_fn, ours_fn = OPTAX[cid]
    fn = theirs_fn(optax)
    # JAX's CPU device on every machine: on a GPU, JAX's float32 reference
    # differed (issue 13), so the reference would depend on the machine.
    with jax.default_device(jax.devices("cpu")[0]):
        theirs = np.asarray(jax.vmap(lambda c: jnp.asarray(fn(c), jnp.float32))(jnp.arange(N)), np.float64)
    ours = _ours(ours_fn())
    sc = float(np.max(np.abs(theirs)))
    # JAX computes in float32: a few ulp of the value, and of the scale where values cancel
    assert_close(ours, theirs, sc, rtol=2e-5, atol_rel=2e-6)
    if cid in OPTAX_ORACLE:  # where the reference itself rounds: the float64 oracle decides
        ref = OPTAX_ORACLE[cid]
        assert_close(ours, [ref(s) for s in range(N)], sc)


# ------------------------------------------------------------------- torch


def _torch_lrs(make, n):
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'mlx-sched[refs]')")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1.0)
    sched = make(torch.optim.lr_scheduler, opt)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return np.array(out, np.float64)


TORCH = {
    "multistep": (lambda L, o: (o.param_groups[0].update(lr=0.1), L.MultiStepLR(o, [30, 80, 80, 700], 0.5))[1],
                  lambda: ms.multistep_decay(0.1, [30, 80, 80, 700], 0.5), N),
    "restarts": (lambda L, o: L.CosineAnnealingWarmRestarts(o, 100, 1, 0.01), lambda: ms.cosine_restarts(1.0, 100, 1, 0.01), N),
    "restarts_mult": (lambda L, o: L.CosineAnnealingWarmRestarts(o, 10, 3, 0.001), lambda: ms.cosine_restarts(1.0, 10, 3, 0.001), N),
    "onecycle_cos": (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=1000, cycle_momentum=False), lambda: ms.onecycle(1000, 1.0), 1000),
    "onecycle_frac": (lambda L, o: L.OneCycleLR(o, 0.5, total_steps=107, pct_start=0.31, cycle_momentum=False),
                      lambda: ms.onecycle(107, 0.5, pct_start=0.31), 107),
    "onecycle_linear3": (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=997, pct_start=0.2, anneal_strategy="linear", div_factor=10.0,
                                                   final_div_factor=100.0, three_phase=True, cycle_momentum=False),
                         lambda: ms.onecycle(997, 1.0, 0.2, "linear", 10.0, 100.0, True), 997),
    "onecycle_cos3": (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=503, pct_start=0.37, three_phase=True, cycle_momentum=False),
                      lambda: ms.onecycle(503, 1.0, 0.37, three_phase=True), 503),
    "onecycle_cos3_late_peak": (lambda L, o: L.OneCycleLR(o, 1.0, total_steps=100, pct_start=0.6, three_phase=True, cycle_momentum=False),
                                lambda: ms.onecycle(100, 1.0, 0.6, three_phase=True), 100),
    "cyclic": (lambda L, o: L.CyclicLR(o, 0.001, 0.006, 200, cycle_momentum=False), lambda: ms.cyclic(0.001, 0.006, 200), N),
    "cyclic2": (lambda L, o: L.CyclicLR(o, 0.001, 0.006, 30, 70, "triangular2", cycle_momentum=False),
                lambda: ms.cyclic(0.001, 0.006, 30, 70, "triangular2"), N),
    "cyclic_exp": (lambda L, o: L.CyclicLR(o, 0.001, 0.006, 25, mode="exp_range", gamma=0.9995, cycle_momentum=False),
                   lambda: ms.cyclic(0.001, 0.006, 25, mode="exp_range", gamma=0.9995), N),
}


@pytest.mark.parametrize("cid", sorted(TORCH))
def test_torch(cid):
    make, ours_fn, n = TORCH[cid]
    theirs = _torch_lrs(make, n)
    ours = _ours(ours_fn(), n)
    assert_close(ours, theirs, float(np.max(np.abs(theirs))), rtol=1e-5, atol_rel=1e-6)


# torch's momentum curves (cycle_momentum=True): what OneCycleLR / CyclicLR write
# into the group's "momentum" (SGD) or "betas"[0] (Adam) before each step, against
# onecycle_momentum / cyclic_momentum; some rows build ours through get_schedule
# from the very argument dict given to torch.


def _torch_momenta(cls, kw, n, adam):
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'mlx-sched[refs]')")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.Adam([p], lr=1.0) if adam else torch.optim.SGD([p], lr=1.0, momentum=0.9)
    sched = getattr(torch.optim.lr_scheduler, cls)(opt, **kw)
    out = []
    for _ in range(n):
        g = opt.param_groups[0]
        out.append(g["betas"][0] if adam else g["momentum"])
        opt.step()
        sched.step()
    return np.array(out, np.float64)


_OC = dict(max_lr=0.5, epochs=7, steps_per_epoch=13, pct_start=0.31, anneal_strategy="linear", base_momentum=0.5, max_momentum=0.99)
_CY = dict(base_lr=0.001, max_lr=0.006, step_size_up=1000, step_size_down=3000, mode="triangular2", base_momentum=0.5, max_momentum=0.99)

TORCH_MOMENTUM = {  # id: (torch class, its arguments, ours, steps, Adam's beta1 instead of SGD's momentum)
    "onecycle_cos": ("OneCycleLR", dict(max_lr=1.0, total_steps=1000), lambda: ms.onecycle_momentum(1000), 1000, False),
    "onecycle_frac": ("OneCycleLR", dict(max_lr=0.5, total_steps=107, pct_start=0.31, base_momentum=0.5, max_momentum=0.99),
                      lambda: ms.onecycle_momentum(107, 0.31, base_momentum=0.5, max_momentum=0.99), 107, False),
    "onecycle_linear3": ("OneCycleLR", dict(max_lr=1.0, total_steps=997, pct_start=0.2, anneal_strategy="linear", three_phase=True,
                                            base_momentum=0.8, max_momentum=0.9),
                         lambda: ms.onecycle_momentum(997, 0.2, "linear", 0.8, 0.9, True), 997, False),
    "onecycle_cos3": ("OneCycleLR", dict(max_lr=1.0, total_steps=503, pct_start=0.37, three_phase=True),
                      lambda: ms.onecycle_momentum(503, 0.37, three_phase=True), 503, False),
    "onecycle_cos3_late_peak": ("OneCycleLR", dict(max_lr=1.0, total_steps=100, pct_start=0.6, three_phase=True),
                                lambda: ms.onecycle_momentum(100, 0.6, three_phase=True), 100, False),
    "onecycle_epochs_adam": ("OneCycleLR", _OC, lambda: ms.get_schedule("onecycle_momentum", **_OC), 91, True),
    "cyclic": ("CyclicLR", dict(base_lr=0.001, max_lr=0.006, step_size_up=200), lambda: ms.cyclic_momentum(0.8, 0.9, 200), N, False),
    "cyclic2": ("CyclicLR", dict(base_lr=0.001, max_lr=0.006, step_size_up=30, step_size_down=70, mode="triangular2",
                                 base_momentum=0.85, max_momentum=0.95),
                lambda: ms.cyclic_momentum(0.85, 0.95, 30, 70, "triangular2"), N, False),
    "cyclic_exp": ("CyclicLR", dict(base_lr=0.001, max_lr=0.006, step_size_up=25, mode="exp_range", gamma=0.9995),
                   lambda: ms.cyclic_momentum(0.8, 0.9, 25, mode="exp_range", gamma=0.9995), N, False),
    "cyclic2_adam": ("CyclicLR", _CY, lambda: ms.get_schedule("cyclic_momentum", **_CY), 3 * N, True),
}


@pytest.mark.parametrize("cid", sorted(TORCH_MOMENTUM))
def test_torch_momentum(cid):
    cls, kw, ours_fn, n, adam = TORCH_MOMENTUM[cid]
    theirs = _torch_momenta(cls, kw, n, adam)
    ours = _ours(ours_fn(), n)
    assert_close(ours, theirs, float(np.max(np.abs(theirs))), rtol=1e-5, atol_rel=1e-6)


# ------------------------------------------------------------ transformers

HF = {
    "inverse_sqrt": (lambda o, opt: o.get_inverse_sqrt_schedule(opt, 400), lambda: ms.inverse_sqrt(1e-3, 400), 1e-3),
    "inverse_sqrt_tau": (lambda o, opt: o.get_inverse_sqrt_schedule(opt, 0, 77), lambda: ms.inverse_sqrt(1e-3, 0, 77), 1e-3),
    "wsd": (lambda o, opt: o.get_wsd_schedule(opt, 100, 500, num_stable_steps=1000, min_lr_ratio=0.1),
            lambda: ms.warmup_stable_decay(1e-3, 100, 1000, 500, 0.1), 1e-3),
    "wsd_sqrt": (lambda o, opt: o.get_wsd_schedule(opt, 64, 300, num_stable_steps=0, warmup_type="1-sqrt", decay_type="1-sqrt"),
                 lambda: ms.warmup_stable_decay(1e-3, 64, 0, 300, 0.0, "1-sqrt", "1-sqrt"), 1e-3),
    "wsd_cos_lin": (lambda o, opt: o.get_wsd_schedule(opt, 33, 77, num_stable_steps=10, warmup_type="cosine", decay_type="linear", min_lr_ratio=0.25),
                    lambda: ms.warmup_stable_decay(1e-3, 33, 10, 77, 0.25, "cosine", "linear"), 1e-3),
    "cosine_min_lr": (lambda o, opt: o.get_cosine_with_min_lr_schedule_with_warmup(opt, 100, 2000, min_lr=1e-5),
                      lambda: ms.cosine_with_min_lr(1e-3, 100, 2000, 1e-5), 1e-3),
}


@pytest.mark.parametrize("cid", sorted(HF))
def test_transformers(cid):
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'mlx-sched[refs]')")
    optimization = pytest.importorskip("transformers.optimization", reason="transformers is not installed (pip install 'mlx-sched[refs]')")
    make, ours_fn, lr = HF[cid]
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    lam = make(optimization, opt).lr_lambdas[0]
    steps = list(range(N)) + [10**6, 2**40]
    theirs = np.array([lr * lam(s) for s in steps], np.float64)
    ours = np.array(ours_fn()(mx.array(np.array(steps, np.int64))))
    assert_close(ours, theirs, lr, rtol=1e-5, atol_rel=1e-6)


# HF's num_cycles where half a cycle, (T - W) / (2c), is not a whole number of
# steps. HF computes cos(pi * c * 2 * p) in float64, whose phase error grows
# with the step, so the steps stop at 100 (T - W) here; tests/test_families.py
# checks the same factories to 2^62 against an exact-rational oracle.
HF_CYCLES = {
    "warmup_0.3": (lambda o, opt: o.get_cosine_schedule_with_warmup(opt, 3, 13, num_cycles=0.3),
                   lambda: ms.cosine_with_warmup(1e-3, 3, 13, num_cycles=0.3), 10),
    "warmup_1.75": (lambda o, opt: o.get_cosine_schedule_with_warmup(opt, 0, 1001, num_cycles=1.75),
                    lambda: ms.cosine_with_warmup(1e-3, 0, 1001, num_cycles=1.75), 1001),
    "min_lr_third": (lambda o, opt: o.get_cosine_with_min_lr_schedule_with_warmup(opt, 10, 110, num_cycles=1 / 3, min_lr_rate=0.1),
                     lambda: ms.cosine_with_min_lr(1e-3, 10, 110, num_cycles=1 / 3, min_lr_rate=0.1), 100),
    "warmup_lr_rate_2.6": (lambda o, opt: o.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(
                               opt, 7, 57, num_cycles=2.6, min_lr=1e-5, warmup_lr_rate=0.1),
                           lambda: ms.cosine_warmup_with_min_lr(1e-3, 7, 57, num_cycles=2.6, min_lr=1e-5, warmup_lr_rate=0.1), 50),
}


@pytest.mark.parametrize("cid", sorted(HF_CYCLES))
def test_transformers_fractional_half_cycles(cid):
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'mlx-sched[refs]')")
    optimization = pytest.importorskip("transformers.optimization", reason="transformers is not installed (pip install 'mlx-sched[refs]')")
    make, ours_fn, L = HF_CYCLES[cid]
    lr = 1e-3
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    lam = make(optimization, opt).lr_lambdas[0]
    steps = list(range(min(N, 100 * L))) + [100 * L - 1]
    theirs = np.array([lr * lam(s) for s in steps], np.float64)
    ours = np.array(ours_fn()(mx.array(np.array(steps, np.int64))))
    assert_close(ours, theirs, lr, rtol=1e-5, atol_rel=1e-6)
