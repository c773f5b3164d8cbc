"""Fused Lion (mlx.optimizers.Lion's arguments and update)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import mlx.core as mx

from .. import _ext
from .._schedule import Schedule
from ._common import Group, Hyper, _check_betas, _pair
from ._fused import _Fused


class Lion(_Fused):
    r"""Lion, fused (``mlx.optimizers.Lion``'s arguments and update).

    .. math::

        c_{t+1} &= \beta_1 m_t + (1 - \beta_1) g_t \\
        m_{t+1} &= \beta_2 m_t + (1 - \beta_2) g_t \\
        w_{t+1} &= w_t - \eta_t (\text{sign}(c_{t+1}) + \lambda_t w_t)

    (the decay as MLX applies it: ``w (1 - eta lambda)`` first, when
    ``lambda > 0``). Every float argument is a float or a schedule evaluated
    at the step in the kernel. ``groups``: see the module.

    Args:
        learning_rate (float or Schedule): :math:`\eta_t`.
        betas (list of float or Schedule, optional): :math:`(\beta_1,
            \beta_2)`, numbers in [0, 1). Default: ``[0.9, 0.99]``.
        weight_decay (float or Schedule, optional): :math:`\lambda_t`
            (applied where ``> 0``). Default: ``0.0``.
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
        >>> from mlx_sched.optimizers import Lion
        >>> opt = Lion(1e-4, weight_decay=0.1)
        >>> opt.betas
        [0.9, 0.99]
    """

    _KIND = "lion"
    _STATES = ("m",)
    _ATTRS = ("betas", "weight_decay")
    _REPORT = {"weight_decay": (0,), "betas": (1, 2)}
    _DEFAULTS = {"learning_rate": None, "betas": None, "weight_decay": 0.0}

    def __init__(self, learning_rate: Hyper, betas: Sequence[Hyper] = [0.9, 0.99], weight_decay: Hyper = 0.0, *,
                 groups: Optional[Sequence[Group]] = None, member_axis: Optional[int] = None):
        if member_axis is None:
            _check_betas(betas, "Lion")  # MLX checks before anything else (per member: _check_ranges)
        self.betas = betas
        self.weight_decay = weight_decay
        super().__init__({"learning_rate": learning_rate, "betas": betas, "weight_decay": weight_decay}, groups, member_axis)

    def _check_ranges(self, h: Dict[str, Any]) -> None:
        _pair("betas", h["betas"])
        if self._member_axis is not None:  # each member's (the constructor checked the others first)
            _check_betas(h["betas"], "Lion")

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[int, Dict[str, Any]]:
        b1, b2 = _pair("betas", h["betas"])
        wd = h["weight_decay"]
        decays = isinstance(wd, Schedule) or wd > 0  # MLX: if weight_decay > 0 (each step, for a schedule)
        F = _ext.OPT_FLAGS
        return (F["weight_decay"] | F["decay_if_positive"] if decays else 0), {"b1": b1, "b2": b2}

    def _reference_update(self, h: Dict[str, Any], g: mx.array, p: mx.array, st: Dict[str, mx.array],
                          lr: mx.array, wd: Any, step: mx.array) -> Tuple[mx.array, Dict[str, mx.array]]:
        # mlx.optimizers.Lion.apply_single, operation by operation
        lr = lr.astype(g.dtype)
        b1, b2 = h["betas"]
        m = st["m"]
        c = b1 * m + (1 - b1) * g
        m = b2 * m + (1 - b2) * g
        if wd > 0:
            p = (1 - lr * (wd.astype(g.dtype) if isinstance(wd, mx.array) else wd)) * p
        return p - lr * mx.sign(c), {"m": m}
