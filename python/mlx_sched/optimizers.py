"""Fused optimizers: one MLX primitive updates every parameter.

``SGD``, ``Adam`` and ``AdamW`` take the constructor arguments of
``mlx.optimizers`` 0.32.4 and follow its update formulas operation by
operation (bfloat16/float16 parameters are rounded where MLX rounds them), and
they are ``mlx.optimizers.Optimizer`` subclasses: ``update``,
``apply_gradients``, ``init``, ``state`` and saving/loading the state work as
there. A step is **one** ``FusedStep`` primitive, whatever the number of
tensors and groups: it reads the step counter on the device, evaluates each
group's learning-rate (and weight-decay) schedule in the kernel, updates every
parameter and state tensor (in place when nothing else holds them, through
MLX's buffer donation) and increments the counter.

``learning_rate`` (and ``weight_decay``) take a float or any mlx-sched
schedule. ``groups`` gives parts of the model their own schedules and
hyperparameters, chosen by a predicate on the parameter's path, like
``mlx.optimizers.MultiOptimizer``'s filters; the first group whose predicate
holds wins, the rest use the constructor's arguments::

    import mlx_sched as ms
    from mlx_sched.optimizers import AdamW
    opt = AdamW(
        ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000)], [100]),
        groups=[(lambda path, p: p.ndim == 1, {"weight_decay": 0.0})],  # no decay on biases and norms
    )
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import mlx.core as mx
import mlx.optimizers as _optim
from mlx.utils import tree_flatten, tree_unflatten

from . import _ext
from ._program import encode
from ._schedules import Schedule

Rate = Union[float, int, Schedule]
Predicate = Callable[[str, mx.array], bool]
Group = Tuple[Predicate, Mapping[str, Any]]

__all__ = ["SGD", "Adam", "AdamW"]

_FLOAT_TYPES = (mx.float32, mx.float16, mx.bfloat16)


def _constant_program(value: float) -> Schedule:
    from ._families import constant

    return constant(value)


def _as_schedule(name: str, value: Any) -> Schedule:
    """A float or an unbatched mlx-sched schedule, as a schedule."""
    if isinstance(value, Schedule):
        if value.batched:
            raise ValueError(f"{name} must be one schedule, not a batch of {len(value)}.")
        return value
    if isinstance(value, mx.array) and value.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be a float or an mlx_sched schedule (e.g. mlx_sched.cosine_decay(...)), "
            f"but got {type(value).__name__}."
        )
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, but got {value}.")
    return _constant_program(float(value))


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, but got {type(value).__name__}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, but got {value}.")
    return float(value)


def _lookup(tree: Any, path: str) -> Any:
    for key in path.split("."):
        tree = tree[int(key)] if isinstance(tree, (list, tuple)) else tree[key]
    return tree


class _Fused(_optim.Optimizer):
    """What SGD, Adam and AdamW share: groups, programs, the one dispatch."""

    _KIND = ""
    _STATES: Tuple[str, ...] = ()
    _DEFAULTS: Dict[str, Any] = {}

    def __init__(self, hyper: Dict[str, Any], groups: Optional[Sequence[Group]]):
        super().__init__()
        self._filters: List[Predicate] = []
        overrides: List[Dict[str, Any]] = []
        for i, entry in enumerate(groups or []):
            if not (isinstance(entry, (tuple, list)) and len(entry) == 2 and callable(entry[0])
                    and isinstance(entry[1], Mapping)):
                raise TypeError(f"groups[{i}] must be a (predicate(path, parameter), {{argument: value}}) pair.")
            unknown = sorted(set(entry[1]) - set(self._DEFAULTS))
            if unknown:
                raise ValueError(f"groups[{i}] sets {unknown}, which {type(self).__name__} does not take; "
                                 f"its arguments are {sorted(self._DEFAULTS)}.")
            self._filters.append(entry[0])
            overrides.append(dict(entry[1]))
        self._hyper = [hyper] + [{**hyper, **o} for o in overrides]
        self._build()
        self.state["learning_rate"] = self._lrs_at(0)
        self._paths: Tuple[str, ...] = ()
        self._group_of: List[int] = []

    # -- groups and programs --------------------------------------------------
    def _group_tuple(self, h: Dict[str, Any], rows: Dict[bytes, int], members: List[Any]) -> Tuple[Any, ...]:
        raise NotImplementedError

    def _build(self) -> None:
        rows: Dict[bytes, int] = {}
        members: List[Any] = []
        self._groups = [self._group_tuple(h, rows, members) for h in self._hyper]
        self._schedules = [_as_schedule("learning_rate", h["learning_rate"]) for h in self._hyper]
        self._programs = mx.array(encode(members))
        mx.eval(self._programs)  # a constant of the graph (also under mx.compile)

    @staticmethod
    def _row(s: Schedule, rows: Dict[bytes, int], members: List[Any]) -> int:
        key = s._program_np.tobytes()
        if key not in rows:
            rows[key] = len(members)
            members.append(s.segments[0])
        return rows[key]

    def _lrs_at(self, step: int) -> mx.array:
        values = [float(s(step).item()) for s in self._schedules]
        return mx.array(values[0] if len(values) == 1 else values, mx.float32)

    def _assign_groups(self, flat: List[Tuple[str, mx.array]]) -> None:
        paths = tuple(k for k, _ in flat)
        if paths == self._paths:
            return
        group_of = []
        for path, p in flat:
            g = 0
            for i, fn in enumerate(self._filters):
                if fn(path, p):
                    g = i + 1
                    break
            group_of.append(g)
        self._paths, self._group_of = paths, group_of

    @property
    def learning_rate(self) -> mx.array:
        return self.state["learning_rate"]

    @learning_rate.setter
    def learning_rate(self, value: Rate) -> None:
        """Replaces the default group's learning rate (float or schedule)."""
        _as_schedule("learning_rate", value)
        self._hyper[0] = {**self._hyper[0], "learning_rate": value}
        self._build()
        self.state["learning_rate"] = self._lrs_at(int(self.step.item()) if "step" in self.state else 0)

    # -- the step ---------------------------------------------------------------
    def init_single(self, parameter: mx.array, state: Dict[str, Any]) -> None:
        for name in self._STATES:
            state[name] = mx.zeros_like(parameter)

    def apply_gradients(self, gradients: Dict[str, Any], parameters: Dict[str, Any]) -> Dict[str, Any]:
        if not self._initialized:
            self.init(gradients)
        flat_g = tree_flatten(gradients)
        params, states = [], []
        for path, g in flat_g:
            p = _lookup(parameters, path)
            if not isinstance(g, mx.array) or not isinstance(p, mx.array):
                raise TypeError(f"gradient and parameter '{path}' must be mx.arrays.")
            if p.dtype not in _FLOAT_TYPES:
                raise TypeError(f"parameter '{path}' must be float32, float16 or bfloat16, but got {p.dtype}.")
            if g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"gradient '{path}' has shape {tuple(g.shape)} and dtype {g.dtype}, but the "
                                 f"parameter has shape {tuple(p.shape)} and dtype {p.dtype}.")
            params.append(p)
        self._assign_groups([(k, p) for (k, _), p in zip(flat_g, params)])
        for name in self._STATES:
            for path, _ in flat_g:
                s = _lookup(self.state, path)[name]
                p = _lookup(parameters, path)
                if s.shape != p.shape or s.dtype != p.dtype:
                    raise ValueError(f"optimizer state '{path}.{name}' has shape {tuple(s.shape)} and dtype "
                                     f"{s.dtype}, but the parameter has shape {tuple(p.shape)} and dtype {p.dtype}.")
                states.append(s)
        out = _ext.fused_step(
            _ext.OPTIMIZERS[self._KIND], self.state["step"], self._programs, self._groups, self._group_of,
            params, [g for _, g in flat_g], states,
        )
        n = len(flat_g)
        self.state["step"] = out[0]
        self.state["learning_rate"] = out[1]
        for k, name in enumerate(self._STATES):
            for i, (path, _) in enumerate(flat_g):
                _lookup(self.state, path)[name] = out[2 + (1 + k) * n + i]
        return tree_unflatten([(path, out[2 + i]) for i, (path, _) in enumerate(flat_g)])


