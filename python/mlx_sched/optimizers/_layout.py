"""The flat state layout: which parameter's states sit where in the flat
buffers of a dtype (the registry that checkpoints carry as ``layout``),
moving states when it changes, and one step's placement of the tensors."""

from __future__ import annotations

import json
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import mlx.core as mx

from .. import _ext
from ._common import Predicate, _ALIGN, _DTYPES, _FORMAT, _aligned, _dtype_name


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
    and the tree's shape. With ``members`` > 1 (member_axis) every tensor
    holds that many models along axis 0, and a tensor of user group k starts
    at kernel group k * members."""

    def __init__(self, key: Tuple[Any, ...], reg: _Registry, flat: List[Tuple[str, mx.array]],
                 params: List[mx.array], filters: List[Predicate], plan: Any, members: int = 1):
        self.key = key
        self.members_of_step = members
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
        self.group_of = [self.group_all[i] * members for i in kernel]
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
                                              param_src=self.bucket_of, param_off=self.offset, members=members)
