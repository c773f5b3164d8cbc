"""Fused RMSprop, Adagrad and AdaDelta (mlx.optimizers' arguments and updates)."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import mlx.core as mx

from .._schedule import Schedule
from ._common import Group, Hyper, _real_or_schedule
from ._fused import _Fused


def _at_least(name: str, what: str, value: Any, floor: float, strict: bool, optimizer: str) -> None:
    """MLX's constructor check of a number (a schedule is taken as it comes)."""
    value = _real_or_schedule(name, value)
    if not isinstance(value, Schedule) and (value <= floor if strict else value < floor):
        raise ValueError(f"{optimizer} {what} should be {'>' if strict else '>='}{floor:g}, {value} was provided instead")


class RMSprop(_Fused):
    r"""RMSprop, fused (``mlx.optimizers.RMSprop``'s arguments and update).

    .. math::

        v_{t+1} &= \alpha v_t + (1 - \alpha) g_t^2 \\
        w_{t+1} &= w_t - \lambda_t \frac{g_t}{\sqrt{v_{t+1}} + \epsilon}

    Every float argument is a float or a schedule evaluated at the step in
    the kernel. ``groups``: see the module.

    Args:
        learning_rate (float or Schedule): :math:`\lambda_t`.
        alpha (float or Schedule, optional): :math:`\alpha`, ``>= 0``. Default: ``0.99``.
        eps (float or Schedule, optional): :math:`\epsilon`, ``> 0``. Default: ``1e-8``.
        groups (list of (callable, dict), optional): per-group arguments
            (keyword only; see the module). Default: ``None`` (one group).
        member_axis (int, optional): ``0``: a sweep of models stacked along
            axis 0 (keyword only; see the module). Default: ``None``.

    Raises:
        TypeError: An argument of the wrong type, or a malformed ``groups`` entry.
        ValueError: An argument out of range, a batched schedule (without
            ``member_axis``), or a group setting an argument the optimizer
            does not take.

    Example:
        >>> from mlx_sched.optimizers import RMSprop
        >>> opt = RMSprop(mlx_sched.cosine_decay(1e-3, 1000), alpha=0.9)
        >>> opt.alpha
        0.9
    """

    _KIND = "rmsprop"
    _STATES = ("v",)
    _ATTRS = ("alpha", "eps")
    _REPORT = {"alpha": (2,), "eps": (3,)}
    _DEFAULTS = {"learning_rate": None, "alpha": 0.99, "eps": 1e-8}

    def __init__(self, learning_rate: Hyper, alpha: Hyper = 0.99, eps: Hyper = 1e-8, *,
                 groups: Optional[Sequence[Group]] = None, member_axis: Optional[int] = None):
        self.alpha = alpha
        self.eps = eps
        super().__init__({"learning_rate": learning_rate, "alpha": alpha, "eps": eps}, groups, member_axis)

    def _check_ranges(self, h: Dict[str, Any]) -> None:
        _at_least("alpha", "alpha", h["alpha"], 0.0, False, "RMSprop")
        _at_least("eps", "epsilon", h["eps"], 0.0, True, "RMSprop")

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[int, Dict[str, Any]]:
        return 0, {"rho": _real_or_schedule("alpha", h["alpha"]), "eps": _real_or_schedule("eps", h["eps"])}

    def _reference_update(self, h: Dict[str, Any], g: mx.array, p: mx.array, st: Dict[str, mx.array],
                          lr: mx.array, wd: Any, step: mx.array) -> Tuple[mx.array, Dict[str, mx.array]]:
        # mlx.optimizers.RMSprop.apply_single, operation by operation
        lr = lr.astype(g.dtype)
        alpha = h["alpha"]
        v = alpha * st["v"] + (1 - alpha) * mx.square(g)
        return p - lr * g / (mx.sqrt(v) + h["eps"]), {"v": v}


