"""The schedule factories of ``mlx.optimizers``, compiled.

Every factory validates its arguments exactly as ``mlx.optimizers`` 0.32.4
does (same exception types, same messages), then builds a :class:`Schedule`:
a list of segments per member, encoded once into an int32 program that one
MLX primitive evaluates.
"""

from __future__ import annotations

import math
import numbers
import re
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union, cast

import mlx.core as mx
import numpy as np

from . import _ext
from ._program import (
    F32_MAX,
    I64_MAX,
    I64_MIN,
    Product,
    Segment,
    constant_segment,
    cosine_segment,
    encode,
    exponential_segment,
    factors,
    from_factors,
    linear_segment,
    optax_exponential,
)

Scalar = Union[int, float]
ScalarOrSeq = Union[Scalar, Sequence[Scalar], mx.array, np.ndarray]
_STEP_LIMIT = 2**62  # step counts and boundaries: room for sums without overflow


class Schedule:
    """A compiled learning-rate schedule, or a batch of ``G`` of them.

    Call it with a step (Python int or float, or an ``mx.array`` of any
    integer or floating dtype and any shape) to get float32 values of the
    step's shape (``(G, *step.shape)`` for a batch). ``values(n, start)``
    gives ``n`` consecutive steps without a step array. Either way the graph
    holds one ``ScheduleEval`` primitive.
    """

    def __init__(self, members: Sequence[Sequence[Segment]], batched: bool, desc: str, spec: Dict[str, Any]):
        self._members = tuple(m if isinstance(m, Product) else tuple(m) for m in members)
        self._batched = batched
        self._desc = desc
        self._spec = spec
        self._configs: Optional[List[Dict[str, Any]]] = None
        self._program_np = encode(self._members, desc.split("(")[0])
        self._program = mx.array(self._program_np)

    # -- structure ------------------------------------------------------------
    @property
    def batched(self) -> bool:
        """True for a batch (``len``, indexing, a leading output axis)."""
        return self._batched

    @property
    def program(self) -> mx.array:
        """The int32 program (G, R, 16) the primitive reads (see program.h)."""
        return self._program

    @property
    def segments(self) -> Tuple[Any, ...]:
        """The flattened segments of each member (a ``Product`` of segment
        tuples for a member made by ``mlx_sched.multiply``)."""
        return self._members

    def __len__(self) -> int:
        if not self._batched:
            raise TypeError("len() of an unbatched schedule; build a batch with mlx_sched.stack.")
        return len(self._members)

    def __getitem__(self, index: Union[int, slice]) -> "Schedule":
        if not self._batched:
            raise TypeError("an unbatched schedule cannot be indexed.")
        if isinstance(index, slice):
            members = self._members[index]
            if not members:
                raise IndexError("a batch needs at least one schedule; this slice is empty.")
            spec = {"kind": "slice", "of": self._spec, "start": index.start, "stop": index.stop, "step": index.step}
            return Schedule(members, True, f"{self._desc}[{index.start}:{index.stop}:{index.step}]", spec)
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(f"batch indices must be integers or slices, not {type(index).__name__}.")
        G = len(self._members)
        if not -G <= index < G:
            raise IndexError(f"index {index} is out of range for a batch of {G} schedules.")
        spec = {"kind": "index", "of": self._spec, "index": int(index)}
        return Schedule([self._members[index]], False, f"{self._desc}[{int(index)}]", spec)

    def __iter__(self) -> Iterator["Schedule"]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        return f"mlx_sched.{self._desc}"

    @property
    def configs(self) -> Optional[List[Dict[str, Any]]]:
        """For a batch built by ``mlx_sched.grid``: each member's hyperparameters."""
        return self._configs

    def to_dict(self) -> Dict[str, Any]:
        """The factory calls that build this schedule, as plain JSON types;
        ``mlx_sched.from_dict`` rebuilds it exactly (the same program, bit for bit)."""
        return cast(Dict[str, Any], _json_copy(self._spec))

    # -- pictures -------------------------------------------------------------
    def plot(self, num_steps: int, ax: Any = None, *, start: int = 0, **kw: Any) -> Any:
        """Draw the values at steps ``start .. start + num_steps - 1`` with matplotlib
        (the optional extra ``mlx-sched[plot]``): one line per member of a batch,
        with a legend (a grid's configs, or each member's factory call).
        ``kw`` goes to ``ax.plot``. Returns the axes.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("Schedule.plot needs matplotlib: pip install 'mlx-sched[plot]'") from None
        n = _int_arg("num_steps", num_steps)
        if n < 1:
            raise ValueError(f"num_steps must be at least 1, but got {n}.")
        vals = np.array(self.values(n, start))
        steps = np.arange(start, start + n)
        if ax is None:
            _, ax = plt.subplots()
        if self._batched:
            configs = self.configs
            for g, row in enumerate(vals):
                label = ", ".join(f"{k}={v}" for k, v in configs[g].items()) if configs else f"{self._desc}[{g}]"
                ax.plot(steps, row, label=label, **kw)
            ax.legend(fontsize="small")
        else:
            ax.plot(steps, vals, **kw)
        ax.set_xlabel("step")
        ax.set_ylabel("value")
        return ax

    # -- evaluation -----------------------------------------------------------
    def __call__(self, step: Any, *, stream: Any = None) -> mx.array:
        """Values at ``step``: float32, shape ``step.shape`` (``(G, *step.shape)`` for a batch)."""
        return _ext.schedule_eval(self._program, _as_step(step), self._batched, stream=stream)

    def values(self, n: int, start: int = 0, *, stream: Any = None) -> mx.array:
        """Values at steps ``start, ..., start + n - 1``, computed without a step array."""
        n = _int_arg("n", n)
        start = _int_arg("start", start)
        if not 0 <= n < 2**31:
            raise ValueError(f"n must be in [0, 2**31), but got {n}.")
        if not (I64_MIN <= start and start + n - 1 <= I64_MAX):
            raise ValueError(f"start must keep start + n - 1 within int64, but got {start}.")
        start_arr = mx.array(start, mx.int64)
        return _ext.schedule_values(self._program, start_arr, n, self._batched, stream=stream)


def _json_copy(obj: Any) -> Any:
    """A deep copy of nested dicts and lists (a spec), without recursion: specs
    nest as deep as the factories do (thousands of joins)."""
    if not isinstance(obj, (dict, list)):
        return obj
    root: Any = {} if isinstance(obj, dict) else []
    stack = [(obj, root)]
    while stack:
        src, dst = stack.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for k, v in items:
            if isinstance(v, (dict, list)):
                c: Any = {} if isinstance(v, dict) else []
                stack.append((v, c))
                v = c
            if isinstance(dst, dict):
                dst[k] = v
            else:
                dst.append(v)
    return root


def _int_arg(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, but got {type(v).__name__}.")
    return int(v)


_BAD_STEP_DTYPES = (mx.bool_, mx.complex64)


def _as_step(step: Any) -> mx.array:
    if type(step) is mx.array and step.dtype not in _BAD_STEP_DTYPES:  # the optimizer's case
        return step
    if isinstance(step, mx.array):
        dt = step.dtype
    elif isinstance(step, bool) or isinstance(step, np.bool_):
        raise TypeError("step must be an integer or a float, but got bool.")
    elif isinstance(step, numbers.Integral):
        step = int(step)
        if I64_MIN <= step <= I64_MAX:
            return mx.array(step, mx.int64)
        if 0 <= step < 2**64:
            return mx.array(np.array(step, np.uint64))
        raise ValueError(f"step must fit in 64 bits, but got {step}.")
    elif isinstance(step, numbers.Real):
        return mx.array(float(step), mx.float32)
    else:
        try:
            step = mx.array(step)
        except Exception as e:  # noqa: BLE001 - re-raised with the argument's name
            raise TypeError(f"step must be an int, a float or an array of them, but got {type(step).__name__}.") from e
        dt = step.dtype
    if dt == mx.bool_ or dt == mx.complex64:
        raise TypeError(f"step must have an integer or floating point dtype, but got {dt}.")
    return cast(mx.array, step)


# ---------------------------------------------------------------- arguments


def _as_list(name: str, value: Any) -> Optional[List[Any]]:
    """The elements of a 1-D sequence/array argument, or None for a scalar."""
    if isinstance(value, (mx.array, np.ndarray)):
        if value.ndim == 0:
            return None
        if value.ndim != 1:
            raise ValueError(f"{name} must be a scalar or 1-D, but got an array of shape {tuple(value.shape)}.")
        return list(cast(List[Any], value.tolist()))
    if isinstance(value, (list, tuple)):
        if len(value) == 0:
            raise ValueError(f"{name} must not be an empty sequence.")
        if any(isinstance(v, (list, tuple)) or getattr(v, "ndim", 0) > 0 for v in value):
            raise ValueError(f"{name} must be a scalar or 1-D, but got a nested sequence.")
        return list(value)
    return None


def _scalar(name: str, v: Any) -> Any:
    if isinstance(v, (mx.array, np.ndarray)) and v.ndim == 0:
        v = v.item()
    if isinstance(v, np.generic):
        v = v.item()
    return v


def _check_real(name: str, v: Any) -> float:
    """A finite real number within float32's range (the program stores float32)."""
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a real number (or a 1-D sequence of them), but got {type(v).__name__}.")
    try:
        f = float(v)
    except OverflowError:  # an int beyond float64
        f = math.inf if v > 0 else -math.inf  # type: ignore[operator]
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite, but got {_short(v)}.")
    if abs(f) > F32_MAX:
        raise ValueError(f"{name} must be within float32's range (|{name}| <= {F32_MAX:.4g}), but got {_short(v)}.")
    return f


