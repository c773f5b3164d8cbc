"""Fused Adam and AdamW (mlx.optimizers' arguments and updates)."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple

import mlx.core as mx

from .. import _ext
from .._schedule import Schedule
from ._common import Group, Hyper, _check_betas, _pair, _real_or_schedule
from ._fused import _Fused


class Adam(_Fused):
    r"""Adam, fused (``mlx.optimizers.Adam``'s arguments and update).

    .. math::

        m_{t+1} &= \beta_1 m_t + (1 - \beta_1) g_t \\
        v_{t+1} &= \beta_2 v_t + (1 - \beta_2) g_t^2 \\
        w_{t+1} &= w_t - \lambda_t \frac{m_{t+1}}{\sqrt{v_{t+1}} + \epsilon}

    With ``bias_correction``: ``lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``,
    ``t`` the step after the increment (MLX's). ``groups``: see the module.

    Args:
        learning_rate (float or Schedule): :math:`\lambda_t`: a finite float
            or one (unbatched) mlx-sched schedule, evaluated at the step
            (with ``member_axis``: a value or schedule per member too).
        betas (list of float, optional): :math:`(\beta_1, \beta_2)`, each in
            [0, 1). Default: ``[0.9, 0.999]``.
        eps (float, optional): :math:`\epsilon`, ``>= 0``. Default: ``1e-8``.
        bias_correction (bool, optional): Divide by :math:`1 - \beta^t` as
            above. Default: ``False``.
        groups (list of (callable, dict), optional): ``(predicate(path,
            parameter) -> bool, {argument: value})`` pairs (keyword only): the
            first group whose predicate holds gives a parameter these arguments
            (any of the constructor's, schedules included) instead of the
            constructor's. Default: ``None`` (one group).
        member_axis (int, optional): ``0``: a sweep, G models stacked along
            axis 0 of every parameter; any float argument may then hold G
            values (a batch of G schedules, or G numbers), one per member
            (keyword only; see the module). Default: ``None``.

    Raises:
        TypeError: An argument of the wrong type, or a malformed ``groups`` entry.
        ValueError: An argument out of range, a batched schedule (without
            ``member_axis``), or a group setting an argument the optimizer
            does not take.

    Example:
        >>> from mlx_sched.optimizers import Adam
        >>> opt = Adam(mlx_sched.cosine_decay(1e-3, 1000), betas=[0.9, 0.99])
        >>> opt.betas
        [0.9, 0.99]
    """

    _KIND = "adam"
    _STATES = ("m", "v")
    _ATTRS: Tuple[str, ...] = ("betas", "eps", "bias_correction")
    _REPORT = {"betas": (1, 2), "eps": (3,)}
    _DEFAULTS = {"learning_rate": None, "betas": None, "eps": 1e-8, "bias_correction": False}

    def __init__(
        self,
        learning_rate: Hyper,
        betas: Sequence[Hyper] = [0.9, 0.999],
        eps: Hyper = 1e-8,
        bias_correction: bool = False,
        *,
        groups: Optional[Sequence[Group]] = None,
        member_axis: Optional[int] = None,
    ):
        self.betas = betas
        self.eps = eps
        self.bias_correction = bias_correction
        # every attribute of _ATTRS (AdamW's weight_decay too, set before it calls this)
        super().__init__({"learning_rate": learning_rate, **{a: getattr(self, a) for a in self._ATTRS}}, groups, member_axis)

    def _check_ranges(self, h: Dict[str, Any]) -> None:
        _check_betas(h["betas"], "Adam")
        eps = _real_or_schedule("eps", h["eps"])
        if not isinstance(eps, Schedule) and not 0.0 <= eps:
            raise ValueError(f"Adam epsilon should be >=0, {eps} was provided instead")

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[int, Dict[str, Any]]:
        b1, b2 = _pair("betas", h["betas"])
        flags = _ext.OPT_FLAGS["bias_correction"] if h.get("bias_correction") else 0
        return flags, {"b1": b1, "b2": b2, "eps": _real_or_schedule("eps", h["eps"])}

    def _reference_update(self, h: Dict[str, Any], g: mx.array, p: mx.array, st: Dict[str, mx.array],
                          lr: mx.array, wd: Any, step: mx.array) -> Tuple[mx.array, Dict[str, mx.array]]:
        # mlx.optimizers.Adam(W).apply_single, operation by operation
        lr = lr.astype(g.dtype)
        if self._KIND == "adamw":
            p = p * (1 - lr * (wd.astype(g.dtype) if isinstance(wd, mx.array) else wd))
        b1, b2 = h["betas"]
        eps = h["eps"]
        m = b1 * st["m"] + (1 - b1) * g
        v = b2 * st["v"] + (1 - b2) * mx.square(g)
        if h["bias_correction"]:
            c1 = (lr / (1 - b1**step)).astype(g.dtype)
            c2 = mx.rsqrt(1 - b2**step).astype(g.dtype)
            return p - (c1 * m) / (mx.sqrt(v) * c2 + eps), {"m": m, "v": v}
        return p - lr * m / (mx.sqrt(v) + eps), {"m": m, "v": v}


class AdamW(Adam):
    r"""AdamW, fused (``mlx.optimizers.AdamW``'s arguments and update).

    .. math::

        w &\leftarrow w\,(1 - \lambda_t\, \text{wd}_t) \\
        w_{t+1} &= \text{Adam}(w, g)

    ``weight_decay`` (default ``0.01``) is a float or a schedule, evaluated at
    the same step as the learning rate. ``groups``: see the module.

    Args:
        learning_rate (float or Schedule): :math:`\lambda_t`: a finite float
            or one (unbatched) mlx-sched schedule, evaluated at the step
            (with ``member_axis``: a value or schedule per member too).
        betas (list of float, optional): :math:`(\beta_1, \beta_2)`, each in
            [0, 1). Default: ``[0.9, 0.999]``.
        eps (float, optional): :math:`\epsilon`, ``>= 0``. Default: ``1e-8``.
        weight_decay (float or Schedule, optional): :math:`\text{wd}_t`, a
            float or a schedule evaluated at the same step. Default: ``0.01``.
        bias_correction (bool, optional): Adam's bias correction. Default: ``False``.
        groups (list of (callable, dict), optional): ``(predicate(path,
            parameter) -> bool, {argument: value})`` pairs (keyword only): the
            first group whose predicate holds gives a parameter these arguments
            (any of the constructor's, schedules included) instead of the
            constructor's. Default: ``None`` (one group).
        member_axis (int, optional): ``0``: a sweep, G models stacked along
            axis 0 of every parameter; any float argument may then hold G
            values (a batch of G schedules, or G numbers), one per member
            (keyword only; see the module). Default: ``None``.

    Raises:
        TypeError: An argument of the wrong type, or a malformed ``groups`` entry.
        ValueError: An argument out of range, a batched schedule (without
            ``member_axis``), or a group setting an argument the optimizer
            does not take.

    Example:
        >>> from mlx_sched.optimizers import AdamW
        >>> opt = AdamW(1e-3, groups=[(lambda path, p: p.ndim == 1, {"weight_decay": 0.0})])
        >>> opt.weight_decay
        0.01
    """

    _KIND = "adamw"
    _ATTRS = ("betas", "eps", "weight_decay", "bias_correction")
    _REPORT = {"weight_decay": (0,), "betas": (1, 2), "eps": (3,)}
    _DEFAULTS = {**Adam._DEFAULTS, "weight_decay": 0.01}

    def __init__(
        self,
        learning_rate: Hyper,
        betas: Sequence[Hyper] = [0.9, 0.999],
        eps: Hyper = 1e-8,
        weight_decay: Hyper = 0.01,
        bias_correction: bool = False,
        *,
        groups: Optional[Sequence[Group]] = None,
        member_axis: Optional[int] = None,
    ):
        self.weight_decay = weight_decay
        super().__init__(learning_rate, betas, eps, bias_correction, groups=groups, member_axis=member_axis)


class Adamax(Adam):
    r"""Adamax, fused (``mlx.optimizers.Adamax``'s arguments and update): Adam
    with the infinity norm.

    .. math::

        m_{t+1} &= \beta_1 m_t + (1 - \beta_1) g_t \\
        v_{t+1} &= \max(\beta_2 v_t, |g_t|) \\
        w_{t+1} &= w_t - \lambda_t \frac{m_{t+1}}{v_{t+1} + \epsilon}

    Every float argument is a float or a schedule evaluated at the step in
    the kernel. ``groups``: see the module.

    Args:
        learning_rate (float or Schedule): :math:`\lambda_t`.
        betas (list of float or Schedule, optional): :math:`(\beta_1,
            \beta_2)`, numbers in [0, 1) (Adam's checks, as MLX). Default:
            ``[0.9, 0.999]``.
        eps (float or Schedule, optional): :math:`\epsilon`, ``>= 0``. Default: ``1e-8``.
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
        >>> from mlx_sched.optimizers import Adamax
        >>> opt = Adamax(2e-3, betas=[0.9, 0.999])
        >>> opt.eps
        1e-08
    """

    _KIND = "adamax"
    _ATTRS = ("betas", "eps")
    _DEFAULTS = {"learning_rate": None, "betas": None, "eps": 1e-8}

    def __init__(
        self,
        learning_rate: Hyper,
        betas: Sequence[Hyper] = [0.9, 0.999],
        eps: Hyper = 1e-8,
        *,
        groups: Optional[Sequence[Group]] = None,
        member_axis: Optional[int] = None,
    ):
        super().__init__(learning_rate, betas, eps, groups=groups, member_axis=member_axis)

    def _reference_update(self, h: Dict[str, Any], g: mx.array, p: mx.array, st: Dict[str, mx.array],
                          lr: mx.array, wd: Any, step: mx.array) -> Tuple[mx.array, Dict[str, mx.array]]:
        # mlx.optimizers.Adamax.apply_single, operation by operation
        lr = lr.astype(g.dtype)
        b1, b2 = h["betas"]
        m = b1 * st["m"] + (1 - b1) * g
        v = mx.maximum(b2 * st["v"], mx.abs(g))
        return p - lr * m / (v + h["eps"]), {"m": m, "v": v}
