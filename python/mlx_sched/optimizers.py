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

import json
import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union, cast

import mlx.core as mx
import mlx.optimizers as _optim
import numpy as np
from mlx.utils import tree_flatten as _tree_flatten

from . import _ext
from ._families import constant
from ._program import constant_segment, encode
from ._schedule import Schedule, program_bytes

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


def _lr_float(value: Any) -> float:
    """A learning rate given as a number (or a one-element array), checked."""
    return float(_as_schedule("learning_rate", value).segments[0][0].params[0])


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float, but got {type(value).__name__}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, but got {value}.")
    return float(value)


def tree_flatten(tree: Any) -> List[Tuple[str, Any]]:
    """``mlx.utils.tree_flatten``, typed (for saving ``opt.state``).

    Args:
        tree (Any): Nested dicts, lists and tuples of arrays (e.g. ``opt.state``).

    Returns:
        list of (str, Any): ``(dotted path, leaf)`` pairs, in MLX's order.
    """
    return cast(List[Tuple[str, Any]], _tree_flatten(tree))


def _lookup(tree: Any, keys: Sequence[str]) -> Any:
    for key in keys:
        tree = tree[int(key)] if isinstance(tree, (list, tuple)) else tree[key]
    return tree


_ALIGN = 64  # elements: each tensor starts 256 bytes (float32) into its bucket
_FORMAT = "mlx_sched.fused"
_DTYPES = {"float32": mx.float32, "float16": mx.float16, "bfloat16": mx.bfloat16}


def _dtype_name(dt: Any) -> str:
    return str(dt).split(".")[-1]