def _wd_row(h: Dict[str, Any], rows: Dict[bytes, int], members: List[Any]) -> Tuple[int, bool]:
    wd = h.get("weight_decay", 0.0)
    s = _as_schedule("weight_decay", wd)
    return _Fused._row(s, rows, members), isinstance(wd, Schedule) or wd != 0


class SGD(_Fused):
    r"""Stochastic gradient descent, fused (``mlx.optimizers.SGD``'s arguments and update).

    .. math::

        g &\leftarrow g + \text{wd}\, w \\
        v_{t+1} &= \mu v_t + (1 - \tau) g_t \\
        w_{t+1} &= w_t - \lambda_t\, (g_t + \mu v_{t+1} \text{ if nesterov else } v_{t+1})

    With ``momentum <= 0``: ``w - lr * g`` and ``v`` stays as it is.
    ``learning_rate`` and ``weight_decay``: float or schedule; ``groups``: see the module.

    Example:
        >>> import mlx.nn as nn
        >>> from mlx_sched.optimizers import SGD
        >>> model = nn.Linear(2, 2)
        >>> opt = SGD(mlx_sched.step_decay(0.1, 0.5, 10), momentum=0.9)
        >>> opt.init(model.trainable_parameters())
        >>> sorted(opt.state)
        ['bias', 'learning_rate', 'step', 'weight']
    """

    _KIND = "sgd"
    _STATES = ("v",)
    _DEFAULTS = {"learning_rate": None, "momentum": 0.0, "weight_decay": 0.0, "dampening": 0.0, "nesterov": False}

    def __init__(
        self,
        learning_rate: Rate,
        momentum: float = 0.0,
        weight_decay: Rate = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        *,
        groups: Optional[Sequence[Group]] = None,
    ):
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.dampening = dampening
        self.nesterov = nesterov
        hyper = dict(learning_rate=learning_rate, momentum=momentum, weight_decay=weight_decay,
                     dampening=dampening, nesterov=nesterov)
        super().__init__(hyper, groups)

    def _group_tuple(self, h: Dict[str, Any], rows: Dict[bytes, int], members: List[Any]) -> Tuple[Any, ...]:
        momentum = _real("momentum", h["momentum"])
        dampening = _real("dampening", h["dampening"])
        if h["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening.")
        lr = self._row(_as_schedule("learning_rate", h["learning_rate"]), rows, members)
        wd, has_wd = _wd_row(h, rows, members)
        F = _ext.OPT_FLAGS
        flags = ((F["momentum"] if momentum > 0 else 0) | (F["nesterov"] if h["nesterov"] else 0)
                 | (F["weight_decay"] if has_wd else 0))
        omd = 1.0 - dampening if dampening > 0 else 1.0
        return (lr, wd, flags, momentum, omd, 0.0, 1.0, 0.0, 1.0, 0.0)


