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

State: ``step`` (uint64) and ``learning_rate`` as in ``mlx.optimizers``
(``(G,)`` with ``G`` groups), and ``fused``: per parameter dtype, flat
buffers of the states (``m``, ``v``; ``v`` for SGD) in which every
parameter's slice starts on a 64-element boundary. ``param_state(path)``
gives one parameter's states as views. Saving ``tree_flatten(opt.state)``
and assigning the loaded tree back to ``opt.state`` resumes a run (same
model). The parameters a step returns are views of one flat buffer per
dtype too; the next step reads that buffer directly and, when nothing else
holds it, updates it in place (MLX's donation). Why flat: an MLX primitive
with one output per tensor costs O(outputs x inputs) to build and schedule.

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
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union, cast

import mlx.core as mx
import mlx.optimizers as _optim
from mlx.utils import tree_flatten as _tree_flatten

from . import _ext
from ._families import constant
from ._program import encode
from ._schedules import Schedule

Rate = Union[float, int, Schedule]
Predicate = Callable[[str, mx.array], bool]
Group = Tuple[Predicate, Mapping[str, Any]]

__all__ = ["SGD", "Adam", "AdamW"]

_FLOAT_TYPES = (mx.float32, mx.float16, mx.bfloat16)


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
    return constant(float(value))


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, but got {type(value).__name__}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, but got {value}.")
    return float(value)


def tree_flatten(tree: Any) -> List[Tuple[str, Any]]:
    return cast(List[Tuple[str, Any]], _tree_flatten(tree))


def _lookup(tree: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        tree = tree[int(key)] if isinstance(tree, (list, tuple)) else tree[key]
    return tree


class _Fused(_optim.Optimizer):
    """What SGD, Adam and AdamW share: groups, programs, the one dispatch."""

    _KIND = ""
    _STATES: Tuple[str, ...] = ()
    _DEFAULTS: Dict[str, Any] = {}

    def __init__(self, hyper: Dict[str, Any], groups: Optional[Sequence[Group]]):
        super().__init__()  # type: ignore[no-untyped-call]
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
        self._layout: Optional[_Layout] = None
        self._views: Optional[List[mx.array]] = None
        self._flat_params: Optional[List[mx.array]] = None

    # -- groups and programs --------------------------------------------------
    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[Any, ...]:
        """A group's checked hyperparameters: (flags, momentum, 1 - dampening,
        b1, 1 - b1, b2, 1 - b2, eps), as math/optim.h's sched_opt_group."""
        raise NotImplementedError

    def _build(self) -> None:
        """Each group's learning-rate and weight-decay programs (one row per
        distinct program) and its hyperparameters, for the primitive."""
        rows: Dict[bytes, int] = {}
        members: List[Any] = []
        self._groups, self._schedules = [], []
        for h in self._hyper:
            wd = h.get("weight_decay", 0.0)
            hyper = self._group_hyper(h, isinstance(wd, Schedule) or wd != 0)
            lr = _as_schedule("learning_rate", h["learning_rate"])
            row = [self._row(lr, rows, members), self._row(_as_schedule("weight_decay", wd), rows, members)]
            self._groups.append((*row, *hyper))
            self._schedules.append(lr)
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
        values = [cast(float, s(step).item()) for s in self._schedules]
        return mx.array(values[0] if len(values) == 1 else values, mx.float32)

    @property
    def learning_rate(self) -> mx.array:
        return cast(mx.array, self.state["learning_rate"])

    @learning_rate.setter  # type: ignore[override]
    def learning_rate(self, value: Rate) -> None:
        """Replaces the default group's learning rate (float or schedule)."""
        _as_schedule("learning_rate", value)
        self._hyper[0] = {**self._hyper[0], "learning_rate": value}
        self._build()
        self.state["learning_rate"] = self._lrs_at(int(self.step.item()) if "step" in self.state else 0)

    # -- the step ---------------------------------------------------------------
    def _layout_for(self, flat: List[Tuple[str, mx.array]], params: Optional[List[mx.array]] = None) -> "_Layout":
        key = tuple((k, tuple(v.shape), v.dtype) for k, v in flat)
        if self._layout is None or self._layout.key != key:
            new = _Layout(key, flat if params is None else list(zip([k for k, _ in flat], params)), self._filters)
            if self._layout is not None and "fused" in self.state:
                self.state["fused"] = _carry_over(self.state["fused"], self._layout, new, self._STATES)
            self._layout, self._views, self._flat_params = new, None, None
        return self._layout

    def init(self, parameters: Dict[str, Any]) -> None:
        """Creates the flat states (zeros) for the parameters' layout, keeping
        loaded states whose bucket sizes match (see ``state``)."""
        flat = [(k, v) for k, v in tree_flatten(parameters) if isinstance(v, mx.array)]
        layout = self._layout_for(flat)
        current = self.state.get("fused", {})
        fused: Dict[str, Dict[str, mx.array]] = {}
        for b, (name, dt, size) in enumerate(layout.buckets):
            have = current.get(name, {})
            fused[name] = {
                s: have[s] if s in have and tuple(have[s].shape) == (size,) and have[s].dtype == dt else mx.zeros((size,), dt)
                for s in self._STATES
            }
        self.state["fused"] = fused
        self._initialized = True

    def param_state(self, path: str) -> Dict[str, mx.array]:
        """The states of one parameter (views of the flat states), as
        ``mlx.optimizers`` keeps them per parameter: ``{"m": ..., "v": ...}``."""
        L = self._layout
        if L is None or path not in L.index:
            raise KeyError(f"no parameter '{path}' in this optimizer's state.")
        i = L.index[path]
        name, _, _ = L.buckets[L.bucket_of[i]]
        return {s: _ext.flat_view(self.state["fused"][name][s], L.offset[i], list(L.shapes[i])) for s in self._STATES}

    def apply_gradients(self, gradients: Dict[str, Any], parameters: Dict[str, Any]) -> Dict[str, Any]:
        if not self._initialized:
            self.init(gradients)
        L, views, flats = self._layout, self._views, self._flat_params
        # Fast path: the same tree of gradients as last step (walked with the
        # cached plan, no path strings), and the model holds exactly the views
        # that step handed out (their shapes and dtypes known).
        fast = L is not None and L.plan is not None and views is not None and flats is not None
        params: List[mx.array] = []
        grads: List[Any] = []
        if fast:
            assert L is not None and views is not None
            try:
                _gather(gradients, parameters, L.plan, grads, params)
                fast = len(grads) == len(views) and all(
                    p is v and type(g) is mx.array and g.shape == shape and g.dtype == p.dtype
                    for g, p, v, shape in zip(grads, params, views, L.shape_t))
            except (KeyError, IndexError, TypeError):
                fast = False
        if fast:
            assert L is not None
            flat_g = list(zip(L.paths, grads))
        else:
            flat_g = tree_flatten(gradients)
        if not fast:
            params = self._checked_params(flat_g, parameters)
            L = self._layout_for(flat_g, params)
            L.plan = None
        assert L is not None
        if L.plan is None:
            L.plan = _plan(gradients, iter(range(len(flat_g))))
        fused = self.state["fused"]
        for name, dt, size in L.buckets:
            if name not in fused or any(tuple(fused[name][s].shape) != (size,) or fused[name][s].dtype != dt
                                        for s in self._STATES):
                raise ValueError(f"optimizer state 'fused.{name}' does not match the parameters: it must hold "
                                 f"{self._STATES} as flat {name} arrays of {size} elements.")
        # Parameter sources: the previous step's flat buffer of a bucket when
        # the model still holds exactly the views handed out (the buffer is
        # then donated), else the tensors themselves.
        if fast:
            assert flats is not None
            sources, src, off = list(flats), L.bucket_of, L.offset
        else:
            sources, src, off = [], [0] * len(params), [0] * len(params)
            for b, members in enumerate(L.members):
                if views is not None and flats is not None and all(params[i] is views[i] for i in members):
                    for i in members:
                        src[i], off[i] = len(sources), L.offset[i]
                    sources.append(flats[b])
                else:
                    for i in members:
                        src[i] = len(sources)
                        sources.append(params[i])
        self._views = self._flat_params = views = flats = None  # nothing of ours may hold the old buffers
        states = [fused[name][s] for name, _, _ in L.buckets for s in self._STATES]
        out = _ext.fused_step(
            _ext.OPTIMIZERS[self._KIND], self.state["step"], self._programs, self._groups, L.group_of,
            [g for _, g in flat_g], sources, src, off, L.bucket_of, L.offset, states,
        )
        nb, ns = len(L.buckets), len(self._STATES)
        self.state["step"] = out[0]
        self.state["learning_rate"] = out[1]
        self.state["fused"] = {name: {s: out[2 + nb + b * ns + k] for k, s in enumerate(self._STATES)}
                               for b, (name, _, _) in enumerate(L.buckets)}
        self._flat_params = out[2:2 + nb]
        self._views = _ext.flat_views(self._flat_params, L.bucket_of, L.offset, L.shapes)
        return cast(Dict[str, Any], _build(L.plan, self._views))

    @staticmethod
    def _checked_params(flat_g: List[Tuple[str, Any]], parameters: Dict[str, Any]) -> List[mx.array]:
        params = []
        for path, g in flat_g:
            p = _lookup(parameters, path.split("."))
            if not isinstance(g, mx.array) or not isinstance(p, mx.array):
                raise TypeError(f"gradient and parameter '{path}' must be mx.arrays.")
            if p.dtype not in _FLOAT_TYPES:
                raise TypeError(f"parameter '{path}' must be float32, float16 or bfloat16, but got {p.dtype}.")
            if g.shape != p.shape or g.dtype != p.dtype:
                raise ValueError(f"gradient '{path}' has shape {tuple(g.shape)} and dtype {g.dtype}, but the "
                                 f"parameter has shape {tuple(p.shape)} and dtype {p.dtype}.")
            params.append(p)
        return params


def _plan(tree: Any, leaves: Any) -> Any:
    """The shape of a tree, in mlx.utils.tree_flatten's order: leaves become
    their index, so that _build refills it without parsing paths."""
    if isinstance(tree, (list, tuple)):
        return (type(tree), [_plan(t, leaves) for t in tree])
    if isinstance(tree, dict):
        return (dict, [(k, _plan(v, leaves)) for k, v in tree.items()])
    return next(leaves)


def _gather(gtree: Any, ptree: Any, plan: Any, grads: List[Any], params: List[Any]) -> None:
    """The leaves of the gradients (same structure as the plan, else KeyError)
    and the parameters at the same places."""
    if isinstance(plan, int):
        grads.append(gtree)
        params.append(ptree)
        return
    kind, children = plan
    if not isinstance(gtree, dict if kind is dict else (list, tuple)) or len(gtree) != len(children):
        raise KeyError("the gradients' structure changed")
    if kind is dict:
        for k, c in children:
            _gather(gtree[k], ptree[k], c, grads, params)
    else:
        for j, c in enumerate(children):
            _gather(gtree[j], ptree[j], c, grads, params)


def _build(plan: Any, values: List[Any]) -> Any:
    if isinstance(plan, int):
        return values[plan]
    kind, children = plan
    if kind is dict:
        return {k: _build(c, values) for k, c in children}
    return kind(_build(c, values) for c in children)


_ALIGN = 64  # elements: each tensor starts 256 bytes (float32) into its bucket


class _Layout:
    """Where each tensor lives: its bucket (one flat buffer per dtype), its
    offset there, its group (the first predicate that holds)."""

    def __init__(self, key: Tuple[Any, ...], flat: List[Tuple[str, mx.array]], filters: List[Predicate]):
        self.key = key
        self.paths = [k for k, _ in flat]
        self.keys = [k.split(".") for k in self.paths]
        self.plan: Any = None  # the gradients' tree shape (_plan)
        self.index = {k: i for i, k in enumerate(self.paths)}
        self.shapes = [list(v.shape) for _, v in flat]
        self.shape_t = [tuple(v.shape) for _, v in flat]
        self.buckets: List[Tuple[str, Any, int]] = []
        self.bucket_of: List[int] = []
        self.offset: List[int] = []
        self.members: List[List[int]] = []
        self.group_of: List[int] = []
        names: Dict[str, int] = {}
        sizes: List[int] = []
        for i, (path, v) in enumerate(flat):
            name = str(v.dtype).split(".")[-1]
            if name not in names:
                names[name] = len(self.buckets)
                self.buckets.append((name, v.dtype, 0))
                sizes.append(0)
                self.members.append([])
            b = names[name]
            self.bucket_of.append(b)
            self.offset.append(sizes[b])
            self.members[b].append(i)
            sizes[b] += -(-v.size // _ALIGN) * _ALIGN
            g = 0
            for k, fn in enumerate(filters):
                if fn(path, v):
                    g = k + 1
                    break
            self.group_of.append(g)
        self.buckets = [(n, dt, max(size, _ALIGN)) for (n, dt, _), size in zip(self.buckets, sizes)]


def _carry_over(fused: Dict[str, Any], old: _Layout, new: _Layout, names: Tuple[str, ...]) -> Dict[str, Any]:
    """Flat states for a new layout (parameters added, removed or reordered):
    each tensor keeps its state where the old layout had it, else zeros."""
    out: Dict[str, Any] = {}
    for b, (bname, dt, size) in enumerate(new.buckets):
        out[bname] = {}
        for s in names:
            pieces = []
            for i in new.members[b]:
                n = math.prod(new.shapes[i])
                j = old.index.get(new.paths[i])
                if j is not None and old.shapes[j] == new.shapes[i] and old.buckets[old.bucket_of[j]][0] == bname \
                        and bname in fused:
                    pieces.append(fused[bname][s][old.offset[j]:old.offset[j] + n])
                else:
                    pieces.append(mx.zeros((n,), dt))
                pad = -(-n // _ALIGN) * _ALIGN - n
                if pad:
                    pieces.append(mx.zeros((pad,), dt))
            total = sum(p.size for p in pieces)
            if total < size:
                pieces.append(mx.zeros((size - total,), dt))
            out[bname][s] = mx.concatenate(pieces)
    return out


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
        >>> sorted(opt.state)  # states live in one flat buffer per dtype
        ['fused', 'learning_rate', 'step']
        >>> opt.param_state("weight")["v"].shape
        (2, 2)
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

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[Any, ...]:
        momentum = _real("momentum", h["momentum"])
        dampening = _real("dampening", h["dampening"])
        if h["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening.")
        F = _ext.OPT_FLAGS
        flags = ((F["momentum"] if momentum > 0 else 0) | (F["nesterov"] if h["nesterov"] else 0)
                 | (F["weight_decay"] if has_wd else 0))
        omd = 1.0 - dampening if dampening > 0 else 1.0
        return (flags, momentum, omd, 0.0, 1.0, 0.0, 1.0, 0.0)


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

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[Any, ...]:
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
        flags = _ext.OPT_FLAGS["bias_correction"] if h["bias_correction"] else 0
        b1, b2 = float(betas[0]), float(betas[1])
        return (flags, 0.0, 1.0, b1, 1.0 - b1, b2, 1.0 - b2, eps)


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
