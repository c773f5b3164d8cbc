"""The base of the fused optimizers: hyperparameters and groups as
programs, the state (checkpoints included), and the step: one FusedStep."""

from __future__ import annotations

import math
import numbers
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, cast

import mlx.core as mx
import mlx.optimizers as _optim
import numpy as np

from .. import _ext
from .._families import constant
from .._program import constant_segment, encode
from .._schedule import Schedule, program_bytes
from ._common import (
    _FLOAT_TYPES, _at, Group, Predicate, Rate, _as_schedule, _build, _dtype_name, _gather, _lookup, _lr_float,
    _per_member, _plan, _same, tree_flatten,
)
from ._layout import _Layout, _Registry, _restate


def _frozen(v: Any) -> Any:
    """A value as a snapshot that an in-place change cannot alter: lists and
    tuples (nested) as tuples, arrays as their values; schedules and numbers
    as they are (schedules are immutable)."""
    if isinstance(v, (list, tuple)):
        return tuple(_frozen(x) for x in v)
    if isinstance(v, mx.array):
        v = np.array(v.astype(mx.float32)) if v.dtype != mx.float32 else np.array(v)
    if isinstance(v, np.ndarray):
        return ("array", str(v.dtype), v.shape, v.tobytes())
    if isinstance(v, np.generic):  # np.float32(0.99) == 0.99 in float32: by type and value
        return ("scalar", str(v.dtype), v.item())
    return v


def _has_schedule(value: Any) -> bool:
    """A schedule, or values (per member, or betas) of which one is."""
    return isinstance(value, Schedule) or (isinstance(value, (list, tuple)) and any(isinstance(v, Schedule) for v in value))


class _StepPlan(NamedTuple):
    """One step's tensors and where they go (_Fused._plan_step)."""

    layout: _Layout
    fast: bool  # the last step's plan, its flat buffers the parameter sources
    grads: List[Any]  # the gradients, in tree order
    params: List[mx.array]  # their parameters
    reg: _Registry  # the registry after this step (a new one when states move)
    fused: Dict[str, Dict[str, mx.array]]  # the flat states in that registry's layout


