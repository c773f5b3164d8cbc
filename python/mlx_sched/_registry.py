"""``get_schedule(name, **kwargs)``: every schedule by our name or by the
name and argument names of optax, PyTorch or Hugging Face transformers.

torch and HF schedulers scale an optimizer's learning rate, so their entries
take it as ``lr`` (torch's ``OneCycleLR``/``CyclicLR`` take ``max_lr`` /
``base_lr`` as torch does). torch's momentum arguments (``cycle_momentum``,
``base_momentum``, ``max_momentum``) are accepted there and do not change the
learning rate; the momentum curves are ``onecycle_momentum`` and
``cyclic_momentum``, which also take the whole argument set of
``OneCycleLR`` / ``CyclicLR`` (the learning-rate arguments accepted and
ignored), so that one torch argument dict gives both curves.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional

from ._families import cyclic, cyclic_momentum, onecycle, onecycle_momentum, polynomial_decay, warmup_constant, warmup_stable_decay
from ._schedule import FACTORIES, Schedule, _arg_names, combinator
from ._schedules import cosine_decay, exponential_decay, join_schedules, linear_schedule
from ._validate import _check_count, _check_real, _check_steps0


def _optax_linear(init_value: Any, end_value: Any, transition_steps: Any, transition_begin: Any = 0) -> Schedule:

    return polynomial_decay(init_value, end_value, 1, transition_steps, transition_begin)


def _optax_cosine(init_value: Any, decay_steps: Any, alpha: float = 0.0, exponent: Any = 1.0) -> Schedule:

    alpha = _check_real("alpha", alpha)
    init = [_check_real("init_value", v) for v in init_value] if isinstance(init_value, (list, tuple)) else _check_real("init_value", init_value)
    end = [alpha * v for v in init] if isinstance(init, list) else alpha * init
    return cosine_decay(init, decay_steps, end, exponent=exponent)


def _optax_exponential(init_value: Any, transition_steps: Any, decay_rate: Any, transition_begin: Any = 0, staircase: bool = False,
                       end_value: Any = None) -> Schedule:

    return exponential_decay(init_value, decay_rate, transition_steps=transition_steps, staircase=staircase, begin=transition_begin,
                             end=end_value)


def _ignore_momentum(kw: Dict[str, Any]) -> Dict[str, Any]:
    for k in ("cycle_momentum", "base_momentum", "max_momentum", "last_epoch"):
        kw.pop(k, None)
    return kw


def _torch_onecycle(max_lr: Any, total_steps: Optional[int] = None, epochs: Optional[int] = None, steps_per_epoch: Optional[int] = None,
                    pct_start: float = 0.3, anneal_strategy: str = "cos", div_factor: float = 25.0, final_div_factor: float = 1e4,
                    three_phase: bool = False, **momentum: Any) -> Schedule:

    _check_only("OneCycleLR", _ignore_momentum(momentum))
    return onecycle(total_steps, max_lr, pct_start, anneal_strategy, div_factor, final_div_factor, three_phase,
                    epochs=epochs, steps_per_epoch=steps_per_epoch)


def _torch_cyclic(base_lr: Any, max_lr: Any, step_size_up: Any = 2000, step_size_down: Any = None, mode: str = "triangular",
                  gamma: Any = 1.0, scale_fn: Any = None, scale_mode: str = "cycle", **momentum: Any) -> Schedule:

    if scale_fn is not None:
        raise TypeError("scale_fn: a Python function cannot be compiled into a schedule program; use mode.")
    _check_only("CyclicLR", _ignore_momentum(momentum))
    return cyclic(base_lr, max_lr, step_size_up, step_size_down, mode, gamma)


def _cycling(name: str, cycle_momentum: Any) -> None:
    if not cycle_momentum:
        raise ValueError(f"cycle_momentum={cycle_momentum!r}: {name} then leaves the momentum at the optimizer's value; "
                         "there is no momentum schedule to build.")


def _torch_onecycle_momentum(max_lr: Any = None, total_steps: Optional[int] = None, epochs: Optional[int] = None,
                             steps_per_epoch: Optional[int] = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
                             cycle_momentum: bool = True, base_momentum: Any = 0.85, max_momentum: Any = 0.95,
                             three_phase: bool = False, **lr_only: Any) -> Schedule:

    for k in ("div_factor", "final_div_factor", "last_epoch"):
        lr_only.pop(k, None)
    _check_only("onecycle_momentum", lr_only)
    _cycling("OneCycleLR", cycle_momentum)
    return onecycle_momentum(total_steps, pct_start, anneal_strategy, base_momentum, max_momentum, three_phase,
                             epochs=epochs, steps_per_epoch=steps_per_epoch)


def _torch_cyclic_momentum(base_lr: Any = None, max_lr: Any = None, step_size_up: Any = 2000, step_size_down: Any = None,
                           mode: str = "triangular", gamma: Any = 1.0, scale_fn: Any = None, scale_mode: str = "cycle",
                           cycle_momentum: bool = True, base_momentum: Any = 0.8, max_momentum: Any = 0.9, **rest: Any) -> Schedule:

    rest.pop("last_epoch", None)
    _check_only("cyclic_momentum", rest)
    if scale_fn is not None:
        raise TypeError("scale_fn: a Python function cannot be compiled into a schedule program; use mode.")
    _cycling("CyclicLR", cycle_momentum)
    return cyclic_momentum(base_momentum, max_momentum, step_size_up, step_size_down, mode, gamma)


def _torch_linear(lr: Any, start_factor: float = 1.0 / 3, end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> Schedule:

    sf, ef = _check_real("start_factor", start_factor), _check_real("end_factor", end_factor)
    if not 0 < sf <= 1:
        raise ValueError("Starting multiplicative factor expected to be greater than 0 and less or equal to 1.")
    if not 0 <= ef <= 1:
        raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
    lrs = lr if isinstance(lr, (list, tuple)) else None
    init = [_check_real("lr", v) * sf for v in lrs] if lrs is not None else _check_real("lr", lr) * sf
    end = [_check_real("lr", v) * ef for v in lrs] if lrs is not None else _check_real("lr", lr) * ef
    return linear_schedule(init, end, total_iters)


def _check_only(name: str, rest: Dict[str, Any]) -> None:
    if rest:
        raise TypeError(f"{name} got an unexpected keyword argument {sorted(rest)[0]!r}.")


def _hf_linear(lr: Any, num_warmup_steps: Any, num_training_steps: Any) -> Schedule:

    w, t = _check_steps0("num_warmup_steps", num_warmup_steps), _check_count("num_training_steps", num_training_steps)
    if t <= w:
        raise ValueError(f"num_training_steps must be greater than num_warmup_steps, but got {t} <= {w}.")
    return join_schedules([warmup_constant(0.0, lr, w), linear_schedule(lr, 0.0, t - w)], [w])


def _hf_polynomial(lr: Any, num_warmup_steps: Any, num_training_steps: Any, lr_end: Any = 1e-7, power: Any = 1.0) -> Schedule:

    w, t = _check_steps0("num_warmup_steps", num_warmup_steps), _check_count("num_training_steps", num_training_steps)
    if t <= w:
        raise ValueError(f"num_training_steps must be greater than num_warmup_steps, but got {t} <= {w}.")
    if not _check_real("lr", lr) > _check_real("lr_end", lr_end):
        raise ValueError(f"lr_end ({lr_end}) must be smaller than initial lr ({lr})")
    return join_schedules([warmup_constant(0.0, lr, w), polynomial_decay(lr, lr_end, power, t - w)], [w])


def _hf_wsd(lr: Any, num_warmup_steps: Any, num_decay_steps: Any, num_training_steps: Any = None, num_stable_steps: Any = None,
            warmup_type: str = "linear", decay_type: str = "cosine", min_lr_ratio: Any = 0.0, num_cycles: Any = 0.5) -> Schedule:

    if num_cycles != 0.5:
        raise ValueError("num_cycles: only HF's default 0.5 (one cosine decay) is supported by warmup_stable_decay.")
    if num_stable_steps is None:
        if num_training_steps is None:
            raise ValueError("Either num_training_steps or num_stable_steps must be specified.")
        num_stable_steps = num_training_steps - num_warmup_steps - num_decay_steps
    return warmup_stable_decay(lr, num_warmup_steps, num_stable_steps, num_decay_steps, min_lr_ratio, warmup_type, decay_type)


def _lazy(fn_name: str, mapping: Callable[..., Dict[str, Any]]) -> Callable[..., Schedule]:
    """An entry calling our factory ``fn_name`` with the arguments ``mapping`` makes."""

    def entry(**kw: Any) -> Schedule:
        return FACTORIES[fn_name](**mapping(**kw))

    return entry


def _entries() -> Dict[str, Callable[..., Schedule]]:
    e: Dict[str, Callable[..., Schedule]] = {
        # optax (optax.schedules)
        "constant_schedule": _lazy("constant", lambda value: dict(value=value)),
        "polynomial_schedule": _lazy("polynomial_decay", lambda init_value, end_value, power, transition_steps, transition_begin=0: dict(
            init=init_value, end=end_value, power=power, steps=transition_steps, begin=transition_begin)),
        "optax.linear_schedule": _optax_linear,
        "optax.exponential_decay": _optax_exponential,
        "cosine_decay_schedule": _optax_cosine,
        "piecewise_constant_schedule": _lazy("piecewise_constant", lambda init_value, boundaries_and_scales=None: dict(
            init=init_value, boundaries_and_scales=boundaries_and_scales)),
        "piecewise_interpolate_schedule": _lazy("piecewise_interpolate", lambda interpolate_type, init_value, boundaries_and_scales=None: dict(
            kind=interpolate_type, init=init_value, boundaries_and_scales=boundaries_and_scales)),
        "linear_onecycle_schedule": _lazy("linear_onecycle", lambda **kw: kw),
        "cosine_onecycle_schedule": _lazy("cosine_onecycle", lambda **kw: kw),
        "warmup_constant_schedule": _lazy("warmup_constant", lambda init_value, peak_value, warmup_steps: dict(
            init=init_value, peak=peak_value, warmup_steps=warmup_steps)),
        "warmup_cosine_decay_schedule": _lazy("warmup_cosine_decay", lambda init_value, peak_value, warmup_steps, decay_steps, end_value=0.0,
                                              exponent=1.0: dict(init=init_value, peak=peak_value, warmup_steps=warmup_steps,
                                                                 decay_steps=decay_steps, end=end_value, exponent=exponent)),
        "warmup_exponential_decay_schedule": _lazy("warmup_exponential_decay", lambda init_value, peak_value, warmup_steps, transition_steps,
                                                   decay_rate, transition_begin=0, staircase=False, end_value=None: dict(
            init=init_value, peak=peak_value, warmup_steps=warmup_steps, transition_steps=transition_steps, decay_rate=decay_rate,
            transition_begin=transition_begin, staircase=staircase, end=end_value)),
        "sgdr_schedule": _lazy("sgdr", lambda cosine_kwargs: dict(cosine_kwargs=cosine_kwargs)),
        # torch.optim.lr_scheduler (lr: the optimizer's learning rate)
        "StepLR": _lazy("step_decay", lambda lr, step_size, gamma=0.1, last_epoch=-1: dict(init=lr, decay_rate=gamma, step_size=step_size)),
        "MultiStepLR": _lazy("multistep_decay", lambda lr, milestones, gamma=0.1, last_epoch=-1: dict(init=lr, milestones=milestones, gamma=gamma)),
        "ExponentialLR": _lazy("exponential_decay", lambda lr, gamma, last_epoch=-1: dict(init=lr, decay_rate=gamma)),
        "CosineAnnealingWarmRestarts": _lazy("cosine_restarts", lambda lr, T_0, T_mult=1, eta_min=0.0, last_epoch=-1: dict(
            init=lr, period=T_0, t_mult=T_mult, end=eta_min)),
        "OneCycleLR": _torch_onecycle,
        "LinearLR": _torch_linear,
        "CosineAnnealingLR": _lazy("cosine_with_min_lr", lambda lr, T_max, eta_min=0.0, last_epoch=-1: dict(
            init=lr, warmup_steps=0, total_steps=T_max, min_lr=eta_min)),
        "CyclicLR": _torch_cyclic,
        # their momentum curves (cycle_momentum=True), by our names with torch's arguments
        "onecycle_momentum": _torch_onecycle_momentum,
        "cyclic_momentum": _torch_cyclic_momentum,
        # transformers.optimization (lr: the optimizer's learning rate)
        "get_constant_schedule": _lazy("constant", lambda lr, last_epoch=-1: dict(value=lr)),
        "get_constant_schedule_with_warmup": _lazy("warmup_constant", lambda lr, num_warmup_steps, last_epoch=-1: dict(
            init=0.0, peak=lr, warmup_steps=num_warmup_steps)),
        "get_linear_schedule_with_warmup": lambda last_epoch=-1, **kw: _hf_linear(**kw),
        "get_cosine_schedule_with_warmup": _lazy("cosine_with_warmup", lambda lr, num_warmup_steps, num_training_steps, num_cycles=0.5,
                                                 last_epoch=-1: dict(init=lr, warmup_steps=num_warmup_steps,
                                                                     total_steps=num_training_steps, num_cycles=num_cycles)),
        "get_cosine_with_hard_restarts_schedule_with_warmup": _lazy(
            "cosine_hard_restarts", lambda lr, num_warmup_steps, num_training_steps, num_cycles=1, last_epoch=-1: dict(
                init=lr, warmup_steps=num_warmup_steps, total_steps=num_training_steps, num_cycles=num_cycles)),
        "get_polynomial_decay_schedule_with_warmup": lambda last_epoch=-1, **kw: _hf_polynomial(**kw),
        "get_inverse_sqrt_schedule": _lazy("inverse_sqrt", lambda lr, num_warmup_steps, timescale=None, last_epoch=-1: dict(
            init=lr, warmup_steps=num_warmup_steps, timescale=timescale)),
        "get_wsd_schedule": lambda last_epoch=-1, **kw: _hf_wsd(**kw),
        "get_cosine_with_min_lr_schedule_with_warmup": _lazy(
            "cosine_with_min_lr", lambda lr, num_warmup_steps, num_training_steps, num_cycles=0.5, last_epoch=-1, min_lr=None,
            min_lr_rate=None: dict(init=lr, warmup_steps=num_warmup_steps, total_steps=num_training_steps, min_lr=min_lr,
                                   num_cycles=num_cycles, min_lr_rate=min_lr_rate)),
        "get_cosine_with_min_lr_schedule_with_warmup_lr_rate": _lazy(
            "cosine_warmup_with_min_lr", lambda lr, num_warmup_steps, num_training_steps, num_cycles=0.5, last_epoch=-1, min_lr=None,
            min_lr_rate=None, warmup_lr_rate=None: dict(init=lr, warmup_steps=num_warmup_steps, total_steps=num_training_steps,
                                                        num_cycles=num_cycles, min_lr=min_lr, min_lr_rate=min_lr_rate,
                                                        warmup_lr_rate=warmup_lr_rate)),
    }
    # HF's SchedulerType names (transformers.get_scheduler)
    for alias, name in {"linear": "get_linear_schedule_with_warmup", "cosine": "get_cosine_schedule_with_warmup",
                        "cosine_with_restarts": "get_cosine_with_hard_restarts_schedule_with_warmup",
                        "polynomial": "get_polynomial_decay_schedule_with_warmup", "constant": "get_constant_schedule",
                        "constant_with_warmup": "get_constant_schedule_with_warmup", "inverse_sqrt": "get_inverse_sqrt_schedule",
                        "warmup_stable_decay": "get_wsd_schedule",
                        "cosine_warmup_with_min_lr": "get_cosine_with_min_lr_schedule_with_warmup_lr_rate"}.items():
        e.setdefault(alias, e[name])
    return e


# names that are ours too, with other arguments: optax's are taken when the
# arguments are optax's (init_value, ...)
_OPTAX_SAME_NAME = {"linear_schedule": "optax.linear_schedule", "exponential_decay": "optax.exponential_decay"}
_HF_SAME_NAME = {"cosine_with_min_lr": "get_cosine_with_min_lr_schedule_with_warmup"}


def schedule_names() -> List[str]:
    """Every name ``get_schedule`` accepts."""
    return sorted(set(FACTORIES) | {k for k in _entries() if "." not in k})


@combinator
def get_schedule(name: str, **kwargs: Any) -> Schedule:
    """A schedule by name: ours (``"cosine_decay"``, with our arguments), or
    optax's (``"warmup_cosine_decay_schedule"``, ``init_value=...``), torch's
    (``"OneCycleLR"``, ``"MultiStepLR"``, ``lr=...``) or Hugging Face's
    (``"get_cosine_schedule_with_warmup"`` or its ``SchedulerType`` ``"cosine"``,
    ``lr=...``) with that library's argument names and defaults.

    ``"linear_schedule"`` and ``"exponential_decay"`` are MLX's with MLX's
    arguments and optax's with optax's (``init_value``, ...);
    ``"cosine_with_min_lr"`` is HF's when given ``lr``;
    ``"onecycle_momentum"`` and ``"cyclic_momentum"`` take our arguments or
    all of torch's ``OneCycleLR`` / ``CyclicLR`` ones (``max_lr``,
    ``anneal_strategy``, ...: the learning-rate ones accepted and ignored),
    so one torch argument dict gives the learning rate and its momentum.

    Args:
        name (str): A schedule name: any mlx-sched factory, an optax
            schedule, a ``torch.optim.lr_scheduler`` class or a Hugging Face
            ``get_*_schedule*`` function or ``SchedulerType`` value.
        **kwargs: That schedule's arguments, with its library's names and
            defaults (torch's and HF's take the base learning rate as ``lr``;
            momentum arguments and ``last_epoch`` are accepted and ignored
            by the learning-rate schedules).

    Returns:
        Schedule: The schedule the named one computes, for the learning rate.

    Example:
        >>> lr = mlx_sched.get_schedule("get_cosine_schedule_with_warmup", lr=10.0, num_warmup_steps=2, num_training_steps=10)
        >>> lr(6)
        array(5, dtype=float32)
        >>> mlx_sched.get_schedule("MultiStepLR", lr=0.05, milestones=[2, 5, 9])(5)
        array(0.0005, dtype=float32)
        >>> kw = dict(max_lr=1.0, total_steps=100, anneal_strategy="linear", base_momentum=0.85)
        >>> mlx_sched.get_schedule("OneCycleLR", **kw)(29), mlx_sched.get_schedule("onecycle_momentum", **kw)(29)
        (array(1, dtype=float32), array(0.85, dtype=float32))

    Raises:
        ValueError: an unknown name (the known ones are listed), or an
            argument out of range.
        TypeError: a name that is not a string, or an argument the named
            schedule does not take.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, but got {type(name).__name__}.")
    ours, theirs = FACTORIES, _entries()
    if name in _OPTAX_SAME_NAME and "init_value" in kwargs:
        name = _OPTAX_SAME_NAME[name]
    elif name in _HF_SAME_NAME and "lr" in kwargs:
        name = _HF_SAME_NAME[name]
    if name in ours and set(kwargs) <= set(_arg_names(ours[name])):
        return ours[name](**kwargs)
    if name in theirs:
        try:
            return theirs[name](**kwargs)
        except TypeError as e:  # an adapter's own signature: say which schedule
            msg = str(e)
            for anon in ("<lambda>()", "entry()"):
                msg = msg.replace(anon, name)
            raise TypeError(msg) from None
    if name in ours:
        return ours[name](**kwargs)  # its own TypeError names the argument
    raise ValueError(f"unknown schedule {name!r}; get_schedule knows: {', '.join(schedule_names())}.")
