"""Conformance with PyTorch's own learning-rate scheduler tests, written for mlx-sched.

Mirrors: pytorch/pytorch, test/optim/test_lrscheduler.py at commit
70f364554f849d6ea059ddf7e985e8eaa6c4320f (TestLRScheduler: the value tests
of MultiStepLR, CosineAnnealingWarmRestarts, OneCycleLR and CyclicLR, and the
chained/compound tests that combine MultiStepLR with another scheduler).

The code here is mlx-sched's own: no test of torch's is reproduced. torch's
tests step an SGD of two parameter groups (lr 0.05 and 0.5) and read each
group's lr; here a row builds our schedule through `ms.get_schedule` with
torch's name and arguments, the groups' learning rates as `lr=[0.05, 0.5]`
(a batch, one row per group), and states the lr torch's test expects for
each group at each epoch, with torch's tolerance (atol 1e-5, rtol 0). Two
schedulers stepping one optimizer multiply (torch's chaining of
multiplicative schedulers) and are `ms.multiply` of them, every factor after
the first with `lr=1.0`; `scheduler.step(epoch)` is evaluating at `epoch`
(fractional epochs included). Expected values torch writes as numbers are
kept as numbers; those it derives from a formula come from our float64
oracles (tests/oracle.py, tests/families_oracle.py).

The momentum halves of the cyclic tests (torch's `cycle_momentum=True`) are the
MOMENTUM rows: the same torch arguments given to `ms.get_schedule("cyclic_momentum", ...)`
/ `ms.get_schedule("onecycle_momentum", ...)` (our `cyclic_momentum` /
`onecycle_momentum`, which take torch's `CyclicLR` / `OneCycleLR` arguments),
each group's momentum at each epoch as torch's test expects it.
"""

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import mlx.core as mx
import numpy as np
import pytest

import families_oracle as fo
import mlx_sched as ms
import oracle

PEER = "pytorch/pytorch test/optim/test_lrscheduler.py@70f364554f849d6ea059ddf7e985e8eaa6c4320f TestLRScheduler"
LRS = [0.05, 0.5]          # the two parameter groups of torch's test optimizer
ATOL = 1e-5

get = ms.get_schedule


@dataclass(frozen=True)
class Row:
    mirrors: str
    build: Callable[[], Any]
    steps: Sequence[float]
    groups: Sequence[Any]          # per parameter group: numbers at the steps, or a float64 oracle step -> lr


def _scaled(values, factor):
    return [v * factor for v in values]


# --------------------------------------------------------------------- MultiStepLR and its compounds
MULTISTEP_10 = [0.05] * 2 + [0.005] * 3 + [0.0005] * 4 + [0.00005]     # torch's targets, first group, epochs 0..9


def _multistep(lr=LRS):
    return get("MultiStepLR", lr=lr, gamma=0.1, milestones=[2, 5, 9])


def _times(*fs):
    return fo.product(*fs)


ROWS = [
    Row("test_get_last_lr_multi_step_lr", _multistep, range(10), [MULTISTEP_10, _scaled(MULTISTEP_10, 10)]),
    Row("test_multi_step_lr", _multistep, range(10), [MULTISTEP_10, _scaled(MULTISTEP_10, 10)]),
    Row("test_multi_step_lr_with_epoch", _multistep, range(10), [MULTISTEP_10, _scaled(MULTISTEP_10, 10)]),
    Row("test_chained_lr3",
        lambda: ms.multiply(get("LinearLR", lr=0.05, start_factor=0.4, total_iters=3), get("MultiStepLR", lr=1.0, milestones=[4, 8, 10], gamma=0.1)),
        range(10), [[0.02, 0.03, 0.04, 0.05, 0.005, 0.005, 0.005, 0.005, 0.0005, 0.0005]]),
    Row("test_compound_step_and_multistep_lr",
        lambda: ms.multiply(get("StepLR", lr=0.05, gamma=0.1, step_size=3), _multistep(1.0)),
        range(10), [[0.05, 0.05, 0.005, 5e-4, 5e-4, 5e-5, 5e-6, 5e-6, 5e-6, 5e-8]]),
    Row("test_compound_exp_and_multistep_lr",
        lambda: ms.multiply(_multistep(), get("ExponentialLR", lr=1.0, gamma=0.9)),
        range(10), [_times(fo.multistep(lr, [2, 5, 9], 0.1), lambda s: oracle.value(("exp", 1.0, 0.9), s)) for lr in LRS]),
    Row("test_compound_linearlr_and_multistep_lr",
        lambda: ms.multiply(_multistep(), get("LinearLR", lr=1.0, start_factor=0.4, total_iters=4)),
        range(10), [_times(fo.multistep(lr, [2, 5, 9], 0.1), lambda s: oracle.value(("linear", 0.4, 1.0, 4), s)) for lr in LRS]),
    Row("test_compound_cosanneal_and_multistep_lr",
        lambda: ms.multiply(get("CosineAnnealingLR", lr=LRS, T_max=10, eta_min=1e-10), _multistep(1.0)),
        range(10), [_times(lambda s, lr=lr: oracle.value(("cosine", lr, 10, 1e-10), s), fo.multistep(1.0, [2, 5, 9], 0.1)) for lr in LRS]),
]