def _short(v: Any) -> str:
    """A value for an error message (huge integers abbreviated)."""
    if isinstance(v, numbers.Integral) and abs(int(v)) >= 10**30:
        return f"an integer of {len(str(abs(int(v))))} digits"
    return str(v)


def _check_int_type(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be an integer (or a 1-D sequence of them), but got {type(v).__name__}.")


def _as_int(name: str, v: Any) -> int:
    if isinstance(v, float) and not v.is_integer():
        raise ValueError(f"{name} must be an integer, but got {v}.")
    return int(v)


def _check_steps_at_least(name: str, v: Any, least: int, message: str) -> int:
    """An integer number of steps >= least (else ``message``), then integrality and size."""
    _check_int_type(name, v)
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{name} must be finite, but got {v}.")
    if v < least:
        raise ValueError(message)
    v = _as_int(name, v)
    if v >= _STEP_LIMIT:
        raise ValueError(f"{name} must be less than 2**62, but got {_short(v)}.")
    return int(v)


def _check_count(name: str, v: Any, what: str = "") -> int:
    """A step count: mlx's own check first (same message), then integrality."""
    where = f" for a {what} schedule" if what else ""
    return _check_steps_at_least(name, v, 1, f"{name} must be greater than 0{where}, but got {v}.")


def _check_boundary(name: str, v: Any) -> int:
    _check_int_type(name, v)
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"{name} must be finite, but got {v}.")
    v = _as_int(name, v)
    if not -_STEP_LIMIT < v < _STEP_LIMIT:
        raise ValueError(f"{name} must be within (-2**62, 2**62), but got {_short(v)}.")
    return int(v)