class Adam(_Fused):
    r"""Adam, fused (``mlx.optimizers.Adam``'s arguments and update).

    .. math::

        m_{t+1} &= \beta_1 m_t + (1 - \beta_1) g_t \\
        v_{t+1} &= \beta_2 v_t + (1 - \beta_2) g_t^2 \\
        w_{t+1} &= w_t - \lambda_t \frac{m_{t+1}}{\sqrt{v_{t+1}} + \epsilon}

    With ``bias_correction``: ``lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``,
    ``t`` the step after the increment (MLX's). ``groups``: see the module.

    Example:
        >>> from mlx_sched.optimizers import Adam
        >>> opt = Adam(mlx_sched.cosine_decay(1e-3, 1000), betas=[0.9, 0.99])
        >>> opt.betas
        [0.9, 0.99]
    """

    _KIND = "adam"
    _STATES = ("m", "v")
    _DEFAULTS = {"learning_rate": None, "betas": None, "eps": 1e-8, "bias_correction": False}

    def __init__(
        self,
        learning_rate: Rate,
        betas: List[float] = [0.9, 0.999],
        eps: float = 1e-8,
        bias_correction: bool = False,
        *,
        groups: Optional[Sequence[Group]] = None,
    ):
        hyper = dict(learning_rate=learning_rate, betas=betas, eps=eps, bias_correction=bias_correction)
        self._init_adam(hyper, groups)

    def _init_adam(self, hyper: Dict[str, Any], groups: Optional[Sequence[Group]]) -> None:
        self.betas = hyper["betas"]
        self.eps = hyper["eps"]
        self.bias_correction = hyper["bias_correction"]
        super().__init__(hyper, groups)

    def _group_tuple(self, h: Dict[str, Any], rows: Dict[bytes, int], members: List[Any]) -> Tuple[Any, ...]:
        betas = list(h["betas"])
        if len(betas) != 2:
            raise ValueError(f"betas must be two floats, but got {len(betas)}.")
        for i, beta in enumerate(betas):
            _real(f"betas[{i}]", beta)
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam beta{i + 1} should be in [0, 1), {beta} was provided instead")
        eps = _real("eps", h["eps"])
        if not 0.0 <= eps:
            raise ValueError(f"Adam epsilon should be >=0, {eps} was provided instead")
        lr = self._row(_as_schedule("learning_rate", h["learning_rate"]), rows, members)
        wd, _ = _wd_row(h, rows, members)
        flags = _ext.OPT_FLAGS["bias_correction"] if h["bias_correction"] else 0
        b1, b2 = float(betas[0]), float(betas[1])
        return (lr, wd, flags, 0.0, 1.0, b1, 1.0 - b1, b2, 1.0 - b2, eps)


class AdamW(Adam):
    r"""AdamW, fused (``mlx.optimizers.AdamW``'s arguments and update).

    .. math::

        w &\leftarrow w\,(1 - \lambda_t\, \text{wd}_t) \\
        w_{t+1} &= \text{Adam}(w, g)

    ``weight_decay`` (default ``0.01``) is a float or a schedule, evaluated at
    the same step as the learning rate. ``groups``: see the module.

    Example:
        >>> from mlx_sched.optimizers import AdamW
        >>> opt = AdamW(1e-3, groups=[(lambda path, p: p.ndim == 1, {"weight_decay": 0.0})])
        >>> opt.weight_decay
        0.01
    """

    _KIND = "adamw"
    _DEFAULTS = {**Adam._DEFAULTS, "weight_decay": 0.01}

    def __init__(
        self,
        learning_rate: Rate,
        betas: List[float] = [0.9, 0.999],
        eps: float = 1e-8,
        weight_decay: Rate = 0.01,
        bias_correction: bool = False,
        *,
        groups: Optional[Sequence[Group]] = None,
    ):
        self.weight_decay = weight_decay
        hyper = dict(learning_rate=learning_rate, betas=betas, eps=eps, weight_decay=weight_decay,
                     bias_correction=bias_correction)
        self._init_adam(hyper, groups)