# ------------------------------------------------------------------------ CosineAnnealingWarmRestarts
def _warm_restarts(T_mult):
    return get("CosineAnnealingWarmRestarts", lr=LRS, T_0=10, T_mult=T_mult, eta_min=1e-10)


def _restarts(T_mult):
    return [fo.restarts(lr, 10, T_mult, 1e-10) for lr in LRS]


TENTHS_TO_30 = [k / 10 for k in range(300)]          # torch: step(round(epoch, 1)) for epoch in arange(0, 30, 0.1)
EPOCHS_LR3 = {
    1: [0, 1, 2, 3, 4, 5, 12, 27, 3, 4, 5, 6, 13],
    2: [0, 1, 2, 3, 4, 5, 25, 32, 33, 34, 80, 81, 3],
    3: [0, 0.1, 0.2, 0.3, 1.3, 2.3, 17.5, 18.5, 19.5, 29.5, 30.5, 31.5, 50],
}
ROWS += [Row(f"test_CosineAnnealingWarmRestarts_lr1[T_mult={m}]", lambda m=m: _warm_restarts(m), range(100), _restarts(m)) for m in (1, 2, 4)]
ROWS += [Row(f"test_CosineAnnealingWarmRestarts_lr2[T_mult={m}]", lambda m=m: _warm_restarts(m), TENTHS_TO_30, _restarts(m)) for m in (1, 2, 4)]
ROWS += [Row(f"test_CosineAnnealingWarmRestarts_lr3[T_mult={m}]", lambda m=m: _warm_restarts(m), e, _restarts(m)) for m, e in EPOCHS_LR3.items()]


# ------------------------------------------------------------------------------- CyclicLR, OneCycleLR
TRIANGLE = [1, 2, 3, 4, 5, 4, 3, 2, 1, 2, 3]
TRIANGLE2 = [1, 2, 3, 4, 5, 4, 3, 2, 1, 1.5, 2.0, 2.5, 3.0, 2.5, 2.0, 1.5, 1, 1.25, 1.5, 1.75, 2.0, 1.75]
UP4_DOWN6 = [1.0, 2.0, 3.0, 4.0, 5.0, 13 / 3, 11 / 3, 9 / 3, 7 / 3, 5 / 3, 1.0]
UP2_DOWN6_HALVING = [1.0, 3.0, 5.0, 13 / 3, 11 / 3, 9 / 3, 7 / 3, 5 / 3, 1.0, 2.0, 3.0, 8 / 3, 7 / 3, 6 / 3, 5 / 3, 4 / 3,
                     1.0, 3 / 2, 2.0, 11 / 6, 10 / 6, 9 / 6, 8 / 6, 7 / 6]
ONECYCLE_LINEAR = [1, 13, 25, 21.5, 18, 14.5, 11, 7.5, 4, 0.5]
ONECYCLE_THREE_PHASES = [1, 9, 17, 25, 17, 9, 1, 0.75, 0.5, 0.25]
MOMENTUM_KW = dict(cycle_momentum=True)


@dataclass(frozen=True)
class Torch:
    """A torch scheduler's arguments: calling it builds the lr schedule (torch's name),
    `momentum()` the momentum schedule from the same arguments."""
    lr: str
    momentum_name: str
    kw: Any

    def __call__(self):
        return get(self.lr, **self.kw)

    def momentum(self):
        return get(self.momentum_name, **self.kw)


def _cyclic(base, top, **kw):
    return Torch("CyclicLR", "cyclic_momentum", dict(base_lr=base, max_lr=top, **kw))