def _broadcast(args: Sequence[Tuple[str, Any, Callable[[str, Any], Any]]]) -> Tuple[Optional[int], List[List[Any]]]:
    """Validate each (name, value, check) and broadcast to a batch size.

    Returns (G or None, per-argument lists of G values, or 1 for scalars).
    """
    G: Optional[int] = None
    G_name = ""
    out = []
    for name, value, check in args:
        seq = _as_list(name, value)
        if seq is None:
            out.append([check(name, _scalar(name, value))])
            continue
        vals = [check(name, _scalar(name, v)) for v in seq]
        if G is not None and len(vals) != G:
            raise ValueError(
                f"batch sizes differ: {G_name} has {G} values but {name} has {len(vals)}."
            )
        G, G_name = len(vals), name
        out.append(vals)
    n = G or 1
    return G, [v * n if len(v) == 1 else v for v in out]


def _fmt(v: Any) -> str:
    return repr(v.tolist() if isinstance(v, (mx.array, np.ndarray)) else v)


def _plain(v: Any) -> Any:
    """A hyperparameter as plain JSON types (lists for sequences and arrays)."""
    if isinstance(v, (mx.array, np.ndarray, np.generic)):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _factory(name: str, args: Sequence[Tuple[str, Any, Callable[[str, Any], Any]]], make: Callable[..., Segment]) -> Schedule:
    G, cols = _broadcast(args)
    members = [[make(*row)] for row in zip(*cols)]
    desc = f"{name}(" + ", ".join(_fmt(v) for _, v, _ in args) + ")"
    spec = {"kind": name, "args": {n: _plain(v) for n, v, _ in args}}
    return Schedule(members, G is not None, desc, spec)


# ---------------------------------------------------------------- factories