def _aligned(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


class _Registry:
    """Which parameters have optimizer state, and where: each one a slice of
    a bucket (flat state buffers of one dtype) at a 64-element aligned
    offset. Immutable: a change makes a new registry. It travels with the
    state as ``state["layout"]`` (JSON bytes), so that a saved state names
    its parameters."""

    def __init__(self, buckets: Sequence[Tuple[str, Sequence[Tuple[str, Tuple[int, ...]]]]]):
        self.buckets: List[Tuple[str, str, int]] = []  # (name, dtype name, size)
        self.members: List[List[str]] = []
        self.where: Dict[str, Tuple[int, int, Tuple[int, ...]]] = {}  # path -> (bucket, offset, shape)
        counts: Dict[str, int] = {}
        for dt, items in buckets:
            if not items:
                continue
            k = counts.get(dt, 0)
            counts[dt] = k + 1
            off = 0
            for path, shape in items:
                self.where[path] = (len(self.buckets), off, tuple(shape))
                off += _aligned(math.prod(shape))
            self.buckets.append((dt if k == 0 else f"{dt}_{k}", dt, max(off, _ALIGN)))
            self.members.append([p for p, _ in items])
        self._array: Optional[mx.array] = None  # state["layout"] (set by _Fused._adopt)

    def dtype_of(self, path: str) -> str:
        return self.buckets[self.where[path][0]][1]

    def spec(self) -> List[Tuple[str, List[Tuple[str, Tuple[int, ...]]]]]:
        return [(dt, [(p, self.where[p][2]) for p in self.members[b]]) for b, (_, dt, _) in enumerate(self.buckets)]

    def doc(self, states: Tuple[str, ...]) -> bytes:
        """The layout as JSON bytes (``state["layout"]`` holds them, padded
        with spaces: see ``_Fused._adopt``)."""
        doc = {"format": _FORMAT, "version": 1, "align": _ALIGN, "states": list(states),
               "buckets": [[dt, [[p, list(s)] for p, s in items]] for dt, items in self.spec()]}
        return json.dumps(doc, separators=(",", ":")).encode()

    @staticmethod
    def parse(data: bytes, states: Tuple[str, ...]) -> "_Registry":
        """A registry from the bytes of ``state["layout"]``; ValueError if it is not one."""
        bad = "state['layout'] is not an mlx_sched optimizer layout"
        try:
            doc = json.loads(data.decode())
        except (ValueError, TypeError) as e:
            raise ValueError(f"{bad} ({e}).") from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT or doc.get("version") != 1 \
                or doc.get("align") != _ALIGN:
            raise ValueError(f"{bad} (format, version or alignment differ).")
        if tuple(doc.get("states", ())) != states:
            raise ValueError(f"the state holds {doc.get('states')} per parameter, but this optimizer keeps "
                             f"{list(states)}: it was saved by another kind of optimizer.")
        try:
            spec = [(str(dt), [(str(p), tuple(int(d) for d in s)) for p, s in items]) for dt, items in doc["buckets"]]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{bad} ({e}).") from None
        for dt, items in spec:
            if dt not in _DTYPES:
                raise ValueError(f"{bad} (dtype {dt}).")
        return _Registry(spec)


def _piece(flat: mx.array, start: int, end: int) -> mx.array:
    """flat[start:end] as a FlatView: its shape is inferable under
    mx.compile(shapeless=True), where a Slice's is not (a re-layout inside a
    shapeless trace must replay)."""
    return _ext.flat_view(flat, start, [end - start])


def _restate(old: _Registry, fused: Mapping[str, Mapping[str, mx.array]], new: _Registry, names: Tuple[str, ...],
             replace: Mapping[str, Mapping[str, mx.array]]) -> Dict[str, Dict[str, mx.array]]:
    """Flat states for a new registry: each parameter's state comes from
    ``replace``, else from its slice in the old buckets, else zeros. A bucket
    made of one whole old bucket reuses its arrays (no copy); runs of
    neighbours are sliced at once."""
    out: Dict[str, Dict[str, mx.array]] = {}
    for b, (name, dt_name, size) in enumerate(new.buckets):
        dt = _DTYPES[dt_name]
        members = new.members[b]
        src = [old.where.get(p) if p not in replace else None for p in members]
        if src and src[0] is not None and all(s is not None for s in src):
            ob = src[0][0]
            if old.members[ob] == members and old.buckets[ob] == (old.buckets[ob][0], dt_name, size):
                out[name] = {s: fused[old.buckets[ob][0]][s] for s in names}
                continue
        out[name] = {}
        for s in names:
            pieces: List[mx.array] = []
            run: Optional[List[int]] = None  # [old bucket, start, end] of the current slice
            filled = 0
            for p, where in zip(members, src):
                n = math.prod(new.where[p][2])
                at = new.where[p][1]
                if at > filled:
                    if run is not None:
                        pieces.append(_piece(fused[old.buckets[run[0]][0]][s], run[1], run[2]))
                        run = None
                    pieces.append(mx.zeros((at - filled,), dt))
                    filled = at
                if where is not None and old.buckets[where[0]][1] == dt_name:
                    ob, o, _ = where
                    if run is not None and run[0] == ob and run[2] == o:
                        run[2] = o + n
                    else:
                        if run is not None:
                            pieces.append(_piece(fused[old.buckets[run[0]][0]][s], run[1], run[2]))
                        run = [ob, o, o + n]
                else:
                    if run is not None:
                        pieces.append(_piece(fused[old.buckets[run[0]][0]][s], run[1], run[2]))
                        run = None
                    if p in replace:
                        pieces.append(replace[p][s].astype(dt).reshape(-1))
                    elif where is not None:  # an old slice of another dtype
                        ob, o, _ = where
                        pieces.append(fused[old.buckets[ob][0]][s][o:o + n].astype(dt))
                    else:
                        pieces.append(mx.zeros((n,), dt))
                filled += n
            if run is not None:
                pieces.append(_piece(fused[old.buckets[run[0]][0]][s], run[1], run[2]))
            if filled < size:
                pieces.append(mx.zeros((size - filled,), dt))
            out[name][s] = pieces[0] if len(pieces) == 1 else mx.concatenate(pieces)
    return out


class _Layout:
    """One step's plan over a gradient tree: the tensors the kernel updates
    (``paths``, their bucket among the step's buckets, offset and group), the
    ones updated with MLX's own operations (``fallback``: a parameter whose
    dtype differs from its state's or its gradient's, as after ``set_dtype``),
    and the tree's shape."""

    def __init__(self, key: Tuple[Any, ...], reg: _Registry, flat: List[Tuple[str, mx.array]],
                 params: List[mx.array], filters: List[Predicate], plan: Any):
        self.key = key
        self.reg = reg
        self.plan = plan  # the gradients' tree shape (_plan)
        self.n_leaves = len(flat)
        self.group_all: List[int] = []
        for path, p in zip([k for k, _ in flat], params):
            g = 0
            for k, fn in enumerate(filters):
                if fn(path, p):
                    g = k + 1
                    break
            self.group_all.append(g)
        kernel = [i for i, (path, g) in enumerate(flat) if path in reg.where
                  and reg.dtype_of(path) == _dtype_name(params[i].dtype) == _dtype_name(g.dtype)]
        kset = set(kernel)
        self.fallback = [i for i in range(len(flat)) if i not in kset]
        self.leaf = kernel  # kernel tensor -> leaf index
        self.paths = [flat[i][0] for i in kernel]
        self.shapes = [list(params[i].shape) for i in kernel]
        self.shape_t = [tuple(params[i].shape) for i in kernel]
        self.group_of = [self.group_all[i] for i in kernel]
        used = sorted({reg.where[p][0] for p in self.paths})
        self.reg_bucket = used  # step bucket -> registry bucket
        self.buckets = [(reg.buckets[b][0], _DTYPES[reg.buckets[b][1]], reg.buckets[b][2]) for b in used]
        step_of = {b: k for k, b in enumerate(used)}
        self.bucket_of = [step_of[reg.where[p][0]] for p in self.paths]
        self.offset = [reg.where[p][1] for p in self.paths]
        self.members: List[List[int]] = [[] for _ in used]
        for i, b in enumerate(self.bucket_of):
            self.members[b].append(i)
        self.fast = not self.fallback and self.leaf == list(range(len(flat)))
        # the placement when each bucket's one source is its previous flat buffer
        self.tensors_flat = _ext.FusedTensors(group_of=self.group_of, bucket_of=self.bucket_of, offset=self.offset,
                                              param_src=self.bucket_of, param_off=self.offset)


class _Fused(_optim.Optimizer):
    """What SGD, Adam and AdamW share: groups, programs, state, the one dispatch."""

    _KIND = ""
    _STATES: Tuple[str, ...] = ()
    _DEFAULTS: Dict[str, Any] = {}
    _ATTRS: Tuple[str, ...] = ()  # the constructor arguments kept as attributes (as mlx.optimizers)

    def __init__(self, hyper: Dict[str, Any], groups: Optional[Sequence[Group]]):
        super().__init__()  # type: ignore[no-untyped-call]
        self._state: Dict[str, Any] = self._state
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
        for h in [hyper] + [{**hyper, **o} for o in self._overrides]:
            self._check_ranges(h)
        self._lr: Rate = hyper["learning_rate"]
        self._apply_build(self._build(self._hyper_now()))
        # Every layout this optimizer had, by the length of its state["layout"]
        # (unique per layout: _adopt), and that length by the layout's JSON.
        self._by_length: Dict[int, _Registry] = {}
        self._lengths: Dict[bytes, int] = {}
        self._shapes: Dict[int, Tuple[int, ...]] = {}  # that array's shape: a rank per layout (_adopt)
        self._reg = _Registry([])
        self._pending: Optional[str] = None  # a loaded state not yet checked against the parameters
        self._state["learning_rate"] = self._lrs_at(0)
        self._state["fused"] = {}
        self._state["layout"] = self._adopt(self._reg)
        self._layout: Optional[_Layout] = None
        self._views: Optional[List[mx.array]] = None
        self._flat_params: Optional[List[mx.array]] = None

    # -- hyperparameters, groups and programs -----------------------------------
    def _check_ranges(self, h: Dict[str, Any]) -> None:
        """The constructor's checks (mlx.optimizers' messages); later
        attribute changes are taken as they come, as mlx.optimizers does."""

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Dict[str, Any]:
        """A group's hyperparameters as _ext.FusedGroup's named fields
        (math/optim.h's sched_opt_group) other than the program rows."""
        raise NotImplementedError

    def _hyper_now(self) -> List[Dict[str, Any]]:
        base = {"learning_rate": self._lr, **{a: getattr(self, a) for a in self._ATTRS}}
        return [base] + [{**base, **o} for o in self._overrides]

    def _snapshot(self) -> Tuple[Any, ...]:
        vals: List[Any] = [self._lr]
        for a in self._ATTRS:
            v = getattr(self, a)
            vals.append(tuple(v) if isinstance(v, (list, tuple)) else v)
        return tuple(vals)

    def _build(self, hypers: List[Dict[str, Any]]) -> Dict[str, Any]:
        """Each group's learning-rate and weight-decay programs (one row per
        distinct program) and hyperparameters, for the primitive. A float
        learning rate is not a program: the step reads it from
        ``state["learning_rate"]`` (a row made on the fly), as mlx.optimizers
        reads its state. Nothing is assigned here (see _apply_build)."""
        rows: Dict[bytes, int] = {}
        members: List[Any] = []
        groups, schedules, dynamic = [], [], []
        for g, h in enumerate(hypers):
            wd = h.get("weight_decay", 0.0)
            wd_s = _as_schedule("weight_decay", wd)
            hyper = self._group_hyper(h, isinstance(wd, Schedule) or wd != 0)
            lr_value = h["learning_rate"]
            lr = _as_schedule("learning_rate", lr_value)
            row = [-1 if not isinstance(lr_value, Schedule) else self._row(lr, rows, members),
                   self._row(wd_s, rows, members)]
            if row[0] < 0:
                dynamic.append(g)
            groups.append(_ext.FusedGroup(lr_prog=row[0], wd_prog=row[1], **hyper))
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
        self._hyper = built["hypers"]
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
        if raw is not None and self._lr is raw[0] and all(
                getattr(self, a) is v for a, v in zip(self._ATTRS, raw[1])) and all(
                tuple(v) == t for v, t in zip(raw[1], raw[2]) if t is not None):
            return
        if not _same(self._snapshot(), built["snapshot"]):
            self._apply_build(self._build(self._hyper_now()))
        values = [getattr(self, a) for a in self._ATTRS]
        self._built["raw"] = (self._lr, values, [tuple(v) if isinstance(v, list) else None for v in values])

    def _lrs_at(self, step: int) -> mx.array:
        """The groups' learning rates at ``step`` (a float learning rate as it is)."""
        values = [float(cast(float, s(step).item())) if s is not None else _lr_float(h["learning_rate"])
                  for h, s in zip(self._hyper, self._schedules)]
        return mx.array(values[0] if len(values) == 1 else values, mx.float32)

    def _step_programs(self, lr_state: Any) -> mx.array:
        """The programs of this step: the schedules, then a constant row per
        group with a float learning rate, holding ``state["learning_rate"]``."""
        built = self._built
        if not built["dynamic"]:
            return cast(mx.array, built["programs"])
        G = len(self._groups)
        if not isinstance(lr_state, mx.array) or lr_state.dtype in (mx.bool_, mx.complex64) or \
                tuple(lr_state.shape) not in ((), (G,)):
            got = f"shape {tuple(lr_state.shape)} and dtype {lr_state.dtype}" if isinstance(lr_state, mx.array) \
                else type(lr_state).__name__
            want = "()" if G == 1 else f"() or ({G},)"
            raise ValueError(f"state['learning_rate'] must be a real mx.array of shape {want}, but got {got}.")
        template, mask, dynamic = built["dyn"]
        v = lr_state if lr_state.dtype == mx.float32 else lr_state.astype(mx.float32)
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
        if isinstance(value, Schedule):
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
            G = len(self._groups)
            old_lr = self.state.get("learning_rate")
            values = np.array(self._lrs_at(at)).reshape(G)
            if isinstance(old_lr, mx.array) and tuple(old_lr.shape) in ((), (G,)):
                keep = np.broadcast_to(np.array(old_lr.astype(mx.float32)), (G,))
                follow = [g == 0 or "learning_rate" not in o for g, o in enumerate([{}] + self._overrides)]
                values = np.where(follow, values, keep)
            self.state["learning_rate"] = mx.array(values[0] if G == 1 else values, mx.float32)
            return
        value = _lr_float(value)
        G = len(self._groups)
        self.state["learning_rate"] = mx.array(value if G == 1 else [value] * G, mx.float32)
        if not isinstance(self._lr, Schedule):
            self._lr = value

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
        G = len(self._groups)
        if not isinstance(lr, mx.array) or tuple(lr.shape) not in ((), (G,)) or not \
                mx.issubdtype(lr.dtype, mx.floating):
            raise ValueError(f"state['learning_rate'] must be a floating mx.array of shape "
                             f"{'()' if G == 1 else f'() or ({G},)'}.")
        state["learning_rate"] = lr
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
        self._apply_build(self._build(self._hyper))

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
        state = self._state
        L, views, flats = self._layout, self._views, self._flat_params
        # Fast path: the same tree of gradients as last step (walked with the
        # cached plan, no path strings), and the model holds exactly the views
        # that step handed out (their shapes and dtypes known).
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
        reg, new_reg = self._reg, None
        fused: Dict[str, Dict[str, mx.array]] = state.get("fused", {})
        if not fast:
            flat_g = tree_flatten(gradients)
            params = self._checked_params(flat_g, parameters)
            flat_p = [(k, p) for (k, _), p in zip(flat_g, params)]
            self._check_against(flat_p, strict=True)
            new_reg = self._present_registry(flat_g, params)
            if new_reg is not None:
                fused = _restate(reg, fused, new_reg, self._STATES, {})
                reg = new_reg
            key = tuple((k, tuple(v.shape), v.dtype, g.dtype) for (k, g), v in zip(flat_g, params))
            if L is None or L.key != key or L.reg is not reg:
                L = _Layout(key, reg, flat_g, params, self._filters, _plan(gradients, iter(range(len(flat_g)))))
            grads = [g for _, g in flat_g]
        assert L is not None
        for b, (name, dt, size) in enumerate(L.buckets):
            have = fused.get(name)
            if not isinstance(have, dict) or any(
                    not isinstance(have.get(s), mx.array) or tuple(have[s].shape) != (size,) or have[s].dtype != dt
                    for s in self._STATES):
                raise ValueError(f"optimizer state 'fused.{name}' does not match the parameters: it must hold "
                                 f"{self._STATES} as flat {_dtype_name(dt)} arrays of {size} elements.")
        step = state.get("step")
        if not (type(step) is mx.array and step.dtype == mx.uint64 and step.ndim == 0):
            if not isinstance(step, mx.array) or step.size != 1 or not mx.issubdtype(step.dtype, mx.integer):
                raise ValueError("state['step'] must be an integer scalar mx.array.")
            step = step.reshape(()).astype(mx.uint64)
        programs = self._step_programs(state.get("learning_rate"))
        # Parameter sources: the previous step's flat buffer of a bucket when
        # the model still holds exactly the views handed out (the buffer is
        # then donated), else the tensors themselves.
        kgrads = grads if L.fast else [grads[i] for i in L.leaf]
        kparams = params if L.fast else [params[i] for i in L.leaf]
        if fast:
            assert flats is not None
            sources, tensors = list(flats), L.tensors_flat
        else:
            sources, src, off = [], [0] * len(kparams), [0] * len(kparams)
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
                                        param_src=src, param_off=off)
        out = _ext.fused_step(
            kind=_ext.OPTIMIZERS[self._KIND], step=step, programs=programs, groups=self._groups, tensors=tensors,
            grads=kgrads, param_sources=sources, states=[[fused[name][s] for s in self._STATES] for name, _, _ in L.buckets],
        )
        new_fused = dict(fused)
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
                new_fused, reg = self._fallback(L, reg, new_fused, grads, params, values, out["step"], out["learning_rate"], step)
        # commit: nothing above assigned anything
        self._layout, self._views, self._flat_params = L, kviews, flat_params
        if reg is not self._reg:
            self._reg = reg
            state["layout"] = self._adopt(reg)
            if L.reg is not reg:  # the fallback moved states: next step plans again
                self._layout = None
        state["step"] = out["step"]
        state["learning_rate"] = out["learning_rate"]
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
                st = {s: mx.zeros_like(p) for s in self._STATES}  # mlx.optimizers' init_single
            else:
                b, off, shape = where
                name = reg.buckets[b][0]
                n = math.prod(shape)
                st = {s: fused[name][s][off:off + n].reshape(shape) for s in self._STATES}
            grp = L.group_all[i]
            lr = lrs if lrs.ndim == 0 else lrs[grp]
            h = self._hyper[grp]
            wd = h.get("weight_decay", 0.0)
            if isinstance(wd, Schedule):
                wd = wd(step)
            values[i], new_st = self._reference_update(h, g, p, st, lr, wd, new_step)
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