def _onecycle(**kw):
    return Torch("OneCycleLR", "onecycle_momentum", dict(max_lr=25, base_momentum=1, max_momentum=22, total_steps=10, **kw))


CYCLES = [  # (mirrors, schedule, steps, lr per group, momentum per group or None)
    ("test_cycle_lr_triangular_mode_one_lr",
     _cyclic(1, 5, step_size_up=4, base_momentum=1, max_momentum=5, mode="triangular", **MOMENTUM_KW),
     11, [TRIANGLE], [[5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3]]),
    ("test_cycle_lr_triangular_mode_one_lr_no_momentum",
     _cyclic(1, 5, step_size_up=4, cycle_momentum=False, mode="triangular"), 11, [TRIANGLE], None),
    ("test_cycle_lr_triangular2_mode_one_lr",
     _cyclic(1, 5, step_size_up=4, base_momentum=1, max_momentum=5, mode="triangular2", **MOMENTUM_KW),
     22, [TRIANGLE2], [[5.0, 4.0, 3.0, 2.0, 1.0, 2.0, 3.0, 4.0, 5.0, 4.5, 4.0, 3.5, 3.0, 3.5, 4.0, 4.5, 5.0, 4.75, 4.5, 4.25, 4.0, 4.25]]),
    ("test_cycle_lr_exp_range_mode_one_lr",
     _cyclic(1, 5, step_size_up=4, base_momentum=1, max_momentum=5, mode="exp_range", gamma=0.9, **MOMENTUM_KW),
     13, [fo.cyclic(1, 5, 4, mode="exp_range", gamma=0.9)], [fo.cyclic(5, 1, 4, mode="exp_range", gamma=0.9)]),
    ("test_cycle_lr_triangular_mode",
     _cyclic([1, 2], [5, 6], step_size_up=4, base_momentum=[1, 2], max_momentum=[5, 6], mode="triangular", **MOMENTUM_KW),
     11, [TRIANGLE, [v + 1 for v in TRIANGLE]], [[5, 4, 3, 2, 1, 2, 3, 4, 5, 4, 3], [6, 5, 4, 3, 2, 3, 4, 5, 6, 5, 4]]),
    ("test_cycle_lr_triangular2_mode",
     _cyclic([1, 3], [5, 7], step_size_up=4, base_momentum=[1, 3], max_momentum=[5, 7], mode="triangular2", **MOMENTUM_KW),
     22, [TRIANGLE2, [v + 2 for v in TRIANGLE2]], [fo.cyclic(5, 1, 4, mode="triangular2"), fo.cyclic(7, 3, 4, mode="triangular2")]),
    ("test_cycle_lr_exp_range_mode",
     _cyclic([1, 5], [5, 12], step_size_up=4, base_momentum=[1, 5], max_momentum=[5, 12], mode="exp_range", gamma=0.9, **MOMENTUM_KW),
     13, [fo.cyclic(1, 5, 4, mode="exp_range", gamma=0.9), fo.cyclic(5, 12, 4, mode="exp_range", gamma=0.9)],
     [fo.cyclic(5, 1, 4, mode="exp_range", gamma=0.9), fo.cyclic(12, 5, 4, mode="exp_range", gamma=0.9)]),
    ("test_cycle_lr_triangular_mode_step_size_up_down",
     _cyclic(1, 5, step_size_up=4, step_size_down=6, base_momentum=1, max_momentum=5, mode="triangular", **MOMENTUM_KW),
     11, [UP4_DOWN6], [[5.0, 4.0, 3.0, 2.0, 1.0, 5 / 3, 7 / 3, 3.0, 11 / 3, 13 / 3, 5.0]]),
    ("test_cycle_lr_triangular2_mode_step_size_up_down",
     _cyclic([1, 3], [5, 7], step_size_up=2, step_size_down=6, base_momentum=[1, 3], max_momentum=[5, 7], mode="triangular2", **MOMENTUM_KW),
     24, [UP2_DOWN6_HALVING, [v + 2 for v in UP2_DOWN6_HALVING]],
     [fo.cyclic(5, 1, 2, 6, mode="triangular2"), fo.cyclic(7, 3, 2, 6, mode="triangular2")]),
    ("test_cycle_lr_exp_range_mode_step_size_up_down",
     _cyclic(1, 5, step_size_up=2, step_size_down=6, base_momentum=1, max_momentum=5, mode="exp_range", gamma=0.9, **MOMENTUM_KW),
     13, [fo.cyclic(1, 5, 2, 6, mode="exp_range", gamma=0.9)], [fo.cyclic(5, 1, 2, 6, mode="exp_range", gamma=0.9)]),
    # OneCycleLR: momentum runs max_momentum -> base_momentum -> max_momentum, the lr's phases upside down
    ("test_onecycle_lr_linear_annealing", _onecycle(final_div_factor=2, anneal_strategy="linear"),
     10, [ONECYCLE_LINEAR], [[22, 11.5, 1, 4, 7, 10, 13, 16, 19, 22]]),
    ("test_onecycle_lr_linear_annealing_three_phases",
     _onecycle(div_factor=25, anneal_strategy="linear", pct_start=0.4, final_div_factor=4, three_phase=True),
     10, [ONECYCLE_THREE_PHASES], [[22, 15, 8, 1, 8, 15, 22, 22, 22, 22]]),
    ("test_onecycle_lr_cosine_annealing", _onecycle(final_div_factor=2),
     10, [fo.torch_onecycle(10, 25.0, fdiv=2.0)], [fo.torch_onecycle(10, 1.0, div=1 / 22, fdiv=1.0)]),
    ("test_cycle_lr_with_adam", _onecycle(final_div_factor=2, anneal_strategy="linear"),
     10, [ONECYCLE_LINEAR], [[22, 11.5, 1, 4, 7, 10, 13, 16, 19, 22]]),
]
ROWS += [Row(m, build, range(n), lrs) for m, build, n, lrs, _ in CYCLES]
# torch's other way to give OneCycleLR's length (epochs x steps_per_epoch; our addition, issue 15), with
# test_onecycle_lr_linear_annealing's values
ROWS.append(Row("OneCycleLR(epochs=2, steps_per_epoch=5)",
                lambda: get("OneCycleLR", max_lr=25, final_div_factor=2, epochs=2, steps_per_epoch=5, anneal_strategy="linear"),
                range(10), [ONECYCLE_LINEAR]))