def exponential_decay(
    init: ScalarOrSeq,
    decay_rate: ScalarOrSeq,
    *,
    transition_steps: ScalarOrSeq = 1,
    staircase: bool = False,
    begin: ScalarOrSeq = 0,
    end: Optional[ScalarOrSeq] = None,
) -> Schedule:
    r"""Make an exponential decay scheduler.

    .. math:: \lambda(s) = \text{init} \cdot \text{decay\_rate}^{s}

    With only ``init`` and ``decay_rate``: :func:`mlx.optimizers.exponential_decay`
    (same arguments and behaviour), computed more precisely: ``log(decay_rate)``
    is taken in float64 on the host and the power is evaluated in extended
    precision, so the value stays accurate at any step (MLX rounds
    ``decay_rate`` to float32 first, which drifts: -12% at step 1e7 for a rate
    of 0.999999). A negative rate gives alternating signs at integer steps and
    NaN between them; a zero rate gives ``init`` at step 0 and 0 after.

    With any keyword away from its default: optax's ``exponential_decay``,

    .. math:: \lambda(s) = \operatorname{clip}\left(\text{init} \cdot
              \text{decay\_rate}^{\max(s - \text{begin}, 0) / \text{transition\_steps}}, \text{end}\right)

    with the exponent floored when ``staircase``; ``end`` is a floor for
    ``decay_rate < 1`` and a ceiling otherwise (``None``: no clip). Here
    ``decay_rate > 0`` (optax silently turns 0 into a constant),
    ``transition_steps >= 1``, ``begin >= 0`` (both errors, where optax falls
    back silently).

    Args:
        init (float or 1-D sequence): Initial value.
        decay_rate (float or 1-D sequence): Multiplicative factor to decay by.
        transition_steps (int or 1-D sequence): Steps per factor of ``decay_rate``.
        staircase (bool): Decay in whole factors every ``transition_steps`` steps.
        begin (int or 1-D sequence): Hold ``init`` for this many steps.
        end (float or 1-D sequence, optional): Value where the decay stops.

    Example:
        >>> lr = mlx_sched.exponential_decay(1e-1, 0.9)
        >>> lr(5)
        array(0.059049, dtype=float32)
        >>> mlx_sched.exponential_decay(1.0, 0.5, transition_steps=10, staircase=True, end=0.2)(35)
        array(0.2, dtype=float32)
    """
    if _is_scalar(transition_steps, 1) and staircase is False and _is_scalar(begin, 0) and end is None:
        return _factory(
            "exponential_decay",
            [("init", init, _check_real), ("decay_rate", decay_rate, _check_real)],
            lambda i, r: exponential_segment(i, r),
        )
    from ._families import _check_bool, _check_rate, _check_steps0, _family, _OrNone

    staircase = _check_bool("staircase", staircase)
    return _family(
        "exponential_decay",
        [("init", init, _check_real), ("decay_rate", decay_rate, _check_rate),
         ("transition_steps", transition_steps, _check_count), ("staircase", staircase, None),
         ("begin", begin, _check_steps0), ("end", end, _OrNone(_check_real))],
        lambda i, r, n, b, e: optax_exponential(i, r, n, staircase, b, e),
    )


def _is_scalar(v: Any, d: int) -> bool:
    """v is the number d (not a sequence or an array of several values)."""
    v = _scalar("", v)
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and v == d


def step_decay(init: ScalarOrSeq, decay_rate: ScalarOrSeq, step_size: ScalarOrSeq) -> Schedule:
    r"""Make a step decay scheduler.

    .. math:: \lambda(s) = \text{init} \cdot \text{decay\_rate}^{\lfloor s / \text{step\_size} \rfloor}

    The floor division is done on integers (exact at any step; negative steps
    floor towards -inf, as MLX's ``//``).

    Args:
        init (float or 1-D sequence): Initial value.
        decay_rate (float or 1-D sequence): Multiplicative factor to decay by.
        step_size (int or 1-D sequence): Decay every ``step_size`` steps (>= 1).

    Example:
        >>> lr = mlx_sched.step_decay(1e-1, 0.9, 10)
        >>> lr(21)
        array(0.081, dtype=float32)
    """
    return _factory(
        "step_decay",
        [("init", init, _check_real), ("decay_rate", decay_rate, _check_real), ("step_size", step_size, _check_count)],
        lambda i, r, n: exponential_segment(i, r, n, staircase=True),
    )