class Adagrad(_Fused):
    r"""Adagrad, fused (``mlx.optimizers.Adagrad``'s arguments and update).

    .. math::

        v_{t+1} &= v_t + g_t^2 \\
        w_{t+1} &= w_t - \lambda_t \frac{g_t}{\sqrt{v_{t+1}} + \epsilon}

    Every float argument is a float or a schedule evaluated at the step in
    the kernel. ``groups``: see the module.

    Args:
        learning_rate (float or Schedule): :math:`\lambda_t`.
        eps (float or Schedule, optional): :math:`\epsilon`, ``> 0``. Default: ``1e-8``.
        groups (list of (callable, dict), optional): per-group arguments
            (keyword only; see the module). Default: ``None`` (one group).
        member_axis (int, optional): ``0``: a sweep of models stacked along
            axis 0 (keyword only; see the module). Default: ``None``.

    Raises:
        TypeError: An argument of the wrong type, or a malformed ``groups`` entry.
        ValueError: An argument out of range, a batched schedule (without
            ``member_axis``), or a group setting an argument the optimizer
            does not take.

    Example:
        >>> from mlx_sched.optimizers import Adagrad
        >>> opt = Adagrad(0.01)
        >>> opt.eps
        1e-08
    """

    _KIND = "adagrad"
    _STATES = ("v",)
    _ATTRS = ("eps",)
    _REPORT = {"eps": (3,)}
    _DEFAULTS = {"learning_rate": None, "eps": 1e-8}

    def __init__(self, learning_rate: Hyper, eps: Hyper = 1e-8, *, groups: Optional[Sequence[Group]] = None, member_axis: Optional[int] = None):
        self.eps = eps
        super().__init__({"learning_rate": learning_rate, "eps": eps}, groups, member_axis)

    def _check_ranges(self, h: Dict[str, Any]) -> None:
        _at_least("eps", "epsilon", h["eps"], 0.0, True, "Adagrad")

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[int, Dict[str, Any]]:
        return 0, {"eps": _real_or_schedule("eps", h["eps"])}

    def _reference_update(self, h: Dict[str, Any], g: mx.array, p: mx.array, st: Dict[str, mx.array],
                          lr: mx.array, wd: Any, step: mx.array) -> Tuple[mx.array, Dict[str, mx.array]]:
        # mlx.optimizers.Adagrad.apply_single, operation by operation
        lr = lr.astype(g.dtype)
        v = st["v"] + mx.square(g)
        return p - lr * g / (mx.sqrt(v) + h["eps"]), {"v": v}


class AdaDelta(_Fused):
    r"""AdaDelta, fused (``mlx.optimizers.AdaDelta``'s arguments and update).

    .. math::

        v_{t+1} &= \rho v_t + (1 - \rho) g_t^2 \\
        \Delta w_{t+1} &= \frac{\sqrt{u_t + \epsilon}}{\sqrt{v_{t+1} + \epsilon}} g_t \\
        u_{t+1} &= \rho u_t + (1 - \rho) \Delta w_{t+1}^2 \\
        w_{t+1} &= w_t - \lambda_t \Delta w_{t+1}

    Every float argument is a float or a schedule evaluated at the step in
    the kernel. ``groups``: see the module.

    Args:
        learning_rate (float or Schedule): :math:`\lambda_t`.
        rho (float or Schedule, optional): :math:`\rho`, ``>= 0``. Default: ``0.9``.
        eps (float or Schedule, optional): :math:`\epsilon`, ``> 0``. Default: ``1e-6``.
        groups (list of (callable, dict), optional): per-group arguments
            (keyword only; see the module). Default: ``None`` (one group).
        member_axis (int, optional): ``0``: a sweep of models stacked along
            axis 0 (keyword only; see the module). Default: ``None``.

    Raises:
        TypeError: An argument of the wrong type, or a malformed ``groups`` entry.
        ValueError: An argument out of range, a batched schedule (without
            ``member_axis``), or a group setting an argument the optimizer
            does not take.

    Example:
        >>> from mlx_sched.optimizers import AdaDelta
        >>> opt = AdaDelta(1.0, rho=0.95)
        >>> opt.rho
        0.95
    """

    _KIND = "adadelta"
    _STATES = ("v", "u")
    _ATTRS = ("rho", "eps")
    _REPORT = {"rho": (2,), "eps": (3,)}
    _DEFAULTS = {"learning_rate": None, "rho": 0.9, "eps": 1e-6}

    def __init__(self, learning_rate: Hyper, rho: Hyper = 0.9, eps: Hyper = 1e-6, *,
                 groups: Optional[Sequence[Group]] = None, member_axis: Optional[int] = None):
        self.rho = rho
        self.eps = eps
        super().__init__({"learning_rate": learning_rate, "rho": rho, "eps": eps}, groups, member_axis)

    def _check_ranges(self, h: Dict[str, Any]) -> None:
        _at_least("rho", "rho", h["rho"], 0.0, False, "AdaDelta")
        _at_least("eps", "epsilon", h["eps"], 0.0, True, "AdaDelta")

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[int, Dict[str, Any]]:
        return 0, {"rho": _real_or_schedule("rho", h["rho"]), "eps": _real_or_schedule("eps", h["eps"])}

    def _reference_update(self, h: Dict[str, Any], g: mx.array, p: mx.array, st: Dict[str, mx.array],
                          lr: mx.array, wd: Any, step: mx.array) -> Tuple[mx.array, Dict[str, mx.array]]:
        # mlx.optimizers.AdaDelta.apply_single, operation by operation
        lr = lr.astype(g.dtype)
        rho, eps = h["rho"], h["eps"]
        v = rho * st["v"] + (1 - rho) * mx.square(g)
        d = mx.sqrt(st["u"] + eps) / mx.sqrt(v + eps) * g
        u = rho * st["u"] + (1 - rho) * mx.square(d)
        return p - lr * d, {"v": v, "u": u}