def _same(a: Tuple[Any, ...], b: Tuple[Any, ...]) -> bool:
    """Snapshots equal: schedules by identity, the rest by value and type."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is y:
            continue
        if isinstance(x, Schedule) or isinstance(y, Schedule) or type(x) is not type(y):
            return False
        try:
            if not bool(x == y):
                return False
        except Exception:
            return False
    return True


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
            or one (unbatched) mlx-sched schedule, evaluated at the step.
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

    Raises:
        TypeError: An argument of the wrong type, or a malformed ``groups`` entry.
        ValueError: An argument out of range, a batched schedule, or a group
            setting an argument the optimizer does not take.

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

    def _check_ranges(self, h: Dict[str, Any]) -> None:
        momentum = _real("momentum", h["momentum"])
        dampening = _real("dampening", h["dampening"])
        if h["nesterov"] and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening.")

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Dict[str, Any]:
        momentum = _real("momentum", h["momentum"])
        dampening = _real("dampening", h["dampening"])
        F = _ext.OPT_FLAGS
        flags = ((F["momentum"] if momentum > 0 else 0) | (F["nesterov"] if h["nesterov"] else 0)
                 | (F["weight_decay"] if has_wd else 0))
        omd = 1.0 - dampening if dampening > 0 else 1.0
        return dict(flags=flags, momentum=momentum, one_minus_dampening=omd)

    def _reference_update(self, h: Dict[str, Any], g: mx.array, p: mx.array, st: Dict[str, mx.array],
                          lr: mx.array, wd: Any, step: mx.array) -> Tuple[mx.array, Dict[str, mx.array]]:
        # mlx.optimizers.SGD.apply_single, operation by operation
        if isinstance(wd, mx.array):
            g = g + wd.astype(g.dtype) * p
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
            or one (unbatched) mlx-sched schedule, evaluated at the step.
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

    Raises:
        TypeError: An argument of the wrong type, or a malformed ``groups`` entry.
        ValueError: An argument out of range, a batched schedule, or a group
            setting an argument the optimizer does not take.

    Example:
        >>> from mlx_sched.optimizers import Adam
        >>> opt = Adam(mlx_sched.cosine_decay(1e-3, 1000), betas=[0.9, 0.99])
        >>> opt.betas
        [0.9, 0.99]
    """

    _KIND = "adam"
    _STATES = ("m", "v")
    _ATTRS: Tuple[str, ...] = ("betas", "eps", "bias_correction")
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

    def _check_ranges(self, h: Dict[str, Any]) -> None:
        betas = h["betas"]
        for i, beta in enumerate(betas):
            _real(f"betas[{i}]", beta)
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"Adam beta{i + 1} should be in [0, 1), {beta} was provided instead")
        eps = _real("eps", h["eps"])
        if not 0.0 <= eps:
            raise ValueError(f"Adam epsilon should be >=0, {eps} was provided instead")

    def _group_hyper(self, h: Dict[str, Any], has_wd: bool) -> Dict[str, Any]:
        try:
            betas = list(h["betas"])
        except TypeError:
            raise TypeError(f"betas must be two floats, but got {type(h['betas']).__name__}.") from None
        if len(betas) != 2:
            raise ValueError(f"betas must be two floats, but got {len(betas)}.")
        b1, b2 = (_real(f"betas[{i}]", beta) for i, beta in enumerate(betas))
        eps = _real("eps", h["eps"])
        flags = _ext.OPT_FLAGS["bias_correction"] if h["bias_correction"] else 0
        return dict(flags=flags, b1=b1, one_minus_b1=1.0 - b1, b2=b2, one_minus_b2=1.0 - b2, eps=eps)

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
            or one (unbatched) mlx-sched schedule, evaluated at the step.
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

    Raises:
        TypeError: An argument of the wrong type, or a malformed ``groups`` entry.
        ValueError: An argument out of range, a batched schedule, or a group
            setting an argument the optimizer does not take.

    Example:
        >>> from mlx_sched.optimizers import AdamW
        >>> opt = AdamW(1e-3, groups=[(lambda path, p: p.ndim == 1, {"weight_decay": 0.0})])
        >>> opt.weight_decay
        0.01
    """

    _KIND = "adamw"
    _ATTRS = ("betas", "eps", "weight_decay", "bias_correction")
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