def cosine_decay(init: ScalarOrSeq, decay_steps: ScalarOrSeq, end: ScalarOrSeq = 0.0, *, exponent: ScalarOrSeq = 1.0) -> Schedule:
    r"""Make a cosine decay scheduler.

    .. math:: \lambda(s) = \text{end} + (\text{init} - \text{end})
              \left[\tfrac12\left(1 + \cos\frac{\pi \min(s, \text{decay\_steps})}{\text{decay\_steps}}\right)\right]^{\text{exponent}}

    Constant (``end``) for steps beyond ``decay_steps``. Negative steps follow
    the same formula (a cosine, as in MLX). The angle is reduced on integers,
    so values near ``init`` and ``end`` keep full relative precision. With
    ``exponent`` (keyword, ``> 0``): optax's ``cosine_decay_schedule``
    (``end = alpha * init``); without it, ``mlx.optimizers.cosine_decay``.

    Args:
        init (float or 1-D sequence): Initial value.
        decay_steps (int or 1-D sequence): Number of steps to decay over (>= 1).
        end (float or 1-D sequence, optional): Final value. Default: ``0``.
        exponent (float or 1-D sequence, optional): Power of the cosine factor. Default: ``1``.

    Example:
        >>> lr = mlx_sched.cosine_decay(1e-1, 1000)
        >>> lr(5)
        array(0.0999938, dtype=float32)
        >>> mlx_sched.cosine_decay(0.1, 100, exponent=2)(50)
        array(0.025, dtype=float32)
    """
    if _is_scalar(exponent, 1):
        return _factory(
            "cosine_decay",
            [("init", init, _check_real), ("decay_steps", decay_steps, _check_count), ("end", end, _check_real)],
            lambda i, n, e: cosine_segment(i, e, n),
        )
    from ._families import _check_positive, _family

    return _family(
        "cosine_decay",
        [("init", init, _check_real), ("decay_steps", decay_steps, _check_count), ("end", end, _check_real),
         ("exponent", exponent, _check_positive)],
        lambda i, n, e, x: [cosine_segment(i, e, n, x)],
    )


def linear_schedule(init: ScalarOrSeq, end: ScalarOrSeq, steps: ScalarOrSeq) -> Schedule:
    r"""Make a linear scheduler.

    .. math:: \lambda(s) = \text{init} + \min(s, \text{steps}) \cdot \frac{\text{end} - \text{init}}{\text{steps}}

    ``end`` for steps beyond ``steps``; negative steps extrapolate (as MLX).

    Args:
        init (float or 1-D sequence): Initial value.
        end (float or 1-D sequence): Final value.
        steps (int or 1-D sequence): Number of steps to apply the schedule over (>= 1).

    Example:
        >>> lr = mlx_sched.linear_schedule(0, 1e-1, 100)
        >>> lr(50)
        array(0.05, dtype=float32)
    """
    return _factory(
        "linear_schedule",
        [("init", init, _check_real), ("end", end, _check_real), ("steps", steps, _check_count)],
        lambda i, e, n: linear_segment(i, e, n),
    )


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[Any]) -> Schedule:
    r"""Join multiple schedules to create a new schedule.

    Schedule :math:`i+1` receives the number of steps since boundary
    :math:`i`; at a step, the last schedule whose boundary it has reached is
    used (exactly ``mlx.optimizers.join_schedules``'s nested ``where``, also
    for unsorted boundaries). Pieces may be any mlx-sched schedules, joins and
    batches included: batched pieces must have equal sizes, unbatched pieces
    broadcast; each boundary may be an int or a 1-D sequence (one per member).

    Args:
        schedules (list(Schedule)): A list of schedules.
        boundaries (list(int)): ``len(schedules) - 1`` integers: when to
            transition between schedules.

    Example:
        >>> warmup = mlx_sched.linear_schedule(0, 1e-1, steps=10)
        >>> cosine = mlx_sched.cosine_decay(1e-1, 200)
        >>> lr = mlx_sched.join_schedules([warmup, cosine], [10])
        >>> lr(12)
        array(0.0999753, dtype=float32)
    """
    if not isinstance(schedules, (list, tuple)):
        raise TypeError(f"schedules must be a list of mlx_sched schedules, but got {type(schedules).__name__}.")
    if not isinstance(boundaries, (list, tuple)):
        raise TypeError(f"boundaries must be a list of integers, but got {type(boundaries).__name__}.")
    if len(schedules) == 0:
        raise ValueError("Must provide at least 1 schedule to join.")
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(f"Received {len(boundaries)} boundaries but expected {len(schedules) - 1}.")
    for i, s in enumerate(schedules):
        if not isinstance(s, Schedule):
            raise TypeError(
                f"schedules[{i}] must be an mlx_sched schedule, but got {type(s).__name__}: "
                "a Python callable cannot be compiled into a schedule program."
            )
    G: Optional[int] = None
    for i, s in enumerate(schedules):
        if s.batched:
            if G is not None and len(s) != G:
                raise ValueError(f"batch sizes differ: schedules have {G} and {len(s)} members.")
            G = len(s)
    bG, (cols_b) = _broadcast([(f"boundaries[{i}]", b, _check_boundary) for i, b in enumerate(boundaries)]) if boundaries else (None, [])
    if bG is not None:
        if G is not None and bG != G:
            raise ValueError(f"batch sizes differ: schedules have {G} members but boundaries have {bG}.")
        G = bG
    n = G or 1
    members = []
    for g in range(n):
        pieces = [factors(s._members[g if s.batched else 0]) for s in schedules]
        # A join of products is the product of the joins of their factors, a
        # piece with fewer factors padded with 1: at any step one piece is active
        # in every factor alike (each factor starts with an always-on segment).
        F = max(len(p) for p in pieces)
        fs: List[List[Segment]] = []
        for k in range(F):
            segs: List[Segment] = []
            for i, p in enumerate(pieces):
                piece = p[k] if k < len(p) else (constant_segment(1.0),)
                if i == 0:
                    segs.extend(piece)
                else:
                    b = cols_b[i - 1][g if len(cols_b[i - 1]) > 1 else 0]
                    segs.extend(seg.shifted(b) for seg in piece)
            fs.append(segs)
        members.append(from_factors(fs))
    desc = "join_schedules([" + ", ".join(s._desc for s in schedules) + "], " + _fmt(list(boundaries)) + ")"
    spec = {"kind": "join_schedules", "schedules": [s._spec for s in schedules], "boundaries": _plain(list(boundaries))}
    return Schedule(members, G is not None, desc, spec)