class _Fused(_optim.Optimizer):
    """What SGD, Adam and AdamW share: groups, programs, state, the one dispatch."""

    _KIND = ""
    _STATES: Tuple[str, ...] = ()
    _DEFAULTS: Dict[str, Any] = {}
    _ATTRS: Tuple[str, ...] = ()  # the constructor arguments kept as attributes (as mlx.optimizers)
    # each float argument's columns in the step's hypers output: 0 the weight
    # decay, 1 + k slot k (_ext.OPT_HP)
    _REPORT: Dict[str, Tuple[int, ...]] = {}

    def __init__(self, hyper: Dict[str, Any], groups: Optional[Sequence[Group]], member_axis: Optional[int] = None):
        super().__init__()  # type: ignore[no-untyped-call]
        self._state: Dict[str, Any] = self._state
        if member_axis is not None and (isinstance(member_axis, (bool, np.bool_))
                                        or not isinstance(member_axis, numbers.Integral)):
            raise TypeError(f"member_axis must be 0 or None, but got {type(member_axis).__name__}.")
        member_axis = None if member_axis is None else int(member_axis)
        if member_axis not in (None, 0):
            raise ValueError(f"member_axis must be 0 (models stacked along each parameter's first axis) or None, "
                             f"but got {member_axis}.")
        self._member_axis = member_axis
        self._filters: List[Predicate] = []
        self._overrides: List[Dict[str, Any]] = []
        for i, entry in enumerate(groups or []):
            if not (isinstance(entry, (tuple, list)) and len(entry) == 2 and callable(entry[0])
                    and isinstance(entry[1], Mapping)):
                raise TypeError(f"groups[{i}] must be a (predicate(path, parameter), {{argument: value}}) pair.")
            unknown = sorted(set(entry[1]) - set(self._DEFAULTS))
            if unknown:
                raise ValueError(f"groups[{i}] sets {unknown}, which {type(self).__name__} does not take; "
                                 f"its arguments are {sorted(self._DEFAULTS)}.")
            self._filters.append(entry[0])
            self._overrides.append(dict(entry[1]))
        user = [hyper] + [{**hyper, **o} for o in self._overrides]
        # the members (a sweep): fixed here, by the hyperparameters given per member
        self._members = self._count_members(user) if member_axis is not None else 1
        for h in self._expand(user):
            self._check_ranges(h)
        self._lr: Any = hyper["learning_rate"]
        self._apply_build(self._build(self._hyper_now()))
        # Every layout this optimizer had, by the length of its state["layout"]
        # (unique per layout: _adopt), and that length by the layout's JSON.
        self._by_length: Dict[int, _Registry] = {}
        self._lengths: Dict[bytes, int] = {}
        self._shapes: Dict[int, Tuple[int, ...]] = {}  # that array's shape: a rank per layout (_adopt)
        self._reg = _Registry([])
        self._pending: Optional[str] = None  # a loaded state not yet checked against the parameters
        self._state["learning_rate"] = self._lrs_at(0)
        self._state.update(self._hypers_at(0))
        self._state["fused"] = {}
        self._state["layout"] = self._adopt(self._reg)
        self._layout: Optional[_Layout] = None
        self._views: Optional[List[mx.array]] = None
        self._flat_params: Optional[List[mx.array]] = None

    # -- hyperparameters, groups and programs -----------------------------------
    def _check_ranges(self, h: Dict[str, Any]) -> None:
        """The constructor's checks (mlx.optimizers' messages); later
        attribute changes are taken as they come, as mlx.optimizers does."""

    # -- members (member_axis: a sweep of models stacked along axis 0) ---------------
    @staticmethod
    def _betas(v: Any) -> List[Any]:
        """betas with member_axis: (beta1, beta2), each a number, a schedule
        or one per member."""
        if isinstance(v, (np.ndarray, mx.array)) and v.ndim == 1 and v.size == 2:
            return [float(b) for b in np.array(v.astype(mx.float32) if isinstance(v, mx.array) else v, np.float64)]
        if isinstance(v, (list, tuple)) and len(v) == 2:
            return list(v)
        got = f"{len(v)} values" if isinstance(v, (list, tuple)) else type(v).__name__
        raise TypeError(f"betas must be two values (beta1, beta2), each a number, a schedule or one per member "
                        f"(betas=[[beta1 of each member], [beta2 of each member]]), but got {got}.")

    @classmethod
    def _per_member_args(cls, h: Dict[str, Any]) -> List[Tuple[str, Any, Optional[List[Any]]]]:
        """Each argument by name (betas: ``betas[0]``, ``betas[1]``), its
        value, and its values per member (``None``: one for all)."""
        out: List[Tuple[str, Any, Optional[List[Any]]]] = []
        for name, v in h.items():
            if name == "betas":
                out.extend((f"betas[{i}]", b, _per_member(f"betas[{i}]", b)) for i, b in enumerate(cls._betas(v)))
            else:
                out.append((name, v, _per_member(name, v)))
        return out

    def _count_members(self, user: List[Dict[str, Any]]) -> int:
        """G: the length of every argument given per member (a batch of G
        schedules, a sequence of G values; one value broadcasts); 1 when none is."""
        G, first = 1, ""
        for k, h in enumerate(user):
            for name, _, vals in self._per_member_args(h if k == 0 else self._overrides[k - 1]):
                if vals is None or len(vals) == 1:
                    continue
                where = name if k == 0 else f"groups[{k - 1}]'s {name}"
                if G > 1 and len(vals) != G:
                    raise ValueError(f"{where} has {len(vals)} values, one per member, but {first} has {G}.")
                G, first = len(vals), where
        return G

    def _expand(self, user: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """The kernel's groups: each user group (the constructor's, then
        ``groups``) once, or with ``member_axis`` once per member (group k's
        member m is kernel group k * G + m), each holding that member's values."""
        if self._member_axis is None:
            return [dict(h) for h in user]
        G = self._members
        out: List[Dict[str, Any]] = []
        for h in user:
            cols: Dict[str, List[Any]] = {}
            for name, v, vals in self._per_member_args(h):
                if vals is not None and len(vals) not in (1, G):
                    raise ValueError(f"{name} has {len(vals)} values, one per member, but this optimizer has {G} "
                                     "members (fixed at construction by the arguments given per member).")
                cols[name] = [v] * G if vals is None else vals * G if len(vals) == 1 else vals
            if "betas" in h:
                cols["betas"] = [[b1, b2] for b1, b2 in zip(cols.pop("betas[0]"), cols.pop("betas[1]"))]
            out.extend({name: cols[name][m] for name in h} for m in range(G))
        return out

    @property
    def members(self) -> Optional[int]:
        """G, the models of a sweep (``member_axis=0``): the length of the
        arguments given per member, fixed at construction (1 when every
        member shares every value); ``None`` without ``member_axis``."""
        return self._members if self._member_axis is not None else None

    def _rate_shape(self) -> Tuple[int, ...]:
        """The shape of ``state["learning_rate"]`` (and of each scheduled
        argument's value): ``()``, ``(K,)`` with K groups, ``(G,)`` with G
        members, ``(K, G)`` with both."""
        K = 1 + len(self._overrides)
        G = self._members if self._member_axis is not None else 1
        return ((K,) if K > 1 else ()) + ((G,) if G > 1 else ())

    def _as_rate_shape(self, a: mx.array, last: Tuple[int, ...] = ()) -> mx.array:
        """A per-kernel-group array (leading axis K * G, or none for one) in
        the state's shape."""
        want = self._rate_shape() + last
        return a if tuple(a.shape) == want else a.reshape(want)

    def _check_members(self, flat: List[Tuple[str, mx.array]]) -> None:
        """With ``member_axis``: every parameter holds the G members along axis 0."""
        if self._member_axis is None or not flat:
            return
        G = self._members
        first_path, first = flat[0]
        for path, p in flat:
            if p.ndim == 0:
                raise ValueError(f"parameter '{path}' is a scalar: with member_axis=0 every parameter must hold the "
                                 f"members along its axis 0.")
            if G > 1 and p.shape[0] != G:
                raise ValueError(f"parameter '{path}' has shape {tuple(p.shape)}: with member_axis=0 its axis 0 must "
                                 f"hold this optimizer's {G} members.")
            if G == 1 and p.shape[0] != first.shape[0]:
                raise ValueError(f"parameter '{path}' has {p.shape[0]} members along axis 0, but '{first_path}' has "
                                 f"{first.shape[0]}.")

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Tuple[int, Dict[str, Any]]:
        """A group's flags (_ext.OPT_FLAGS) and its hyperparameters other than
        the learning rate and weight decay, by slot name (_ext.OPT_HP): each
        a float or a schedule."""
        raise NotImplementedError

    def _hyper_now(self) -> List[Dict[str, Any]]:
        base = {"learning_rate": self._lr, **{a: getattr(self, a) for a in self._ATTRS}}
        return [base] + [{**base, **o} for o in self._overrides]

    def _snapshot(self) -> Tuple[Any, ...]:
        return tuple(_frozen(v) for v in [self._lr] + [getattr(self, a) for a in self._ATTRS])

    def _build(self, hypers: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Each group's learning-rate and weight-decay programs (one row per
        distinct program) and hyperparameters, for the primitive. A float
        learning rate is not a program: the step reads it from
        ``state["learning_rate"]`` (a row made on the fly), as mlx.optimizers
        reads its state. Nothing is assigned here (see _apply_build)."""
        hypers = self._expand(hypers)
        rows: Dict[bytes, int] = {}
        members: List[Any] = []
        groups, schedules, dynamic = [], [], []
        for g, h in enumerate(hypers):
            wd = h.get("weight_decay", 0.0)
            wd_s = _as_schedule("weight_decay", wd)
            flags, slots = self._group_hyper(h, isinstance(wd, Schedule) or wd != 0)
            lr_value = h["learning_rate"]
            lr = _as_schedule("learning_rate", lr_value)
            row = [-1 if not isinstance(lr_value, Schedule) else self._row(lr, rows, members),
                   self._row(wd_s, rows, members)]
            if row[0] < 0:
                dynamic.append(g)
            # each other hyperparameter in its slot: a number (1 - it in
            # double, as Python computes it), or a schedule's program row
            hp_prog, hp, hp_1m = [-1] * _ext.OPT_HPS, [0.0] * _ext.OPT_HPS, [1.0] * _ext.OPT_HPS
            for name, value in slots.items():
                k = _ext.OPT_HP[name]
                if isinstance(value, Schedule):
                    hp_prog[k] = self._row(value, rows, members)
                else:
                    hp[k], hp_1m[k] = value, 1.0 - value
            groups.append(_ext.FusedGroup(lr_prog=row[0], wd_prog=row[1], flags=flags, hp_prog=hp_prog, hp=hp,
                                          hp_1m=hp_1m))
            schedules.append(lr if isinstance(lr_value, Schedule) else None)
        R = max(2, 1 + max(len(m) for m in members))
        programs = encode(members)
        if programs.shape[1] < R:
            programs = np.concatenate([programs, np.zeros((programs.shape[0], R - programs.shape[1], 16), np.int32)], 1)
        for k, g in enumerate(dynamic):
            groups[g].lr_prog = len(members) + k
        built: Dict[str, Any] = {
            "groups": groups, "schedules": schedules, "dynamic": dynamic,
            "programs": mx.array(programs), "hypers": hypers, "snapshot": self._snapshot(),
        }
        if dynamic:  # constant programs whose value word the step fills in
            template = encode([[constant_segment(0.0)]] * len(dynamic))
            template = np.concatenate([template, np.zeros((len(dynamic), R - template.shape[1], 16), np.int32)], 1)
            mask = np.zeros((1, R, 16), bool)
            mask[0, 1, 8] = True  # record 1 (the segment), p[0] at byte 32
            built["dyn"] = (mx.array(template), mx.array(mask), mx.array(dynamic, mx.int32))
        mx.eval(built["programs"], built.get("dyn", ()))  # constants of the graph (also under mx.compile)
        return built

    def _apply_build(self, built: Dict[str, Any]) -> None:
        self._built = built
        self._hyper = built["hypers"]  # per group of the kernel: a member of a user's group
        self._groups = built["groups"]
        self._schedules = built["schedules"]
        self._programs = built["programs"]

    @staticmethod
    def _row(s: Schedule, rows: Dict[bytes, int], members: List[Any]) -> int:
        key = program_bytes(s)
        if key not in rows:
            rows[key] = len(members)
            members.append(s.segments[0])
        return rows[key]

    def _refresh(self) -> None:
        """Attribute changes since the last build (eager steps; inside
        mx.compile the traced step keeps what it saw, as MLX's does). The
        same objects as last time (values of lists too) need no comparison."""
        built = self._built
        raw = built.get("raw")
        values = [self._lr] + [getattr(self, a) for a in self._ATTRS]
        mutable = (list, tuple, np.ndarray, mx.array)  # may change in place: compared by value
        if raw is not None and all(v is r for v, r in zip(values, raw[0])) and all(
                _frozen(v) == f for v, f in zip(values, raw[1]) if f is not None):
            return
        if not _same(self._snapshot(), built["snapshot"]):
            self._apply_build(self._build(self._hyper_now()))
        self._built["raw"] = (values, [_frozen(v) if isinstance(v, mutable) else None for v in values])

    def _lrs_at(self, step: int) -> mx.array:
        """The groups' learning rates at ``step`` (a float learning rate as it is)."""
        values = [float(cast(float, s(step).item())) if s is not None else _lr_float(h["learning_rate"])
                  for h, s in zip(self._hyper, self._schedules)]
        return self._as_rate_shape(mx.array(values, mx.float32))

    def _scheduled(self) -> List[str]:
        """The arguments given as a schedule in some group (betas: either of
        the two), other than the learning rate: the state shows their values."""
        return [name for name in self._REPORT if any(_has_schedule(h.get(name)) for h in self._hyper)]

    def _hypers_at(self, step: int) -> Dict[str, mx.array]:
        """The scheduled arguments' values at ``step``, as the state shows them
        (shaped as ``learning_rate``: a scalar for one group, else (G,); betas
        with a last axis of 2)."""
        out: Dict[str, mx.array] = {}
        for name in self._scheduled():
            rows = []
            for h in self._hyper:
                v = h[name]
                vs = list(v) if name == "betas" else [v]
                rows.append([float(np.array(b(step))) if isinstance(b, Schedule) else float(b) for b in vs])
            out[name] = self._as_rate_shape(mx.array(rows, mx.float32), (2,) if name == "betas" else ())
        return out

    def _hypers_from(self, hypers: mx.array) -> Dict[str, mx.array]:
        """The scheduled arguments' values from the step's ``hypers`` output
        (per group: weight decay, then each slot; columns in _REPORT)."""
        out: Dict[str, mx.array] = {}
        for name in self._scheduled():
            cols = self._REPORT[name]
            out[name] = self._as_rate_shape(hypers[..., cols[0]]) if len(cols) == 1 else \
                self._as_rate_shape(hypers[..., cols[0]:cols[-1] + 1], (2,))
        return out

    def _step_programs(self, lr_state: Any) -> mx.array:
        """The programs of this step: the schedules, then a constant row per
        group with a float learning rate, holding ``state["learning_rate"]``."""
        built = self._built
        if not built["dynamic"]:
            return cast(mx.array, built["programs"])
        G = len(self._groups)
        shape = self._rate_shape()
        if not isinstance(lr_state, mx.array) or lr_state.dtype in (mx.bool_, mx.complex64) or \
                tuple(lr_state.shape) not in ((), shape):
            got = f"shape {tuple(lr_state.shape)} and dtype {lr_state.dtype}" if isinstance(lr_state, mx.array) \
                else type(lr_state).__name__
            want = "()" if not shape else f"() or {shape}"
            raise ValueError(f"state['learning_rate'] must be a real mx.array of shape {want}, but got {got}.")
        template, mask, dynamic = built["dyn"]
        v = lr_state if lr_state.dtype == mx.float32 else lr_state.astype(mx.float32)
        v = v.reshape(G) if v.ndim > 1 else v
        k = len(built["dynamic"])
        if v.ndim == 0:
            v = mx.broadcast_to(v, (k,)) if k > 1 else v.reshape(1)
        elif k != G:
            v = v[dynamic]
        dyn = mx.where(mask, _ext.float_bits(v).reshape(k, 1, 1), template)
        return mx.concatenate([built["programs"], dyn])

    @property
    def learning_rate(self) -> mx.array:
        """The learning rate of the last step: ``state["learning_rate"]``,
        float32, shape ``()`` (``(G,)`` with ``G`` groups).

        Assigning, as mlx.optimizers: a float (or scalar array) goes into
        ``state["learning_rate"]`` (every group's, as ``MultiOptimizer``'s
        setter), where a step reads it unless that group's learning rate is a
        schedule (which, as in MLX, overwrites it). An mlx_sched schedule
        replaces the constructor's learning rate (mlx.optimizers raises).
        A batch, a non-finite value or another type raises ``ValueError`` or
        ``TypeError``.
        """
        return cast(mx.array, self.state["learning_rate"])

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        """As mlx.optimizers: a float (or scalar array) goes into
        ``state["learning_rate"]`` (every group's, as ``MultiOptimizer``'s
        setter), where a step reads it unless that group's learning rate is a
        schedule (which, as in MLX, overwrites it). An mlx_sched schedule
        replaces the constructor's learning rate (mlx.optimizers raises)."""
        shape, K = self._rate_shape(), 1 + len(self._overrides)
        if isinstance(value, mx.array) and value.ndim > 0 and tuple(value.shape) == shape and (
                len(shape) > 1 or self._member_axis is None):
            # one rate per group and member (opt.learning_rate * 0.5): into the state, as it is
            if not mx.issubdtype(value.dtype, mx.floating):
                raise TypeError(f"learning_rate must be a floating array, but got {value.dtype}.")
            if not bool(mx.all(mx.isfinite(value)).item()):
                raise ValueError("learning_rate must be finite.")
            self.state["learning_rate"] = value.astype(mx.float32)
            return
        per = _per_member("learning_rate", value) if self._member_axis is not None else None
        if _has_schedule(value):
            if per is None:
                _as_schedule("learning_rate", value)
            old = self._lr
            self._lr = value
            try:
                built = self._build(self._hyper_now())
            except Exception:
                self._lr = old
                raise
            self._apply_build(built)
            # the groups that follow it show its value now; the others keep theirs
            step = self.state.get("step")
            at = int(cast(int, step.item())) if isinstance(step, mx.array) and step.size == 1 else 0
            N = len(self._groups)
            old_lr = self.state.get("learning_rate")
            values = np.array(self._lrs_at(at)).reshape(N)
            if isinstance(old_lr, mx.array) and tuple(old_lr.shape) in ((), shape):
                keep = np.broadcast_to(np.array(old_lr.astype(mx.float32)).reshape(-1), (N,))
                follow = np.repeat([k == 0 or "learning_rate" not in o for k, o in enumerate([{}] + self._overrides)],
                                   N // K)
                values = np.where(follow, values, keep)
            self.state["learning_rate"] = self._as_rate_shape(mx.array(values, mx.float32))
            return
        if per is not None:  # a number per member
            G = self._members
            vals = [_lr_float(v) for v in per]
            if len(vals) not in (1, G):
                raise ValueError(f"learning_rate has {len(vals)} values, one per member, but this optimizer has {G} "
                                 "members.")
            row = np.broadcast_to(np.array(vals, np.float32), (G,))
            self.state["learning_rate"] = self._as_rate_shape(mx.array(np.tile(row, K)))
            if not _has_schedule(self._lr):
                self._lr = vals if len(vals) > 1 else vals[0]
            return
        number = _lr_float(value)
        self.state["learning_rate"] = mx.full(shape, number, mx.float32)
        if not _has_schedule(self._lr):
            self._lr = number

    # -- state --------------------------------------------------------------------
    @property
    def state(self) -> Dict[str, Any]:
        """``step``, ``learning_rate``, ``fused`` (per bucket the flat
        states) and ``layout`` (which parameter lies where, as JSON bytes).
        Assigning a saved state (ours, or an ``mlx.optimizers`` state tree of
        the same optimizer) checks it and converts it; the next step or
        ``init`` checks it against the parameters."""
        return self._state

    @state.setter
    def state(self, value: Any) -> None:
        state, reg = self._parse_state(value)
        self._state, self._reg = state, reg
        self._pending = "loaded"
        self._initialized = False
        self._layout = self._views = self._flat_params = None

    def _parse_state(self, value: Any) -> Tuple[Dict[str, Any], _Registry]:
        if not isinstance(value, dict):
            raise TypeError(f"the optimizer state must be a dict, but got {type(value).__name__}.")
        state: Dict[str, Any] = {}
        step = value.get("step")
        if not isinstance(step, mx.array) or step.size != 1 or not mx.issubdtype(step.dtype, mx.integer):
            raise ValueError("the optimizer state must hold 'step', an integer scalar mx.array "
                             f"(got {type(step).__name__}).")
        state["step"] = step.reshape(()) if step.dtype == mx.uint64 else step.reshape(()).astype(mx.uint64)
        lr = value.get("learning_rate", None)
        if lr is None:
            lr = self._lrs_at(int(state["step"].item()))
        shape = self._rate_shape()
        if not isinstance(lr, mx.array) or tuple(lr.shape) not in ((), shape) or not \
                mx.issubdtype(lr.dtype, mx.floating):
            raise ValueError(f"state['learning_rate'] must be a floating mx.array of shape "
                             f"{'()' if not shape else f'() or {shape}'}.")
        state["learning_rate"] = lr
        # the scheduled arguments' values: as given (a state saved by a step,
        # or inside mx.compile), else at the loaded step
        given = {k: value[k] for k in self._scheduled() if isinstance(value.get(k), mx.array)}
        if len(given) < len(self._scheduled()):
            given = {**self._hypers_at(int(state["step"].item())), **given}
        state.update(given)
        if isinstance(value.get("layout"), mx.array):
            try:
                data: Optional[bytes] = bytes(np.array(value["layout"], np.uint8))
            except Exception:
                data = None
            if data is not None:
                reg = _Registry.parse(data, self._STATES)
            else:
                # inside a transformation (mx.compile of a pure step: the
                # state passed in and assigned back) the bytes cannot be
                # read: its length names one of this optimizer's layouts
                found = self._by_length.get(value["layout"].size)
                if found is None:
                    raise ValueError("an optimizer state assigned inside mx.compile must have a layout of this "
                                     "optimizer (its bytes cannot be read there).") from None
                reg = found
            fused = value.get("fused")
            if not isinstance(fused, dict):
                raise ValueError("the optimizer state has a 'layout' but no 'fused' dict of flat states.")
            out: Dict[str, Dict[str, mx.array]] = {}
            for b, (name, dt, size) in enumerate(reg.buckets):
                have = fused.get(name)
                for s in self._STATES:
                    a = have.get(s) if isinstance(have, dict) else None
                    if not isinstance(a, mx.array) or tuple(a.shape) != (size,) or _dtype_name(a.dtype) != dt:
                        raise ValueError(
                            f"state['fused']['{name}']['{s}'] must be a flat {dt} array of {size} elements "
                            f"(the states of '{reg.members[b][0]}' and {len(reg.members[b]) - 1} more), but got "
                            + (f"shape {tuple(a.shape)} and dtype {a.dtype}." if isinstance(a, mx.array)
                               else f"{type(a).__name__}."))
                out[name] = {s: fused[name][s] for s in self._STATES}
            extra = sorted(set(fused) - set(out))
            if extra:
                raise ValueError(f"state['fused'] has buckets {extra} that its layout does not name.")
            state["fused"] = out
            state["layout"] = self._adopt(reg, value["layout"])
            return state, reg
        if "fused" in value:
            raise ValueError("this optimizer state has 'fused' states but no 'layout' (saved by an mlx_sched "
                             "older than the layout): it does not say which parameter is where, so it cannot be "
                             "loaded safely.")
        # an mlx.optimizers state tree: per parameter {state name: array}
        items: Dict[str, Dict[str, mx.array]] = {}
        rest = {k: v for k, v in value.items() if k not in ("step", "learning_rate")}
        for path, leaf in tree_flatten(rest):
            head, _, name = path.rpartition(".")
            if not head or not isinstance(leaf, mx.array):
                raise ValueError(f"state entry '{path}' is not a parameter's state: an mlx.optimizers state "
                                 f"holds {{{', '.join(repr(s) for s in self._STATES)}: array}} per parameter.")
            items.setdefault(head, {})[name] = leaf
        spec: Dict[str, List[Tuple[str, Tuple[int, ...]]]] = {}
        for path, st in items.items():
            if tuple(sorted(st)) != tuple(sorted(self._STATES)):
                raise ValueError(f"the state of parameter '{path}' holds {sorted(st)}, but "
                                 f"{type(self).__name__} keeps {list(self._STATES)} per parameter.")
            first = st[self._STATES[0]]
            for s in self._STATES:
                a = st[s]
                if a.dtype not in _FLOAT_TYPES or a.shape != first.shape or a.dtype != first.dtype:
                    raise ValueError(f"the state '{s}' of parameter '{path}' must be float32, float16 or bfloat16 "
                                     f"and match the other states' shape and dtype, but has shape "
                                     f"{tuple(a.shape)} and dtype {a.dtype}.")
            spec.setdefault(_dtype_name(first.dtype), []).append((path, tuple(first.shape)))
        reg = _Registry(list(spec.items()))
        state["fused"] = _restate(_Registry([]), {}, reg, self._STATES, items)
        state["layout"] = self._adopt(reg)
        return state, reg

    def _adopt(self, reg: _Registry, given: Optional[mx.array] = None) -> mx.array:
        """``state["layout"]`` for ``reg``: its JSON bytes (a uint8 mx.array,
        so that tree_flatten + mx.save_safetensors save it), padded with
        spaces to a length that no other layout of this optimizer has.

        Why: mx.compile keys its traces on the shapes of the inputs only, and
        a step bakes the layout in (offsets; a step with a new set of
        gradients moves the states to a new layout inside the trace). Two
        layouts with the same buckets (frozen parameters swapped for others
        of the same sizes) would otherwise replay one's trace on the other's
        states. With a length per layout, a state in another layout is
        another signature (MLX traces again), and the length tells which
        layout a state has even where its bytes cannot be read (a trace) or
        after a compiled step moved it (``_current``). Under
        ``mx.compile(shapeless=True)`` MLX keys traces on ranks, not shapes, so
        the array also has a rank of its own per layout: shape (n, 1, ..., 1)
        with one more trailing 1 for each layout this optimizer had before. ``given``: the array
        of an assigned state, kept when its length is this layout's (inside
        mx.compile it is a tracer: the state must hold it, not a constant)."""
        if reg._array is not None and self._by_length.get(reg._array.size) is reg:
            n = reg._array.size
        else:
            doc = reg.doc(self._STATES)
            got = self._lengths.get(doc)
            if got is None:
                got = len(doc)
                while got in self._by_length:
                    got += 1
                self._lengths[doc] = got
            n = got
            if n not in self._by_length:
                self._shapes[n] = (n,) + (1,) * len(self._by_length)
            self._by_length[n] = reg
            if reg._array is None or tuple(reg._array.shape) != self._shapes[n]:
                reg._array = given if self._fits(given, n) else \
                    mx.array(np.frombuffer(doc + b" " * (n - len(doc)), np.uint8)).reshape(self._shapes[n])
        if given is not None and self._fits(given, n):
            return given
        assert reg._array is not None
        return reg._array

    def _fits(self, given: Optional[mx.array], n: int) -> bool:
        """``given`` is layout ``n``'s array: its length and its shape."""
        return given is not None and given.dtype == mx.uint8 and tuple(given.shape) == self._shapes.get(n)

    def _current(self) -> _Registry:
        """The registry of ``state["layout"]``: a compiled step replayed by
        MLX (no Python runs) may have moved the states to the layout its
        trace moved them to; the layout's length names it."""
        lay, reg = self._state.get("layout"), self._reg
        if lay is reg._array or not isinstance(lay, mx.array):
            return reg
        if reg._array is not None and lay.size == reg._array.size:
            return reg
        found = self._by_length.get(lay.size)
        if found is not None and found is not reg:
            self._reg = found
            self._layout = self._views = self._flat_params = None
        return self._reg

    def init(self, parameters: Dict[str, Any]) -> None:
        """Creates zero states for parameters that have none (as
        mlx.optimizers' ``init``; the others keep theirs). After a state was
        assigned, its parameters must match these (shape and dtype); ones it
        lacks start from zero.

        Args:
            parameters (dict): The model's parameter tree (e.g.
                ``model.trainable_parameters()``); float32, float16 or
                bfloat16 arrays.

        Returns:
            None: The states are created in ``self.state``.

        Raises:
            TypeError: A parameter of another dtype.
            ValueError: A parameter whose shape differs from its assigned state.
        """
        flat = [(k, v) for k, v in tree_flatten(parameters) if isinstance(v, mx.array)]
        for k, v in flat:
            if v.dtype not in _FLOAT_TYPES:
                raise TypeError(f"parameter '{k}' must be float32, float16 or bfloat16, but got {v.dtype}.")
        self._current()
        self._check_members(flat)
        self._check_against(flat, strict=False)
        new = [(k, v) for k, v in flat if k not in self._reg.where]
        if new:
            spec = self._reg.spec()
            for k, v in new:
                name = _dtype_name(v.dtype)
                for dt, items in spec:  # appended to the dtype's first bucket: no other slice moves
                    if dt == name:
                        items.append((k, tuple(v.shape)))
                        break
                else:
                    spec.append((name, [(k, tuple(v.shape))]))
            reg = _Registry(spec)
            fused = _restate(self._reg, self._state["fused"], reg, self._STATES, {})
            self._commit_registry(reg, fused)
        self._pending = None
        self._initialized = True

    def _check_against(self, flat: List[Tuple[str, mx.array]], strict: bool) -> None:
        """Parameters (or gradients) against the states: same shapes (a dtype
        may differ, as after ``set_dtype``: mlx.optimizers' promotions
        follow); with ``strict`` (the first step after a state was assigned)
        every one must have a state."""
        reg = self._reg
        for path, v in flat:
            where = reg.where.get(path)
            if where is None:
                if self._pending and strict:
                    raise ValueError(
                        f"parameter '{path}' has no state in the optimizer state that was assigned (it holds "
                        f"{len(reg.where)} parameters): a state saved for another model? (To start parameters "
                        "the saved state lacks from zero, call init(parameters) after assigning it.)")
                continue
            if where[2] != tuple(v.shape):
                raise ValueError(f"parameter '{path}' has shape {tuple(v.shape)}, but its optimizer state has shape "
                                 f"{where[2]}" + (" (a state saved for another model?)." if self._pending else "."))

    def _commit_registry(self, reg: _Registry, fused: Dict[str, Dict[str, mx.array]]) -> None:
        self._reg = reg
        self._state["fused"] = fused
        self._state["layout"] = self._adopt(reg)
        self._layout = self._views = self._flat_params = None

    def param_state(self, path: str) -> Dict[str, mx.array]:
        """The states of one parameter (views of the flat states), as
        ``mlx.optimizers`` keeps them per parameter: ``{"m": ..., "v": ...}``.

        Args:
            path (str): The parameter's dotted path, as ``tree_flatten`` names
                it (e.g. ``"layers.0.weight"``).

        Returns:
            dict of str to mx.array: Each state (``"v"`` for SGD; ``"m"`` and
            ``"v"`` for Adam and AdamW) with the parameter's shape.

        Raises:
            KeyError: No state for ``path`` (not initialized or not a parameter).
        """
        reg = self._current()
        where = reg.where.get(path)
        if where is None:
            raise KeyError(f"no parameter '{path}' in this optimizer's state.")
        b, off, shape = where
        name = reg.buckets[b][0]
        return {s: _ext.flat_view(self._state["fused"][name][s], off, list(shape)) for s in self._STATES}

    def __getstate__(self) -> Dict[str, Any]:
        d = dict(self.__dict__)
        d["_layout"] = d["_views"] = d["_flat_params"] = None  # caches (the next step rebuilds them)
        d["_reg"] = self._current().spec()
        d["_by_length"], d["_lengths"], d["_shapes"] = {}, {}, {}  # a copy's state is not in a compiled function's traces
        built = dict(d["_built"])
        built.pop("dyn", None)
        built["programs"] = None
        d["_built"] = built
        return d

    def __setstate__(self, d: Dict[str, Any]) -> None:
        d["_reg"] = _Registry(d["_reg"])
        self.__dict__.update(d)
        layout = self._state.get("layout")
        self._state["layout"] = self._adopt(self._reg, layout if isinstance(layout, mx.array) else None)
        self._apply_build(self._build(self._hyper_now()))  # the attributes as they are now

    # -- the step -------------------------------------------------------------------
    def apply_gradients(self, gradients: Dict[str, Any], parameters: Dict[str, Any]) -> Dict[str, Any]:
        """One step over the parameters in ``gradients`` (others keep their
        state untouched). Everything is checked and built before anything is
        assigned: an error leaves the optimizer and its state as they were.

        ``update(model, gradients)`` calls it (as in mlx.optimizers); the
        formula is the class's, with the learning rate (and weight decay)
        schedules evaluated at the step counter inside the kernel.

        Args:
            gradients (dict): Gradient tree; a subset of ``parameters``' tree
                (same paths and shapes).
            parameters (dict): Parameter tree (float32, float16 or bfloat16).

        Returns:
            dict: The updated parameters, a tree of the structure of
            ``gradients`` (views of one flat buffer per dtype).

        Raises:
            TypeError: A parameter or gradient that is not a float32, float16
                or bfloat16 mx.array (named by path).
            ValueError: A shape that differs from its parameter or its state
                (named by path).
            KeyError: A gradient without a parameter at the same place.
        """
        self._refresh()
        self._current()
        plan = self._plan_step(gradients, parameters)
        self._check_fused(plan)
        step = self._step_counter()
        out = _ext.fused_step(kind=_ext.OPTIMIZERS[self._KIND], step=step, groups=self._groups,
                              programs=self._step_programs(self._state.get("learning_rate")), **self._placement(plan))
        return self._commit(plan, out, step)

    def _plan_step(self, gradients: Dict[str, Any], parameters: Dict[str, Any]) -> "_StepPlan":
        """The tensors of this step and where they go: the last step's plan
        when the gradients have its tree and the model holds exactly the
        views it handed out (walked without path strings), else the checked
        tree, the registry (states laid out again when parameters came or
        went, see _present_registry) and a layout for it."""
        L, views, flats = self._layout, self._views, self._flat_params
        fast = L is not None and L.fast and L.reg is self._reg and views is not None and flats is not None \
            and self._pending is None
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
        reg = self._reg
        fused: Dict[str, Dict[str, mx.array]] = self._state.get("fused", {})
        if not fast:
            flat_g = tree_flatten(gradients)
            params = self._checked_params(flat_g, parameters)
            self._check_members([(k, p) for (k, _), p in zip(flat_g, params)])
            self._check_against([(k, p) for (k, _), p in zip(flat_g, params)], strict=True)
            new_reg = self._present_registry(flat_g, params)
            if new_reg is not None:
                fused = _restate(reg, fused, new_reg, self._STATES, {})
                reg = new_reg
            key = tuple((k, tuple(v.shape), v.dtype, g.dtype) for (k, g), v in zip(flat_g, params))
            if L is None or L.key != key or L.reg is not reg:
                L = _Layout(key, reg, flat_g, params, self._filters, _plan(gradients, iter(range(len(flat_g)))),
                            self._members)
            grads = [g for _, g in flat_g]
        assert L is not None
        return _StepPlan(L, fast, grads, params, reg, fused)

    def _check_fused(self, plan: "_StepPlan") -> None:
        """The flat states the layout needs (a loaded state may lack them)."""
        for name, dt, size in plan.layout.buckets:
            have = plan.fused.get(name)
            if not isinstance(have, dict) or any(
                    not isinstance(have.get(s), mx.array) or tuple(have[s].shape) != (size,) or have[s].dtype != dt
                    for s in self._STATES):
                raise ValueError(f"optimizer state 'fused.{name}' does not match the parameters: it must hold "
                                 f"{self._STATES} as flat {_dtype_name(dt)} arrays of {size} elements.")

    def _step_counter(self) -> mx.array:
        """state['step'] as the uint64 scalar the kernel reads (a loaded
        checkpoint may hold another integer type)."""
        step = self._state.get("step")
        if not (type(step) is mx.array and step.dtype == mx.uint64 and step.ndim == 0):
            if not isinstance(step, mx.array) or step.size != 1 or not mx.issubdtype(step.dtype, mx.integer):
                raise ValueError("state['step'] must be an integer scalar mx.array.")
            step = step.reshape(()).astype(mx.uint64)
        return step

    def _placement(self, plan: "_StepPlan") -> Dict[str, Any]:
        """The kernel's tensors, parameter sources and states (fused_step's
        arguments). A bucket's source is the previous step's flat buffer when
        the model still holds exactly the views handed out (the buffer is then
        donated), else the tensors themselves."""
        L, views, flats = plan.layout, self._views, self._flat_params
        kgrads = plan.grads if L.fast else [plan.grads[i] for i in L.leaf]
        kparams = plan.params if L.fast else [plan.params[i] for i in L.leaf]
        states = [[plan.fused[name][s] for s in self._STATES] for name, _, _ in L.buckets]
        if plan.fast:
            assert flats is not None
            return dict(tensors=L.tensors_flat, grads=kgrads, param_sources=list(flats), states=states)
        sources: List[mx.array] = []
        src, off = [0] * len(kparams), [0] * len(kparams)
        same = views is not None and flats is not None and self._layout is L and len(views) == len(kparams)
        for b, members in enumerate(L.members):
            if same and all(kparams[i] is views[i] for i in members):  # type: ignore[index]
                for i in members:
                    src[i], off[i] = len(sources), L.offset[i]
                sources.append(flats[b])  # type: ignore[index]
            else:
                for i in members:
                    src[i] = len(sources)
                    sources.append(kparams[i])
        tensors = _ext.FusedTensors(group_of=L.group_of, bucket_of=L.bucket_of, offset=L.offset,
                                    param_src=src, param_off=off, members=L.members_of_step)
        return dict(tensors=tensors, grads=kgrads, param_sources=sources, states=states)

    def _commit(self, plan: "_StepPlan", out: Dict[str, Any], step: mx.array) -> Dict[str, Any]:
        """The step's results into the state and the returned tree: the only
        place a step assigns anything (so an error before leaves all as it
        was). Tensors the kernel does not take (_Layout.fallback) are updated
        here by the reference formula."""
        L, reg, state = plan.layout, plan.reg, self._state
        new_fused = dict(plan.fused)
        for (name, _, _), st in zip(L.buckets, out["states"]):
            new_fused[name] = dict(zip(self._STATES, st))
        flat_params = out["params"]
        kviews = _ext.flat_views(flat_params, L.bucket_of, L.offset, L.shapes) if L.paths else []
        values: List[Any] = kviews
        if not L.fast:
            values = [None] * L.n_leaves
            for i, v in zip(L.leaf, kviews):
                values[i] = v
            if L.fallback:
                new_fused, reg = self._fallback(L, reg, new_fused, plan.grads, plan.params, values, out["step"],
                                                out["learning_rate"], step)
        self._layout, self._views, self._flat_params = L, kviews, flat_params
        if reg is not self._reg:
            self._reg = reg
            state["layout"] = self._adopt(reg)
            if L.reg is not reg:  # the fallback moved states: next step plans again
                self._layout = None
        state["step"] = out["step"]
        state["learning_rate"] = self._as_rate_shape(out["learning_rate"])
        for name in [k for k in state if k in self._REPORT]:  # a schedule no longer: no value shown
            del state[name]
        state.update(self._hypers_from(out["hypers"]))
        state["fused"] = new_fused
        self._pending = None
        self._initialized = True
        return cast(Dict[str, Any], _build(L.plan, values))

    def _present_registry(self, flat_g: List[Tuple[str, mx.array]], params: List[mx.array]) -> Optional[_Registry]:
        """The registry for this step, or None if it is the current one: the
        kernel updates whole buckets, so a dtype's states are laid out again
        (once) when some of a bucket's parameters are absent from the
        gradients (frozen, a partial tree) or parameters are new: one bucket
        of the present ones, in the gradients' order, one of the others."""
        reg = self._reg
        present: Dict[str, List[Tuple[str, Tuple[int, ...]]]] = {}
        for (path, g), p in zip(flat_g, params):
            dt = _dtype_name(p.dtype)
            where = reg.where.get(path)
            if dt != _dtype_name(g.dtype) or (where is not None and reg.dtype_of(path) != dt):
                continue  # updated by the fallback
            present.setdefault(dt, []).append((path, tuple(p.shape)))
        redo = set()
        for dt, items in present.items():
            paths = {p for p, _ in items}
            if any(p not in reg.where for p in paths):
                redo.add(dt)
                continue
            for b in {reg.where[p][0] for p in paths}:
                if any(m not in paths for m in reg.members[b]):
                    redo.add(dt)
                    break
        if not redo:
            return None
        spec: List[Tuple[str, List[Tuple[str, Tuple[int, ...]]]]] = []
        seen = set()
        for dt, items in reg.spec():
            if dt not in redo:
                spec.append((dt, items))
            elif dt not in seen:
                seen.add(dt)
                here = {p for p, _ in present[dt]}
                spec.append((dt, present[dt]))
                spec.append((dt, [(p, s) for d2, its in reg.spec() if d2 == dt for p, s in its if p not in here]))
        spec.extend((dt, items) for dt, items in present.items() if dt in redo and dt not in seen)
        return _Registry(spec)

    def _fallback(self, L: _Layout, reg: _Registry, fused: Dict[str, Dict[str, mx.array]], grads: List[Any],
                  params: List[mx.array], values: List[Any], new_step: mx.array, lrs: mx.array,
                  step: mx.array) -> Tuple[Dict[str, Dict[str, mx.array]], _Registry]:
        """Parameters whose dtype differs from their state's or gradient's
        (after ``set_dtype``, or a float32 gradient of a bfloat16 parameter):
        mlx.optimizers' own operations, type promotions included (its result
        may come back in another dtype, as there); their states then move to
        the bucket of their new dtype."""
        replace: Dict[str, Dict[str, mx.array]] = {}
        for i in L.fallback:
            path = L.key[i][0]
            g, p = grads[i], params[i]
            where = reg.where.get(path)
            if where is None:
                st = {s: mx.zeros_like(g) for s in self._STATES}  # mlx.optimizers' init(gradients) at its first step
            else:
                b, off, shape = where
                name = reg.buckets[b][0]
                n = math.prod(shape)
                st = {s: fused[name][s][off:off + n].reshape(shape) for s in self._STATES}
            # each member (one, without member_axis) with its kernel group's
            # hyperparameters at the step (schedules evaluated, as the kernel)
            M = L.members_of_step
            outs = []
            for m in range(M):
                grp = L.group_all[i] * M + m
                lr = lrs if lrs.ndim == 0 else lrs.reshape(-1)[grp]  # (K, G) with groups and members
                h = {k: ([_at(b, step) for b in v] if k == "betas" else _at(v, step))
                     for k, v in self._hyper[grp].items()}
                gm, pm, sm = (g[m], p[m], {k: a[m] for k, a in st.items()}) if M > 1 else (g, p, st)
                outs.append(self._reference_update(h, gm, pm, sm, lr, h.get("weight_decay", 0.0), new_step))
            if M == 1:
                values[i], new_st = outs[0]
            else:
                values[i] = mx.stack([o[0] for o in outs])
                new_st = {k: mx.stack([o[1][k] for o in outs]) for k in self._STATES}
            if any(new_st[s] is not st[s] for s in self._STATES) or where is None:
                replace[path] = new_st
        if not replace:
            return fused, reg
        spec = [(dt, [(p, s) for p, s in items if p not in replace]) for dt, items in reg.spec()]
        moved: Dict[str, List[Tuple[str, Tuple[int, ...]]]] = {}
        for path, st in replace.items():
            first = st[self._STATES[0]]
            moved.setdefault(_dtype_name(first.dtype), []).append((path, tuple(first.shape)))
        spec.extend(moved.items())
        new = _Registry(spec)
        return _restate(reg, fused, new, self._STATES, replace), new

    def _reference_update(self, h: Dict[str, Any], g: mx.array, p: mx.array, st: Dict[str, mx.array],
                          lr: mx.array, wd: Any, step: mx.array) -> Tuple[mx.array, Dict[str, mx.array]]:
        raise NotImplementedError

    @staticmethod
    def _checked_params(flat_g: List[Tuple[str, Any]], parameters: Dict[str, Any]) -> List[mx.array]:
        params = []
        for path, g in flat_g:
            try:
                p = _lookup(parameters, path.split("."))
            except (KeyError, IndexError, TypeError):
                raise KeyError(f"gradient '{path}' has no parameter at the same place in the parameters.") from None
            if not isinstance(g, mx.array) or not isinstance(p, mx.array):
                raise TypeError(f"gradient and parameter '{path}' must be mx.arrays.")
            if p.dtype not in _FLOAT_TYPES:
                raise TypeError(f"parameter '{path}' must be float32, float16 or bfloat16, but got {p.dtype}.")
            if g.dtype not in _FLOAT_TYPES:
                raise TypeError(f"gradient '{path}' must be float32, float16 or bfloat16, but got {g.dtype}.")
            if g.shape != p.shape:
                raise ValueError(f"gradient '{path}' has shape {tuple(g.shape)} and dtype {g.dtype}, but the "
                                 f"parameter has shape {tuple(p.shape)} and dtype {p.dtype}.")
            params.append(p)
        return params
