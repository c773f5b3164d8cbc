"""Fused SGD (mlx.optimizers.SGD's arguments and update)."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

import mlx.core as mx

from .. import _ext
from .._schedule import Schedule
from ._common import Group, Hyper, _real_or_schedule
from ._fused import _Fused


class SGD(_Fused):
    r"""Stochastic gradient descent, fused (``mlx.optimizers.SGD``'s arguments and update).

    .. math::

        g &\leftarrow g + \text{wd}\, w \\
        v_{t+1} &= \mu v_t + (1 - \tau) g_t \\
        w_{t+1} &= w_t - \lambda_t\, (g_t + \mu v_{t+1} \text{ if nesterov else } v_{t+1})

    With ``momentum <= 0``: ``w - lr * g`` and ``v`` stays as it is.
    ``learning_rate`` and ``weight_decay``: float or schedule; ``groups``: see the module.

    Args:
        learning_rate (float or Schedule): :math:`\lambda_t`: a finite float
            or one (unbatched) mlx-sched schedule, evaluated at the step
            (with ``member_axis``: a value or schedule per member too).
        momentum (float, optional): :math:`\mu`; ``<= 0``: no momentum.
            Default: ``0``.
        weight_decay (float or Schedule, optional): :math:`\text{wd}`, a float
            or a schedule evaluated at the same step. Default: ``0``.
        dampening (float, optional): :math:`\tau`. Default: ``0``.
        nesterov (bool, optional): Nesterov momentum (needs ``momentum > 0``
            and ``dampening == 0``). Default: ``False``.
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
        >>> import mlx.nn as nn
        >>> from mlx_sched.optimizers import SGD
        >>> model = nn.Linear(2, 2)
        >>> opt = SGD(mlx_sched.step_decay(0.1, 0.5, 10), momentum=0.9)
        >>> opt.init(model.trainable_parameters())
        >>> sorted(opt.state)  # states live in one flat buffer per dtype; layout: which parameter is where
        ['fused', 'layout', 'learning_rate', 'step']
        >>> opt.param_state("weight")["v"].shape
        (2, 2)
    """

    _KIND = "sgd"
    _STATES = ("v",)
    _ATTRS = ("momentum", "weight_decay", "dampening", "nesterov")
    _REPORT = {"weight_decay": (0,), "momentum": (1,), "dampening": (2,)}
    _DEFAULTS = {"learning_rate": None, "momentum": 0.0, "weight_decay": 0.0, "dampening": 0.0, "nesterov": False}

    def __init__(
        self,
        learning_rate: Hyper,
        momentum: Hyper = 0.0,
        weight_decay: Hyper = 0.0,
        dampening: Hyper = 0.0,
        nesterov: bool = False,
        *,
        groups: Optional[Sequence[Group]] = None,
        member_axis: Optional[int] = None,
    ):
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dampening = dampening
        self.nesterov = nesterov
        hyper = dict(learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay,
                     dampening=dampening, nesterov=nesterov)
        super().__init__(hyper, groups, member_axis)

    def _check_ranges(self, h: Dict[str, Any]) -> None:
        momentum = _real_or_schedule("momentum", h["momentum"])
        dampening = _real_or_schedule("dampening", h["dampening"])
        # a schedule is taken as a momentum; a scheduled dampening is not zero
        if h["nesterov"] and ((not isinstance(momentum, Schedule) and momentum <= 0) or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening.")

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[int, Dict[str, Any]]:
        momentum = _real_or_schedule("momentum", h["momentum"])
        dampening = _real_or_schedule("dampening", h["dampening"])
        F = _ext.OPT_FLAGS
        on = isinstance(momentum, Schedule) or momentum > 0  # a schedule: MLX's test at each step, in the kernel
        flags = (F["momentum"] if on else 0) | (F["nesterov"] if h["nesterov"] else 0) | (F["weight_decay"] if has_wd else 0)
        return flags, {"momentum": momentum, "dampening": dampening}

    def _reference_update(self, h: Dict[str, Any], g: mx.array, p: mx.array, st: Dict[str, mx.array],
                          lr: mx.array, wd: Any, step: mx.array) -> Tuple[mx.array, Dict[str, mx.array]]:
        # mlx.optimizers.SGD.apply_single, operation by operation
        if isinstance(wd, mx.array):
            g = g + wd.astype(p.dtype) * p  # a scheduled value meets p as MLX's Python float does
        elif wd != 0:
            g = g + wd * p
        momentum, dampening = h["momentum"], h["dampening"]
        if momentum <= 0:
            return p - lr.astype(g.dtype) * g, st
        v = momentum * st["v"]
        if dampening > 0:
            v = v + (1 - dampening) * g
        else:
            v = v + g
        update = g + momentum * v if h["nesterov"] else v
        return p - lr.astype(g.dtype) * update, {"v": v}