def stack(schedules: Sequence[Schedule]) -> Schedule:
    """Batch schedules of any kinds (batches are concatenated) into one batch.

    Example:
        >>> mixed = mlx_sched.stack([mlx_sched.cosine_decay(1.0, 100),
        ...                          mlx_sched.step_decay(0.1, 0.5, 30)])
        >>> mixed.values(4).shape
        (2, 4)
    """
    schedules = list(schedules)
    if not schedules:
        raise ValueError("stack needs at least one schedule.")
    members: List[Tuple[Segment, ...]] = []
    for i, s in enumerate(schedules):
        if not isinstance(s, Schedule):
            raise TypeError(f"schedules[{i}] must be an mlx_sched schedule, but got {type(s).__name__}.")
        members.extend(s._members)
    spec = {"kind": "stack", "schedules": [s._spec for s in schedules]}
    return Schedule(members, True, "stack([" + ", ".join(s._desc for s in schedules) + "])", spec)


def multiply(*schedules: Schedule) -> Schedule:
    r"""The product of schedules, evaluated in the same single primitive.

    .. math:: \lambda(s) = \lambda_1(s) \cdot \lambda_2(s) \cdots

    torch's ``ChainedScheduler`` of multiplicative schedulers (each factor
    relative to the base learning rate): e.g. a warmup factor times a decay,
    ``multiply(linear_schedule(0.1, 1.0, 100), step_decay(1e-3, 0.5, 1000))``.
    Each factor is evaluated in float32 as on its own and the values are
    multiplied in order, on every backend alike. Factors may be any mlx-sched
    schedules (joins, products, batches: batched factors must have equal
    sizes, unbatched ones broadcast); a product is a valid ``join_schedules``
    piece, ``stack`` member and optimizer learning rate. At most 8 factors in all.

    Example:
        >>> lr = mlx_sched.multiply(mlx_sched.step_decay(0.05, 0.1, 3), mlx_sched.multistep_decay(1.0, [2, 5, 9]))
        >>> lr(3)
        array(0.0005, dtype=float32)
    """
    if len(schedules) == 1 and isinstance(schedules[0], (list, tuple)):
        schedules = tuple(schedules[0])
    if len(schedules) < 1:
        raise ValueError("multiply needs at least one schedule.")
    G: Optional[int] = None
    for i, s in enumerate(schedules):
        if not isinstance(s, Schedule):
            raise TypeError(
                f"schedules[{i}] must be an mlx_sched schedule, but got {type(s).__name__}: "
                "a Python callable cannot be compiled into a schedule program."
            )
        if s.batched:
            if G is not None and len(s) != G:
                raise ValueError(f"batch sizes differ: schedules have {G} and {len(s)} members.")
            G = len(s)
    members = []
    for g in range(G or 1):
        fs: List[Tuple[Segment, ...]] = []
        for s in schedules:
            fs.extend(factors(s._members[g if s.batched else 0]))
        members.append(from_factors(fs))
    desc = "multiply(" + ", ".join(s._desc for s in schedules) + ")"
    spec = {"kind": "multiply", "schedules": [s._spec for s in schedules]}
    return Schedule(members, G is not None, desc, spec)


def evaluate(program: mx.array, step: Any, batched: bool = True, *, stream: Any = None) -> mx.array:
    """Evaluate a raw program (``Schedule.program``) at ``step``.

    Useful where the program itself is an input, e.g. of an ``mx.compile``d
    function: new hyperparameters (same shapes) then need no retrace.
    """
    return _ext.schedule_eval(program, _as_step(step), batched, stream=stream)