def _expected(group, steps):
    if callable(group):
        return np.array([group(s) for s in steps], dtype=np.float64)
    return np.array(group, dtype=np.float64)[: len(steps)]


@pytest.mark.parametrize("row", [pytest.param(r, id=r.mirrors) for r in ROWS])
def test_lr(row):
    schedule = row.build()
    steps = list(row.steps)
    fractional = any(float(s) != int(s) for s in steps)
    at = mx.array(np.array(steps, dtype=np.float32 if fractional else np.int64))
    got = np.array(schedule(at), dtype=np.float64).reshape(-1, len(steps))
    assert got.shape[0] == len(row.groups)
    for group, (values, want) in enumerate(zip(got, (_expected(g, steps) for g in row.groups))):
        for step, v, w in zip(steps, values, want):
            assert abs(v - w) <= ATOL, f"group {group}, epoch {step}: expected {w}, got {v}"


MOMENTUM = [pytest.param(build, n, m, id=name) for name, build, n, _, m in CYCLES if m is not None]


@pytest.mark.parametrize("build, n, momenta", MOMENTUM)
def test_momentum(build, n, momenta):
    """The momentum half of torch's cyclic tests: cyclic_momentum / onecycle_momentum
    with the test's torch arguments."""
    momentum = build.momentum()
    got = np.array(momentum(mx.arange(n)), dtype=np.float64).reshape(-1, n)
    assert got.shape[0] == len(momenta)
    for values, group in zip(got, momenta):
        assert np.all(np.abs(values - _expected(group, range(n))) <= ATOL)


REFUSALS = {  # torch's test -> our schedule with its arguments: a ValueError
    "test_cycle_lr_invalid_mode": lambda: get("CyclicLR", base_lr=0, max_lr=0, mode="CATS"),
    "test_onecycle_lr_invalid_anneal_strategy": lambda: get("OneCycleLR", max_lr=1e-3, total_steps=10, anneal_strategy="CATS"),
    "test_onecycle_lr_invalid_pct_start": lambda: get("OneCycleLR", max_lr=1e-3, total_steps=10, pct_start=1.1),
    "test_onecycle_lr_cannot_calculate_total_steps": lambda: get("OneCycleLR", max_lr=1e-3),
}


@pytest.mark.parametrize("build", [pytest.param(b, id=name) for name, b in REFUSALS.items()])
def test_refusals(build):
    with pytest.raises(ValueError):
        build()
