"""The Schedule object, the one builder every factory calls, and the registry
of factories by name.

* ``Schedule``: segments per member, encoded once into the int32 program
  (``_program.encode``) that the ``ScheduleEval`` primitive reads.
* ``build(name, args, make)``: validate and broadcast the arguments
  (``_validate``), call ``make`` once per member, record ``repr`` and the spec.
* ``@factory``: a schedule kind that ``from_dict``, ``from_config``, ``grid``,
  ``get_schedule`` and string specs find by its name (``FACTORIES``);
  ``@combinator``: a function of schedules or of names that string specs
  accept too (``COMBINATORS``). Together they are ``mlx_sched.__all__`` less
  ``Schedule``, ``evaluate``, ``from_dict`` and ``from_config``
  (tests/test_package.py checks it).
"""

from __future__ import annotations

import inspect
import numbers
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple, TypeVar, Union, cast

import mlx.core as mx
import numpy as np

from . import _ext
from ._program import I64_MAX, I64_MIN, Product, Segment, encode
from ._validate import Arg, Check, _OrNone, _broadcast, _fmt, _int_arg, _none, _plain

F = TypeVar("F", bound=Callable[..., Any])

FACTORIES: Dict[str, Callable[..., "Schedule"]] = {}
COMBINATORS: Dict[str, Callable[..., "Schedule"]] = {}


def factory(fn: F) -> F:
    """Register a schedule kind under its function's name."""
    FACTORIES[fn.__name__] = fn
    return fn


def combinator(fn: F) -> F:
    """Register a function that builds schedules from schedules (or names)."""
    COMBINATORS[fn.__name__] = fn
    return fn


def build(name: str, args: Sequence[Arg], make: Callable[..., List[Segment]], *, keywords: bool = True) -> "Schedule":
    """Validate, broadcast the scalar arguments, build each member's segments.

    ``args``: (name, value, check). Checked values broadcast to a batch (an
    ``_OrNone`` check lets a whole None through); check None: a fixed argument,
    not passed to ``make``. ``keywords``: ``repr`` writes ``name=value``
    (False: positional values, as the ``mlx.optimizers`` factories' reprs).
    """
    varying: List[Tuple[str, Any, Check]] = []
    for n, v, c in args:
        if isinstance(c, _OrNone):
            varying.append((n, v, _none if v is None else c.check))
        elif c is not None:
            varying.append((n, v, c))
    G, cols = _broadcast(varying)
    members = [make(*row) for row in zip(*cols)]
    if keywords:
        desc = f"{name}(" + ", ".join(f"{n}={_fmt(v)}" for n, v, _ in args) + ")"
    else:
        desc = f"{name}(" + ", ".join(_fmt(v) for _, v, _ in args) + ")"
    spec = {"kind": name, "args": {n: _plain(v) for n, v, _ in args}}
    return Schedule(members, G is not None, desc, spec)