def _factories() -> Dict[str, Callable[..., "Schedule"]]:
    """Every schedule factory by name (the five of mlx.optimizers and the families)."""
    from ._families import FAMILIES

    five = {f.__name__: f for f in (cosine_decay, exponential_decay, linear_schedule, step_decay)}
    return {**five, **FAMILIES}


def _arg_names(factory: Callable[..., Any]) -> Tuple[str, ...]:
    import inspect

    return tuple(inspect.signature(factory).parameters)


_CONTAINERS = {"join_schedules": {"kind", "schedules", "boundaries"}, "stack": {"kind", "schedules"},
               "multiply": {"kind", "schedules"}, "index": {"kind", "of", "index"},
               "slice": {"kind", "of", "start", "stop", "step"}}


def _spec_children(d: Any, factories: Dict[str, Callable[..., Schedule]]) -> List[Any]:
    """Check one spec node's fields; return the specs it is built from."""
    if not isinstance(d, dict):
        raise ValueError(f"a schedule spec must be a dict, but got {type(d).__name__}.")
    kind = d.get("kind")
    known = dict(_CONTAINERS)
    if isinstance(kind, str) and kind in factories:
        known[kind] = {"kind", "args"}
    if not isinstance(kind, str) or kind not in known:
        raise ValueError(f"unknown schedule kind {kind!r} in field 'kind'.")
    extra = set(d) - known[kind]
    if extra:
        raise ValueError(f"unknown field {sorted(extra)[0]!r} in a {kind!r} spec.")
    for name in sorted(known[kind]):
        if name not in d:
            raise ValueError(f"schedule spec of kind {kind!r} has no field {name!r}.")
    if kind in ("join_schedules", "stack", "multiply"):
        if not isinstance(d["schedules"], list):
            raise ValueError("field 'schedules' must be a list of schedule specs.")
        return list(d["schedules"])
    if kind in ("index", "slice"):
        return [d["of"]]
    return []


def _spec_build(d: Dict[str, Any], built: List[Schedule], factories: Dict[str, Callable[..., Schedule]]) -> Schedule:
    kind = d["kind"]
    if kind == "join_schedules":
        return join_schedules(built, d["boundaries"])
    if kind == "stack":
        return stack(built)
    if kind == "multiply":
        return multiply(*built)
    if kind == "index":
        return built[0][d["index"]]
    if kind == "slice":
        return built[0][slice(d["start"], d["stop"], d["step"])]
    args = d["args"]
    names = _arg_names(factories[kind])
    if not isinstance(args, dict) or set(args) - set(names):
        raise ValueError(f"field 'args' of {kind!r} takes {', '.join(names)}, but got {args!r}.")
    return factories[kind](**args)


def from_dict(d: Dict[str, Any]) -> Schedule:
    """Rebuild a schedule from ``Schedule.to_dict()`` (bit for bit the same program).

    Specs of any depth (no recursion: thousands of nested joins work).

    Raises:
        ValueError: for an unknown kind or a missing, unknown or malformed field (named).
    """
    factories = _factories()
    built: Dict[int, Schedule] = {}
    pending = set()
    todo: List[Tuple[Any, bool]] = [(d, False)]
    while todo:
        node, ready = todo.pop()
        if id(node) in built:
            continue
        children = _spec_children(node, factories)
        if not ready:
            if id(node) in pending:
                raise ValueError("a schedule spec must not contain itself.")
            pending.add(id(node))
            todo.append((node, True))
            todo.extend((c, False) for c in reversed(children))
            continue
        built[id(node)] = _spec_build(node, [built[id(c)] for c in children], factories)
        pending.discard(id(node))
    return built[id(d)]


def grid(factory: Callable[..., Schedule], **lists: Sequence[Any]) -> Schedule:
    """The batch of ``factory`` over the Cartesian product of hyperparameter lists.

    Keyword arguments given as lists vary (the last one fastest), others are
    fixed; ``batch.configs`` lists each member's hyperparameters.

    Example:
        >>> b = mlx_sched.grid(mlx_sched.cosine_decay, init=[1e-3, 3e-3], decay_steps=[100, 200, 400])
        >>> len(b), b.configs[1]
        (6, {'init': 0.001, 'decay_steps': 200})
    """
    import itertools

    if not callable(factory) or factory not in _factories().values():
        raise TypeError("factory must be an mlx_sched schedule factory, e.g. mlx_sched.cosine_decay.")
    varying = {k: list(v) for k, v in lists.items() if isinstance(v, (list, tuple))}
    fixed = {k: v for k, v in lists.items() if k not in varying}
    for k, v in varying.items():
        if not v:
            raise ValueError(f"{k} must not be an empty list.")
    configs = [dict(fixed, **dict(zip(varying, combo))) for combo in itertools.product(*varying.values())]
    batch = stack([factory(**c) for c in configs])
    batch._configs = configs
    return batch


# mlx-lm's lora.py reads its YAML configs with this float resolver added to
# yaml.SafeLoader (so "1e-5", which YAML 1.1 leaves a string, is a float):
_YAML_FLOAT = re.compile(
    r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _yaml_number(v: Any) -> Any:
    """A string that mlx-lm's YAML loader reads as a float, as that float
    (PyYAML's construct_yaml_float); anything else unchanged. Lists and dicts
    are converted throughout, as the loader does."""
    if isinstance(v, list):
        return [_yaml_number(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_yaml_number(x) for x in v)
    if isinstance(v, dict):
        return {_yaml_number(k): _yaml_number(x) for k, x in v.items()}
    if not isinstance(v, str) or not _YAML_FLOAT.match(v):
        return v
    t = v.replace("_", "").lower()
    sign = -1.0 if t[0] == "-" else 1.0
    t = t.lstrip("+-")
    if t == ".inf":
        return sign * math.inf
    if t == ".nan":
        return math.nan
    if ":" in t:  # sexagesimal, YAML 1.1
        out, base = 0.0, 1.0
        for part in reversed(t.split(":")):
            out += float(part) * base
            base *= 60
        return sign * out
    return sign * float(t)


def from_config(cfg: Dict[str, Any]) -> Schedule:
    """The schedule mlx-lm's ``build_schedule`` builds from a training config's
    ``lr_schedule`` dict, value for value.

    ``{"name": ..., "arguments": [...], "warmup": W, "warmup_init": w0}``:
    ``name`` is a factory called with the positional ``arguments`` (mlx-lm
    looks in ``mlx.optimizers``; any mlx-sched factory works here). With
    ``warmup`` W > 0 the result is mlx-lm's
    ``join_schedules([linear_schedule(w0, v0, W), schedule], [W + 1])``:
    the warmup reaches v0 at step W, holds it at step W, and the schedule
    starts at step W + 1 (at its own step 0). v0 is the schedule's own value
    at its step 0: ``arguments[0]`` for the ``mlx.optimizers`` factories, as
    in mlx-lm (for a family such as ``onecycle``, whose first argument is not
    a learning rate, its value at step 0).

    Strings that mlx-lm's YAML loader reads as floats (``"1e-5"``: what
    ``yaml.safe_load`` gives for ``1e-5``) are taken as those numbers.

    Example:
        >>> lr = mlx_sched.from_config({"name": "cosine_decay", "arguments": ["1e-5", 1000, 1e-7], "warmup": 100})
        >>> lr(100), lr(101)
        (array(1e-05, dtype=float32), array(1e-05, dtype=float32))
    """
    if not isinstance(cfg, dict):
        raise TypeError(f"an lr_schedule config must be a dict, but got {type(cfg).__name__}.")
    extra = set(cfg) - {"name", "arguments", "warmup", "warmup_init"}
    if extra:
        raise ValueError(f"unknown field {sorted(extra)[0]!r} in an lr_schedule config (mlx-lm reads name, arguments, warmup, warmup_init).")
    for field in ("name", "arguments"):
        if field not in cfg:
            raise ValueError(f"an lr_schedule config needs the field {field!r}.")
    factories = _factories()
    name = cfg["name"]
    if not isinstance(name, str) or name not in factories:
        raise ValueError(f"unknown schedule {name!r} in field 'name'; use one of: {', '.join(sorted(factories))}.")
    args = _yaml_number(cfg["arguments"])
    if not isinstance(args, (list, tuple)) or not args:
        raise ValueError(f"field 'arguments' must be a non-empty list, but got {args!r}.")
    schedule = factories[name](*args)
    warmup = _yaml_number(cfg.get("warmup", 0))
    if warmup is None or warmup is False or (not isinstance(warmup, str) and _is_scalar(warmup, 0)):
        return schedule  # mlx-lm: no warmup for a falsy value
    warmup = _check_count("warmup", warmup)
    warmup_init = _check_real("warmup_init", _yaml_number(cfg.get("warmup_init", 0.0)))
    if name in ("cosine_decay", "exponential_decay", "linear_schedule", "step_decay"):
        peak: Any = args[0]  # mlx-lm's initial_lr, as given (a batch: a sequence)
    else:
        v0 = np.array(schedule(0)).astype(np.float64)
        peak = v0.tolist() if schedule.batched else float(v0)
    return join_schedules([linear_schedule(warmup_init, peak, warmup), schedule], [warmup + 1])