class Schedule:
    """A compiled learning-rate schedule, or a batch of ``G`` of them.

    Call it with a step (Python int or float, or an ``mx.array`` of any
    integer or floating dtype and any shape) to get float32 values of the
    step's shape (``(G, *step.shape)`` for a batch). ``values(n, start)``
    gives ``n`` consecutive steps without a step array. Either way the graph
    holds one ``ScheduleEval`` primitive.

    Not constructed directly: every factory, combinator, ``grid``,
    ``from_dict`` and ``from_config`` returns one; ``to_dict`` and
    ``from_dict`` round-trip it.
    """

    def __init__(self, members: Sequence[Sequence[Segment]], batched: bool,
                 desc: Union[str, Tuple["Schedule", str]], spec: Dict[str, Any]):
        self._members = tuple(m if isinstance(m, Product) else tuple(m) for m in members)
        self._batched = batched
        # the factory call (repr), or (batch, "[m]") for a member or slice of a
        # batch: made when asked for, so that G members of a batch do not
        # each hold a copy of the batch's description (G^2 memory)
        self._desc_parts = desc
        self._name: str = desc[0]._name if isinstance(desc, tuple) else desc.split("(")[0]
        self._spec = spec
        self._configs: Optional[List[Dict[str, Any]]] = None
        self._program_np = encode(self._members, self._name)
        self._program = mx.array(self._program_np)

    @property
    def _desc(self) -> str:
        d = self._desc_parts
        return d if isinstance(d, str) else d[0]._desc + d[1]

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
        """The number of members ``G`` of a batch.

        Returns:
            int: ``G``.

        Raises:
            TypeError: The schedule is not a batch.
        """
        if not self._batched:
            raise TypeError("len() of an unbatched schedule; build a batch with mlx_sched.stack.")
        return len(self._members)

    def __getitem__(self, index: Union[int, slice]) -> "Schedule":
        """A member of a batch, or a sub-batch.

        Args:
            index (int or slice): A member (negative counts from the end,
                ``-G <= index < G``) or a slice selecting at least one member.

        Returns:
            Schedule: An unbatched schedule (an int) or a batch (a slice).

        Raises:
            TypeError: The schedule is not a batch, or the index is neither an
                int nor a slice.
            IndexError: An index out of range, or an empty slice.
        """
        if not self._batched:
            raise TypeError("an unbatched schedule cannot be indexed.")
        if isinstance(index, slice):
            members = self._members[index]
            if not members:
                raise IndexError("a batch needs at least one schedule; this slice is empty.")
            spec = {"kind": "slice", "of": self._spec, "start": index.start, "stop": index.stop, "step": index.step}
            return Schedule(members, True, (self, f"[{index.start}:{index.stop}:{index.step}]"), spec)
        if not isinstance(index, numbers.Integral) or isinstance(index, bool):
            raise TypeError(f"batch indices must be integers or slices, not {type(index).__name__}.")
        G = len(self._members)
        if not -G <= index < G:
            raise IndexError(f"index {index} is out of range for a batch of {G} schedules.")
        spec = {"kind": "index", "of": self._spec, "index": int(index)}
        return Schedule([self._members[index]], False, (self, f"[{int(index)}]"), spec)

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
        ``mlx_sched.from_dict`` rebuilds it exactly (the same program, bit for bit).

        Returns:
            dict: ``{"kind": ..., "args": {...}}`` (combinators, indices and
            slices nest the specs of their schedules); a fresh copy.
        """
        return cast(Dict[str, Any], _json_copy(self._spec))

    # -- pictures -------------------------------------------------------------
    def plot(self, num_steps: int, ax: Any = None, *, start: int = 0, **kw: Any) -> Any:
        """Draw the values at steps ``start .. start + num_steps - 1`` with matplotlib
        (the optional extra ``mlx-sched[plot]``): one line per member of a batch,
        with a legend (a grid's configs, or each member's factory call).
        ``kw`` goes to ``ax.plot``. Returns the axes.

        Args:
            num_steps (int): Number of steps to draw, ``>= 1``.
            ax (matplotlib.axes.Axes, optional): Axes to draw on. Default:
                ``None`` (a new figure).
            start (int, optional): First step (keyword only; any int64).
                Default: ``0``.
            **kw: Passed to ``ax.plot`` (e.g. ``linewidth``).

        Returns:
            matplotlib.axes.Axes: The axes drawn on.

        Raises:
            ImportError: matplotlib is not installed.
            ValueError: ``num_steps < 1``.
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
        """Values at ``step``: float32, shape ``step.shape`` (``(G, *step.shape)`` for a batch).

        Args:
            step (int, float or mx.array): The step(s): a Python number or an
                array of any integer or floating dtype and any shape (not
                bool or complex); integers must fit in 64 bits.
            stream (mx.Stream or mx.Device, optional): Where to evaluate
                (keyword only). Default: ``None`` (MLX's default stream).

        Returns:
            mx.array: float32 values, shape ``step.shape`` (``(G, *step.shape)``
            for a batch).

        Raises:
            TypeError: A bool, complex or non-numeric step.
            ValueError: An integer step that does not fit in 64 bits.
        """
        return _ext.schedule_eval(self._program, _as_step(step), self._batched, stream=stream)

    def values(self, n: int, start: int = 0, *, stream: Any = None) -> mx.array:
        """Values at steps ``start, ..., start + n - 1``, computed without a step array.

        Args:
            n (int): Number of steps, in ``[0, 2**31)``.
            start (int, optional): First step; ``start + n - 1`` must fit in
                int64. Default: ``0``.
            stream (mx.Stream or mx.Device, optional): Where to evaluate
                (keyword only). Default: ``None`` (MLX's default stream).

        Returns:
            mx.array: float32 values, shape ``(n,)`` (``(G, n)`` for a batch).

        Raises:
            TypeError: ``n`` or ``start`` not an integer.
            ValueError: ``n`` or ``start`` out of range.
        """
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


def _arg_names(factory: Callable[..., Any]) -> Tuple[str, ...]:
    return tuple(inspect.signature(factory).parameters)


def program_bytes(s: Schedule) -> bytes:
    """The bytes of a schedule's program: equal bytes, equal schedule (the
    fused optimizers share one program row between equal schedules)."""
    return s._program_np.tobytes()
