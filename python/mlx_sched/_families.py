"""Schedule families of optax, PyTorch and Hugging Face, compiled.

Each factory validates its arguments, then writes each member as segments of
the six general kinds of ``csrc/math/program.h`` (constant, linear, cosine
with exponent / restarts, exponential, power, triangle wave) joined at
integer boundaries: no family has code of its own in any backend.

Conventions shared by every family here (stated once, tested for each):

* Scalars may be 1-D sequences: the factory then builds a batch (as the five
  ``mlx.optimizers`` factories do). ``mlx_sched.grid`` sweeps any argument,
  dicts and strings included.
* Steps before 0 give the value at step 0 (the references raise, or differ:
  optax's piecewise schedules give 0 there). Fractional steps use the piece
  of their integer part.
* Step counts are integers; ``>= 1`` where a zero-length phase is meaningless,
  ``>= 0`` for warmups (0: no warmup).
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._program import (
    FLAGS,
    Segment,
    constant_segment,
    cosine_segment,
    from_zero,
    joined,
    linear_segment,
    optax_exponential,
    power_segment,
    triangle_segment,
)
from ._schedule import FACTORIES, Schedule, build, factory
from ._schedules import ScalarOrSeq
from ._validate import (
    _STEP_LIMIT,
    _OrNone,
    _check_bool,
    _check_boundary,
    _check_choice,
    _check_count,
    _check_int_type,
    _check_nonneg,
    _check_positive,
    _check_rate,
    _check_real,
    _check_steps0,
    _check_unit,
)

BoundariesAndScales = Union[Mapping[int, float], Sequence[Tuple[int, float]], None]

# ------------------------------------------------------------------ checks


def _pairs(name: str, d: BoundariesAndScales, *, nonneg_bounds: bool, message: str) -> List[Tuple[int, float]]:
    """A {boundary: scale} dict (or a list of pairs), validated, sorted by boundary."""
    if d is None:
        return []
    if isinstance(d, Mapping):
        items = list(d.items())
    elif isinstance(d, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in d):
        items = [tuple(p) for p in d]
    else:
        raise TypeError(f"{name} must be a dict {{boundary: scale}} or a list of (boundary, scale) pairs, but got {type(d).__name__}.")
    out = []
    for b, s in items:
        b = (_check_steps0 if nonneg_bounds else _check_boundary)(f"{name} boundary", b)
        s = _check_real(f"{name} scale", s)
        if s < 0:
            raise ValueError(message)
        out.append((b, s))
    bounds = [b for b, _ in out]
    if len(set(bounds)) != len(bounds):
        raise ValueError(f"{name} has a repeated boundary.")
    return sorted(out)


# ------------------------------------------------------------------ builder


# (name, value, check): checked values broadcast to a batch (an _OrNone check
# lets a whole None through); check None: a fixed argument, not passed to make.


def _linear_from_zero(init: float, end: float, steps: int) -> List[Segment]:
    """optax.linear_schedule: init before 0, end from ``steps`` (steps 0: end from 0)."""
    if steps == 0:
        return [constant_segment(end)]
    return from_zero(init, [linear_segment(init, end, steps)])


def _polynomial(init: float, end: float, power: float, steps: int) -> List[Segment]:
    """end + (init - end) (1 - t / steps)^power for t in [0, steps], held outside."""
    if power == 1.0:
        body: Segment = linear_segment(init, end, steps)
    else:
        body = power_segment(end, init - end, -1.0 / steps, power, -float(steps))
    return joined([[constant_segment(init)], [body], [constant_segment(end)]], [0, steps])


# ---------------------------------------------------------------- families


@factory
def constant(value: ScalarOrSeq) -> Schedule:
    r"""A constant schedule (optax ``constant_schedule``).

    .. math:: \lambda(s) = \text{value}

    Args:
        value (float or 1-D sequence): The value at every step (any real).

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> mlx_sched.constant(1e-3)(10)
        array(0.001, dtype=float32)
    """
    return build("constant", [("value", value, _check_real)], lambda v: [constant_segment(v)])


@factory
def polynomial_decay(init: ScalarOrSeq, end: ScalarOrSeq, power: ScalarOrSeq, steps: ScalarOrSeq, begin: ScalarOrSeq = 0) -> Schedule:
    r"""Polynomial decay from ``init`` to ``end`` (optax ``polynomial_schedule``).

    .. math:: \lambda(s) = \text{end} + (\text{init} - \text{end})
              \left(1 - \frac{\operatorname{clip}(s - \text{begin}, 0, \text{steps})}{\text{steps}}\right)^{\text{power}}

    ``init`` up to ``begin``, ``end`` from ``begin + steps``. ``power > 0``
    (``1`` is linear); ``steps >= 1`` (optax turns ``steps <= 0`` into a
    constant silently; here it is an error), ``begin >= 0``.

    Args:
        init (float or 1-D sequence): Value up to ``begin`` (any real).
        end (float or 1-D sequence): Value from ``begin + steps`` on (any real).
        power (float or 1-D sequence): Exponent of the decay, ``> 0`` (``1``: linear).
        steps (int or 1-D sequence): Length of the decay, an integer ``>= 1``.
        begin (int or 1-D sequence, optional): Step where the decay starts, an
            integer ``>= 0``. Default: ``0``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.polynomial_decay(1.0, 0.01, 2, 100)
        >>> lr(50)
        array(0.2575, dtype=float32)
    """

    def make(i: float, e: float, p: float, n: int, b: int) -> List[Segment]:
        return joined([[constant_segment(i)], _polynomial(i, e, p, n)], [b])

    return build(
        "polynomial_decay",
        [("init", init, _check_real), ("end", end, _check_real), ("power", power, _check_positive),
         ("steps", steps, _check_count), ("begin", begin, _check_steps0)],
        make,
    )


@factory
def piecewise_constant(init: ScalarOrSeq, boundaries_and_scales: BoundariesAndScales = None) -> Schedule:
    r"""Piecewise constant (optax ``piecewise_constant_schedule``).

    .. math:: \lambda(s) = \text{init} \prod_{b_i \le s} f_i

    ``boundaries_and_scales`` is ``{b_i: f_i}`` (or a list of pairs) with
    ``f_i >= 0``; boundaries are integers (any sign, distinct). Products are
    taken in float64. Unlike the other families, negative steps follow the
    formula (a boundary may be negative).

    Args:
        init (float or 1-D sequence): Value before the first boundary (any real).
        boundaries_and_scales (dict or list of pairs, optional): ``{b_i: f_i}``
            (or ``[(b_i, f_i), ...]``): from integer step ``b_i`` on (any sign,
            distinct) the value is multiplied by ``f_i >= 0``. Default: ``None``
            (constant ``init``).

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).
        TypeError: ``boundaries_and_scales`` neither a dict nor a list of pairs.
        ValueError: A negative scale or a repeated boundary.

    Example:
        >>> lr = mlx_sched.piecewise_constant(1.0, {100: 0.1, 200: 0.01})
        >>> lr(250)
        array(0.001, dtype=float32)
    """
    pairs = _pairs("boundaries_and_scales", boundaries_and_scales, nonneg_bounds=False,
                   message="`piecewise_constant_schedule` expects non-negative scale factors")

    def make(i: float) -> List[Segment]:
        segs, v = [constant_segment(i)], i
        for b, f in pairs:
            v *= f
            segs.append(_const_at(v, b))
        return segs

    return build("piecewise_constant", [("init", init, _check_real),
                                          ("boundaries_and_scales", pairs, None)], make)


@factory
def multistep_decay(init: ScalarOrSeq, milestones: Sequence[int], gamma: ScalarOrSeq = 0.1) -> Schedule:
    r"""Decay by ``gamma`` at each milestone (torch ``MultiStepLR``, lr only).

    .. math:: \lambda(s) = \text{init} \cdot \gamma^{\#\{m \in \text{milestones} : m \le s\}}

    Milestones are integers ``>= 0`` in any order; a repeated milestone
    decays once per occurrence (as torch's ``Counter``).

    Args:
        init (float or 1-D sequence): Initial value (any real).
        milestones (list of int): Steps ``>= 0`` at which to multiply by
            ``gamma`` (any order; a repeated milestone counts once per occurrence).
        gamma (float or 1-D sequence, optional): Factor per milestone (any
            real). Default: ``0.1``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).
        TypeError: ``milestones`` not a list or tuple.

    Example:
        >>> lr = mlx_sched.multistep_decay(0.1, [30, 80])
        >>> lr(50)
        array(0.01, dtype=float32)
    """
    if not isinstance(milestones, (list, tuple)):
        raise TypeError(f"milestones must be a list of integers, but got {type(milestones).__name__}.")
    ms = sorted(_check_steps0(f"milestones[{k}]", m) for k, m in enumerate(milestones))

    def make(i: float, g: float) -> List[Segment]:
        segs = [constant_segment(i)]
        for k, m in enumerate(ms):
            if k + 1 == len(ms) or ms[k + 1] != m:  # k + 1 milestones are <= m
                segs.append(_const_at(i * g ** (k + 1), m))
        return segs

    return build("multistep_decay", [("init", init, _check_real), ("milestones", list(milestones), None),
                                       ("gamma", gamma, _check_real)], make)


def _const_at(v: float, start: int) -> Segment:
    return Segment(constant_segment(v).kind, (v,), start=start)


def _interpolate(kind: str, init: float, pairs: Sequence[Tuple[int, float]]) -> List[Segment]:
    """optax piecewise_interpolate_schedule for steps >= 0 (sorted boundaries >= 0)."""
    bounds = [0] + [b for b, _ in pairs]
    values = [init]
    for _, f in pairs:
        values.append(values[-1] * f)
    make = linear_segment if kind == "linear" else cosine_segment
    nonempty = [k for k in range(len(bounds) - 1) if bounds[k + 1] > bounds[k]]  # (a boundary at 0 empties the first)
    segs = [make(values[k], values[k + 1], bounds[k + 1] - bounds[k]).shifted(bounds[k]) for k in nonempty]
    segs.append(_const_at(values[-1], bounds[-1]))
    return from_zero(values[nonempty[0]] if nonempty else values[-1], segs)


@factory
def piecewise_interpolate(kind: str, init: ScalarOrSeq, boundaries_and_scales: BoundariesAndScales = None) -> Schedule:
    r"""Interpolate between accumulated scales (optax ``piecewise_interpolate_schedule``).

    With boundaries :math:`0 = b_0 < b_1 < \dots` and values
    :math:`v_0 = \text{init}, v_{i} = v_{i-1} f_i`, step :math:`s \in [b_i, b_{i+1})`
    gives ``linear``: :math:`v_i + (v_{i+1} - v_i) p` or ``cosine``:
    :math:`v_{i+1} + (v_i - v_{i+1}) (1 + \cos \pi p) / 2`, with
    :math:`p = (s - b_i) / (b_{i+1} - b_i)`; the last value from the last boundary.

    Boundaries are integers ``>= 0``, scales ``>= 0``.

    Args:
        kind (str): The interpolation, ``"linear"`` or ``"cosine"``.
        init (float or 1-D sequence): Value at step 0 (any real).
        boundaries_and_scales (dict or list of pairs, optional): ``{b_i: f_i}``
            (or ``[(b_i, f_i), ...]``) with distinct integer boundaries ``>= 0``
            and scales ``f_i >= 0``: the value reaches :math:`v_{i-1} f_i` at
            ``b_i``. Default: ``None`` (constant ``init``).

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).
        TypeError: ``boundaries_and_scales`` neither a dict nor a list of pairs.
        ValueError: An unknown ``kind``, a negative scale or boundary, or a
            repeated boundary.

    Example:
        >>> lr = mlx_sched.piecewise_interpolate("linear", 1.0, {4: 0.1, 8: 0.01})
        >>> lr(6)
        array(0.0505, dtype=float32)
    """
    kind = _check_choice("kind", kind, ("linear", "cosine"))
    pairs = _pairs("boundaries_and_scales", boundaries_and_scales, nonneg_bounds=True,
                   message="`piecewise_interpolate_schedule` expects non-negative scale factors")
    return build("piecewise_interpolate", [("kind", kind, None), ("init", init, _check_real),
                                             ("boundaries_and_scales", pairs, None)],
                   lambda i: _interpolate(kind, i, pairs))


@factory
def warmup_constant(init: ScalarOrSeq, peak: ScalarOrSeq, warmup_steps: ScalarOrSeq) -> Schedule:
    r"""Linear warmup, then constant (optax ``warmup_constant_schedule``).

    .. math:: \lambda(s) = \text{init} + (\text{peak} - \text{init}) \min(s, W) / W

    ``warmup_steps`` (W) ``>= 0``; ``0`` means ``peak`` from step 0 (optax
    gives ``init`` forever there, which no user means).

    Args:
        init (float or 1-D sequence): Value at step 0 (any real).
        peak (float or 1-D sequence): Value from step W on (any real).
        warmup_steps (int or 1-D sequence): Steps of the linear warmup W, an integer ``>= 0`` (0: no warmup).

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> mlx_sched.warmup_constant(0.0, 1e-3, 100)(50)
        array(0.0005, dtype=float32)
    """
    return build("warmup_constant", [("init", init, _check_real), ("peak", peak, _check_real),
                                       ("warmup_steps", warmup_steps, _check_steps0)], _linear_from_zero)


def _warmup_cosine(init: float, peak: float, w: int, total: int, end: float, exponent: float) -> List[Segment]:
    if total <= w:
        raise ValueError(f"decay_steps must be greater than warmup_steps (it includes the warmup), but got {total} <= {w}.")
    end = 0.0 if peak == 0.0 else end  # optax: alpha = end / peak, 0 for peak == 0
    return joined([_linear_from_zero(init, peak, w), [cosine_segment(peak, end, total - w, exponent)]], [w])


@factory
def warmup_cosine_decay(init: ScalarOrSeq, peak: ScalarOrSeq, warmup_steps: ScalarOrSeq, decay_steps: ScalarOrSeq,
                        end: ScalarOrSeq = 0.0, exponent: ScalarOrSeq = 1.0) -> Schedule:
    r"""Linear warmup, then cosine decay (optax ``warmup_cosine_decay_schedule``).

    .. math:: \lambda(s) = \text{end} + (\text{peak} - \text{end})
              \left[\tfrac12\left(1 + \cos\frac{\pi (s - W)}{D - W}\right)\right]^{\text{exponent}}, \quad W \le s \le D

    linear from ``init`` to ``peak`` over the ``warmup_steps`` W (``>= 0``),
    ``end`` after ``decay_steps`` D, which **includes** the warmup (``D > W``).
    ``exponent > 0``. As optax: ``peak == 0`` gives 0 after the warmup whatever ``end``.

    Args:
        init (float or 1-D sequence): Value at step 0 (any real).
        peak (float or 1-D sequence): Value at the end of the warmup (any real).
        warmup_steps (int or 1-D sequence): Steps of the linear warmup W, an integer ``>= 0`` (0: no warmup).
        decay_steps (int or 1-D sequence): Step D where the decay ends, warmup
            included: an integer ``> warmup_steps``.
        end (float or 1-D sequence, optional): Value from D on (any real).
            Default: ``0``.
        exponent (float or 1-D sequence, optional): Power of the cosine factor,
            ``> 0``. Default: ``1``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).
        ValueError: ``decay_steps <= warmup_steps``.

    Example:
        >>> lr = mlx_sched.warmup_cosine_decay(0.0, 1.0, 10, 110)
        >>> lr(60)
        array(0.5, dtype=float32)
    """
    return build(
        "warmup_cosine_decay",
        [("init", init, _check_real), ("peak", peak, _check_real), ("warmup_steps", warmup_steps, _check_steps0),
         ("decay_steps", decay_steps, _check_count), ("end", end, _check_real), ("exponent", exponent, _check_positive)],
        _warmup_cosine,
    )


@factory
def warmup_exponential_decay(init: ScalarOrSeq, peak: ScalarOrSeq, warmup_steps: ScalarOrSeq, transition_steps: ScalarOrSeq,
                             decay_rate: ScalarOrSeq, transition_begin: ScalarOrSeq = 0, staircase: bool = False,
                             end: Optional[ScalarOrSeq] = None) -> Schedule:
    r"""Linear warmup, then exponential decay (optax ``warmup_exponential_decay_schedule``).

    After the ``warmup_steps`` W: ``peak`` for ``transition_begin`` more steps, then
    :math:`\text{peak} \cdot \text{rate}^{(s - W - \text{begin}) / \text{transition\_steps}}`
    (floor of the exponent when ``staircase``), clipped by ``end`` (a floor for
    ``decay_rate < 1``, a ceiling otherwise; the clip applies to ``peak`` too).
    ``decay_rate > 0``, ``transition_steps >= 1``, ``W, transition_begin >= 0``.

    Args:
        init (float or 1-D sequence): Value at step 0 (any real).
        peak (float or 1-D sequence): Value at the end of the warmup (any real).
        warmup_steps (int or 1-D sequence): Steps of the linear warmup W, an integer ``>= 0`` (0: no warmup).
        transition_steps (int or 1-D sequence): Steps per factor of
            ``decay_rate``, an integer ``>= 1``.
        decay_rate (float or 1-D sequence): Factor per ``transition_steps``, ``> 0``.
        transition_begin (int or 1-D sequence, optional): Steps to hold ``peak``
            after the warmup, an integer ``>= 0``. Default: ``0``.
        staircase (bool, optional): Floor the exponent (decay in whole factors).
            Default: ``False``.
        end (float or 1-D sequence, optional): Clip value (a floor for
            ``decay_rate < 1``, a ceiling otherwise). Default: ``None`` (no clip).

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.warmup_exponential_decay(0.0, 1.0, 10, 10, 0.5)
        >>> lr(30)
        array(0.25, dtype=float32)
    """
    staircase = _check_bool("staircase", staircase)

    def make(i: float, p: float, w: int, n: int, r: float, b: int, e: Optional[float]) -> List[Segment]:
        return joined([_linear_from_zero(i, p, w), optax_exponential(p, r, n, staircase, b, e)], [w])

    return build("warmup_exponential_decay",
                   [("init", init, _check_real), ("peak", peak, _check_real), ("warmup_steps", warmup_steps, _check_steps0),
                    ("transition_steps", transition_steps, _check_count), ("decay_rate", decay_rate, _check_rate),
                    ("transition_begin", transition_begin, _check_steps0), ("staircase", staircase, None),
                    ("end", end, _OrNone(_check_real))], make)


@factory
def cosine_restarts(init: ScalarOrSeq, period: ScalarOrSeq, t_mult: Union[int, float] = 1, end: ScalarOrSeq = 0.0) -> Schedule:
    r"""Cosine annealing with warm restarts (torch ``CosineAnnealingWarmRestarts``, closed form).

    Cycle :math:`k` lasts :math:`T_k = \text{period} \cdot t_{mult}^k` steps; at
    :math:`t` steps into it,
    :math:`\lambda = \text{end} + (\text{init} - \text{end}) (1 + \cos(\pi t / T_k)) / 2`.
    ``period >= 1``, ``t_mult`` an integer ``>= 1``. Cycle starts are exact
    integers at any step (torch's closed form takes a float log).

    Args:
        init (float or 1-D sequence): Value at the start of each cycle (any real).
        period (int or 1-D sequence): Length of the first cycle, an integer ``>= 1``.
        t_mult (int, optional): Factor by which each cycle is longer than the
            one before, an integer ``>= 1`` (one value for the whole batch).
            Default: ``1``.
        end (float or 1-D sequence, optional): Value at the end of each cycle
            (any real). Default: ``0``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.cosine_restarts(1.0, 10, t_mult=2)
        >>> lr(10), lr(15)
        (array(1, dtype=float32), array(0.853553, dtype=float32))
    """
    _check_int_type("t_mult", t_mult)
    if (isinstance(t_mult, float) and not t_mult.is_integer()) or t_mult < 1:
        raise ValueError(f"Expected integer t_mult >= 1, but got {t_mult}")
    tm = int(t_mult)

    def make(i: float, T0: int, e: float) -> List[Segment]:
        if tm == 1:
            return from_zero(i, [cosine_segment(i, e, T0, flags=FLAGS["periodic"])])
        segs = [constant_segment(i)]
        start, length = 0, T0
        while start < _STEP_LIMIT:
            segs.append(cosine_segment(i, e, length).shifted(start))
            start, length = start + length, min(length * tm, _STEP_LIMIT)
        return segs

    return build("cosine_restarts", [("init", init, _check_real), ("period", period, _check_count),
                                       ("t_mult", tm, None), ("end", end, _check_real)], make)


@factory
def sgdr(cosine_kwargs: Sequence[Mapping[str, Any]]) -> Schedule:
    r"""SGD with warm restarts (optax ``sgdr_schedule``): ``warmup_cosine_decay`` cycles back to back.

    Each dict holds the arguments of :func:`warmup_cosine_decay` (``init``,
    ``peak``, ``warmup_steps``, ``decay_steps``, optional ``end``, ``exponent``;
    optax's names ``init_value``, ``peak_value``, ``end_value`` are accepted
    too); cycle ``k`` starts after the ``decay_steps`` of the ones before.

    Args:
        cosine_kwargs (list of dict): One dict per cycle (at least one) with the
            arguments of :func:`warmup_cosine_decay` (or optax's names); a
            value may be a 1-D sequence, with equal batch sizes in all cycles.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: A cycle that is not a dict, or an argument
            :func:`warmup_cosine_decay` does not take (its index named).
        ValueError: An empty or non-list ``cosine_kwargs``, batch sizes that
            differ between cycles, or a cycle's own range errors.

    Example:
        >>> c = dict(init=0.0, peak=1.0, warmup_steps=5, decay_steps=50)
        >>> lr = mlx_sched.sgdr([c, c])
        >>> lr(52)
        array(0.4, dtype=float32)
    """
    if not isinstance(cosine_kwargs, (list, tuple)) or not cosine_kwargs:
        raise ValueError("cosine_kwargs must be a non-empty list of warmup_cosine_decay arguments (dicts).")
    alias = {"init_value": "init", "peak_value": "peak", "end_value": "end"}
    cycles = []
    for k, kw in enumerate(cosine_kwargs):
        if not isinstance(kw, Mapping):
            raise TypeError(f"cosine_kwargs[{k}] must be a dict, but got {type(kw).__name__}.")
        kw = {alias.get(a, a): v for a, v in kw.items()}
        try:
            cycles.append(warmup_cosine_decay(**kw))
        except TypeError as e:
            raise TypeError(f"cosine_kwargs[{k}]: {e}") from None
    G = {len(c) for c in cycles if c.batched}
    if len(G) > 1:
        raise ValueError("batch sizes differ between the cycles of cosine_kwargs.")
    n = G.pop() if G else None
    members = []
    for g in range(n or 1):
        pieces, bounds, step = [], [], 0
        for c in cycles:
            pieces.append(c.segments[g if c.batched else 0])
            d = c.to_dict()["args"]["decay_steps"]
            step += d[g] if isinstance(d, list) else d
            bounds.append(step)
        members.append(joined(pieces, bounds[:-1]))
    args = [c.to_dict()["args"] for c in cycles]
    spec = {"kind": "sgdr", "args": {"cosine_kwargs": args}}
    return Schedule(members, n is not None, f"sgdr(cosine_kwargs={args!r})", spec)


def _onecycle_pairs(T: int, scales: Sequence[Tuple[float, float]]) -> Dict[int, float]:
    d: Dict[int, float] = {}
    for pct, f in scales:
        d[int(pct * T)] = f  # optax's dict: a later equal key replaces an earlier one
    return d


@factory
def linear_onecycle(transition_steps: int, peak_value: ScalarOrSeq, pct_start: float = 0.3, pct_final: float = 0.85,
                    div_factor: float = 25.0, final_div_factor: float = 1e4) -> Schedule:
    r"""Three linear phases (optax ``linear_onecycle_schedule``).

    From ``peak / div_factor`` up to ``peak`` at ``int(pct_start * T)``, back
    down at ``int(pct_final * T)``, then to ``peak / (div_factor * final_div_factor)`` at ``T``.
    ``transition_steps`` T ``>= 1``, percentages in [0, 1], factors ``> 0``.

    Args:
        transition_steps (int): Total length T, an integer ``>= 1``.
        peak_value (float or 1-D sequence): Peak value (any real).
        pct_start (float, optional): Fraction of T at which the value peaks,
            in [0, 1]. Default: ``0.3``.
        pct_final (float, optional): Fraction of T at which the value is back
            at its initial value, in [0, 1]. Default: ``0.85``.
        div_factor (float, optional): Initial value is ``peak_value / div_factor``,
            ``> 0``. Default: ``25``.
        final_div_factor (float, optional): Final value is
            ``peak_value / (div_factor * final_div_factor)``, ``> 0``. Default: ``1e4``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.linear_onecycle(100, 1.0)
        >>> lr(30)
        array(1, dtype=float32)
    """
    T = _check_count("transition_steps", transition_steps, "linear onecycle")
    ps, pf = _check_unit("pct_start", pct_start), _check_unit("pct_final", pct_final)
    df, fdf = _check_positive("div_factor", div_factor), _check_positive("final_div_factor", final_div_factor)
    pairs = sorted(_onecycle_pairs(T, [(ps, df), (pf, 1.0 / df), (1.0, 1.0 / fdf)]).items())
    return build("linear_onecycle", [("transition_steps", T, None), ("peak_value", peak_value, _check_real),
                                       ("pct_start", ps, None), ("pct_final", pf, None), ("div_factor", df, None),
                                       ("final_div_factor", fdf, None)],
                   lambda p: _interpolate("linear", p / df, pairs))


@factory
def cosine_onecycle(transition_steps: int, peak_value: ScalarOrSeq, pct_start: float = 0.3, div_factor: float = 25.0,
                    final_div_factor: float = 1e4) -> Schedule:
    r"""Cosine up, cosine down (optax ``cosine_onecycle_schedule``).

    From ``peak / div_factor`` up to ``peak`` at ``int(pct_start * T)``, then
    down to ``peak / (div_factor * final_div_factor)`` at ``T``, both by
    cosine interpolation. ``transition_steps`` T ``>= 1``.

    Args:
        transition_steps (int): Total length T, an integer ``>= 1``.
        peak_value (float or 1-D sequence): Peak value (any real).
        pct_start (float, optional): Fraction of T at which the value peaks,
            in [0, 1]. Default: ``0.3``.
        div_factor (float, optional): Initial value is ``peak_value / div_factor``,
            ``> 0``. Default: ``25``.
        final_div_factor (float, optional): Final value is
            ``peak_value / (div_factor * final_div_factor)``, ``> 0``. Default: ``1e4``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.cosine_onecycle(100, 1.0)
        >>> lr(30)
        array(1, dtype=float32)
    """
    T = _check_count("transition_steps", transition_steps, "cosine onecycle")
    ps = _check_unit("pct_start", pct_start)
    df, fdf = _check_positive("div_factor", div_factor), _check_positive("final_div_factor", final_div_factor)
    pairs = sorted(_onecycle_pairs(T, [(ps, df), (1.0, 1.0 / (df * fdf))]).items())
    return build("cosine_onecycle", [("transition_steps", T, None), ("peak_value", peak_value, _check_real),
                                       ("pct_start", ps, None), ("div_factor", df, None), ("final_div_factor", fdf, None)],
                   lambda p: _interpolate("cosine", p / df, pairs))


def _anneal(kind: str, start_v: float, end_v: float, lo: int, hi: Optional[int], s0: float, e: float) -> List[Tuple[int, Segment]]:
    """torch OneCycleLR's anneal from start_v to end_v for pct = (s - s0) / (e - s0),
    over integer steps lo..hi: (first step, segment at local step s - first step)."""
    D = e - s0
    if kind == "linear":
        return [(lo, power_segment(start_v, end_v - start_v, 1.0 / D, 1.0, lo - s0))]
    # pct <= 1/2 up to mid - 1: start + (end - start) sin^2(pi pct / 2), then
    # end + (start - end) sin^2(pi (1 - pct) / 2): each from its nearer end (exact there)
    mid = math.floor(s0 + 0.5 * D) + 1
    out = []
    if mid > lo:
        out.append((lo, power_segment(start_v, end_v - start_v, math.pi / (2.0 * D), 1.0, lo - s0, "sin2")))
    if hi is None or mid <= hi:
        m = max(mid, lo)
        out.append((m, power_segment(end_v, start_v - end_v, -math.pi / (2.0 * D), 1.0, m - e, "sin2")))
    return out


@factory
def onecycle(total_steps: Optional[int] = None, max_lr: Optional[ScalarOrSeq] = None, pct_start: float = 0.3, anneal: str = "cos",
             div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False, *,
             epochs: Optional[int] = None, steps_per_epoch: Optional[int] = None) -> Schedule:
    r"""The 1cycle policy (torch ``OneCycleLR``, learning rate only).

    Phases end at steps :math:`e_1 = \text{pct\_start} \cdot T - 1` and
    :math:`T - 1` (three-phase: :math:`e_1`, :math:`2 \text{pct\_start} \cdot T - 2`, :math:`T - 1`),
    going ``max_lr / div_factor`` -> ``max_lr`` -> ``max_lr / div_factor / final_div_factor``
    (three-phase: back to ``max_lr / div_factor`` first); a step uses the first
    phase whose end it has not passed, with
    ``pct = (s - previous end) / (end - previous end)`` and ``anneal`` ``"cos"`` or ``"linear"``.
    Steps from T - 1 on hold the final value (torch extrapolates at T and raises after).
    A phase of zero length is an error (torch divides by zero). As torch,
    ``epochs`` and ``steps_per_epoch`` may stand for ``total_steps``
    (``total_steps = epochs * steps_per_epoch``; a given ``total_steps`` wins).
    The momentum torch cycles with it is :func:`onecycle_momentum`.

    Args:
        total_steps (int, optional): Total length T, an integer ``>= 1`` and
            ``< 2**62``. Default: ``None`` (then ``epochs * steps_per_epoch``).
        max_lr (float or 1-D sequence): Peak value (any real); required.
        pct_start (float, optional): Fraction of T spent rising, in [0, 1].
            Default: ``0.3``.
        anneal (str, optional): ``"cos"`` or ``"linear"``. Default: ``"cos"``.
        div_factor (float, optional): Initial value is ``max_lr / div_factor``,
            ``> 0``. Default: ``25``.
        final_div_factor (float, optional): Final value is
            ``max_lr / div_factor / final_div_factor``, ``> 0``. Default: ``1e4``.
        three_phase (bool, optional): Go back down to ``max_lr / div_factor``
            before the final anneal. Default: ``False``.
        epochs (int, optional): Epochs, an integer ``>= 1`` (keyword only; with
            ``steps_per_epoch``, when ``total_steps`` is None). Default: ``None``.
        steps_per_epoch (int, optional): Steps per epoch, an integer ``>= 1``
            (keyword only). Default: ``None``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: ``max_lr`` missing, or an argument of the wrong type.
        ValueError: Neither ``total_steps`` nor ``epochs`` and
            ``steps_per_epoch``, a non-positive count, ``pct_start`` outside
            [0, 1], an unknown ``anneal``, a non-positive factor, or a phase of
            zero length.

    Example:
        >>> lr = mlx_sched.onecycle(100, 1.0, anneal="linear")
        >>> lr(29)
        array(1, dtype=float32)
        >>> mlx_sched.onecycle(max_lr=1.0, epochs=10, steps_per_epoch=10, anneal="linear")(29)
        array(1, dtype=float32)
    """
    if max_lr is None:
        raise TypeError("onecycle() missing required argument 'max_lr'")
    T = _onecycle_length(total_steps, epochs, steps_per_epoch)
    ps = _onecycle_pct_anneal(pct_start, anneal)
    df, fdf = _check_positive("div_factor", div_factor), _check_positive("final_div_factor", final_div_factor)
    three_phase = _check_bool("three_phase", three_phase)
    ends = _onecycle_ends("onecycle", T, ps, three_phase)

    def make(mx_lr: float) -> List[Segment]:
        lo_lr = mx_lr / df
        targets = [(lo_lr, mx_lr), (mx_lr, lo_lr), (lo_lr, lo_lr / fdf)] if three_phase else [(lo_lr, mx_lr), (mx_lr, lo_lr / fdf)]
        return _onecycle_member(T, ends, anneal, targets)

    return build("onecycle", [("total_steps", T, None), ("max_lr", max_lr, _check_real), ("pct_start", ps, None),
                                ("anneal", anneal, None), ("div_factor", df, None), ("final_div_factor", fdf, None),
                                ("three_phase", three_phase, None)], make)


def _onecycle_length(total_steps: Optional[int], epochs: Optional[int], steps_per_epoch: Optional[int]) -> int:
    """OneCycleLR's total_steps, or epochs * steps_per_epoch, checked with torch's messages."""

    def _pos_int(v: Any) -> bool:
        return not isinstance(v, bool) and isinstance(v, numbers.Integral) and int(v) > 0

    if total_steps is not None:
        if not _pos_int(total_steps):
            raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
    elif epochs is not None and steps_per_epoch is not None:
        if not _pos_int(epochs):
            raise ValueError(f"Expected positive integer epochs, but got {epochs}")
        if not _pos_int(steps_per_epoch):
            raise ValueError(f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
        total_steps = int(epochs) * int(steps_per_epoch)
    else:
        raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
    T = int(total_steps)
    if T >= _STEP_LIMIT:
        raise ValueError(f"total_steps must be less than 2**62, but got {T}.")
    return T


def _onecycle_pct_anneal(pct_start: float, anneal: str) -> float:
    """OneCycleLR's pct_start (returned as a float) and anneal strategy, checked with torch's messages."""
    if isinstance(pct_start, bool) or not isinstance(pct_start, numbers.Real) or not 0 <= pct_start <= 1:
        raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
    if anneal not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal}")
    return float(pct_start)


def _onecycle_ends(name: str, T: int, ps: float, three_phase: bool) -> List[float]:
    """OneCycleLR's phase ends (as torch writes them, in float64): pct_start T - 1,
    (three-phase: 2 pct_start T - 2,) T - 1; a phase of zero length is an error
    (torch divides by zero there)."""
    ends = [ps * T - 1, 2 * ps * T - 2, float(T - 1)] if three_phase else [ps * T - 1, float(T - 1)]
    for k, (a, b) in enumerate(zip([0.0] + ends[:-1], ends)):
        if b == a:
            raise ValueError(f"{name} phase {k + 1} has zero length (pct_start={ps}, total_steps={T}).")
    return ends


def _onecycle_member(T: int, ends: Sequence[float], anneal: str, targets: Sequence[Tuple[float, float]]) -> List[Segment]:
    """One member of a OneCycleLR curve: phase k (ending at ends[k], starting
    where the one before ends, the first at 0) anneals targets[k][0] ->
    targets[k][1]; a step takes the first phase whose end it has not passed
    (the last beyond); held at its value at T - 1 from there on (the final
    target, unless T - 1 is not in the last phase) and at its step-0 value
    before 0."""
    starts = [0.0] + list(ends[:-1])
    # integer steps where the phase may change: the first step past each end
    cuts = sorted({0} | {math.floor(e) + 1 for e in ends[:-1] if 0 < math.floor(e) + 1 < T - 1})
    pieces: List[Tuple[int, Segment]] = []
    for c, lo in enumerate(cuts):
        hi = cuts[c + 1] - 1 if c + 1 < len(cuts) else T - 2
        k = next((k for k, e in enumerate(ends) if lo <= e), len(ends) - 1)
        pieces += _anneal("linear" if anneal == "linear" else "cos", targets[k][0], targets[k][1], lo, hi, starts[k], ends[k])

    def at(s: int) -> float:  # torch's value at integer step s, in float64
        k = next((k for k, e in enumerate(ends) if s <= e), len(ends) - 1)
        return _torch_anneal(anneal, *targets[k], (s - starts[k]) / (ends[k] - starts[k]))

    # held from T - 1: the final target, or, where T - 1 is not in the last
    # phase (three-phase with pct_start > 1/2), torch's value there
    final = targets[-1][1] if T - 1 > max(ends[:-1]) else at(T - 1)
    segs = [constant_segment(at(0))]
    for first, seg in pieces:
        if first < T - 1:
            segs.append(seg.shifted(first))
    segs.append(_const_at(final, T - 1))
    return segs


def _torch_anneal(kind: str, start: float, end: float, pct: float) -> float:
    """OneCycleLR's anneal, in float64: the value held before step 0."""
    if kind == "linear":
        return (end - start) * pct + start
    return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1.0)


@factory
def onecycle_momentum(total_steps: Optional[int] = None, pct_start: float = 0.3, anneal: str = "cos", base_momentum: ScalarOrSeq = 0.85,
                      max_momentum: ScalarOrSeq = 0.95, three_phase: bool = False, *, epochs: Optional[int] = None,
                      steps_per_epoch: Optional[int] = None) -> Schedule:
    r"""The 1cycle momentum (torch ``OneCycleLR`` with ``cycle_momentum=True``): the
    momentum (or Adam's :math:`\beta_1`) that torch sets next to :func:`onecycle`'s learning rate.

    It moves inversely to the learning rate, over the same phases. With phase
    ends :math:`e_0 = 0`, :math:`e_1 = \text{pct\_start} \cdot T - 1`,
    :math:`e_2 = T - 1` (three-phase: :math:`e_2 = 2 \, \text{pct\_start} \cdot T - 2`,
    :math:`e_3 = T - 1`), a step s takes the first phase k whose end it has
    not passed (the last phase beyond), and

    .. math:: \mu(s) = \operatorname{anneal}\left(a_k, b_k, \frac{s - e_{k-1}}{e_k - e_{k-1}}\right),
              \quad \operatorname{anneal}(a, b, p) = \begin{cases}
              b + \tfrac12 (a - b)(1 + \cos \pi p) & \text{"cos"} \\
              a + (b - a) p & \text{"linear"} \end{cases}

    with :math:`(a_k, b_k)` = (``max_momentum``, ``base_momentum``), then
    (``base_momentum``, ``max_momentum``); three-phase: (max, base), (base,
    max), then (max, max): as torch, the third phase holds ``max_momentum``
    while the learning rate anneals to its minimum. So the momentum starts at
    ``max_momentum``, reaches ``base_momentum`` where the learning rate peaks
    and is back at ``max_momentum`` at T - 1 (three-phase: at
    :math:`e_2`, if :math:`e_2 \le T - 1`). Steps from T - 1 on hold the
    value at T - 1 (torch extrapolates at T and raises after), steps before 0
    the value at 0. A phase of zero length is an error (torch divides
    by zero). As torch, ``epochs`` and ``steps_per_epoch`` may stand for
    ``total_steps`` (a given ``total_steps`` wins).

    ``mlx_sched.optimizers`` take it as the momentum itself
    (``SGD(lr, momentum=mom)``, ``Adam(lr, betas=[mom, 0.999])``), evaluated
    in the kernel at each step; with ``mlx.optimizers``, set
    ``opt.momentum = mom(step).item()`` (or ``opt.betas``) before each step.

    Args:
        total_steps (int, optional): Total length T, an integer ``>= 1`` and
            ``< 2**62``. Default: ``None`` (then ``epochs * steps_per_epoch``).
        pct_start (float, optional): Fraction of T spent in the first phase
            (the learning rate rising, the momentum falling), in [0, 1].
            Default: ``0.3``.
        anneal (str, optional): ``"cos"`` or ``"linear"`` (torch's
            ``anneal_strategy``). Default: ``"cos"``.
        base_momentum (float or 1-D sequence, optional): The momentum where the
            learning rate peaks (any real). Default: ``0.85``.
        max_momentum (float or 1-D sequence, optional): The momentum at the
            start and the end (any real). Default: ``0.95``.
        three_phase (bool, optional): torch's three phases (back up to
            ``max_momentum`` at ``2 pct_start T - 2``, then held). Default: ``False``.
        epochs (int, optional): Epochs, an integer ``>= 1`` (keyword only; with
            ``steps_per_epoch``, when ``total_steps`` is None). Default: ``None``.
        steps_per_epoch (int, optional): Steps per epoch, an integer ``>= 1``
            (keyword only). Default: ``None``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: Neither ``total_steps`` nor ``epochs`` and
            ``steps_per_epoch``, a non-positive count, ``pct_start`` outside
            [0, 1], an unknown ``anneal``, a non-finite momentum, or a phase of
            zero length.

    Example:
        >>> mom = mlx_sched.onecycle_momentum(100, anneal="linear")
        >>> mom(0), mom(29), mom(99)
        (array(0.95, dtype=float32), array(0.85, dtype=float32), array(0.95, dtype=float32))
        >>> mlx_sched.onecycle_momentum(epochs=10, steps_per_epoch=10, anneal="linear")(29)
        array(0.85, dtype=float32)
    """
    T = _onecycle_length(total_steps, epochs, steps_per_epoch)
    ps = _onecycle_pct_anneal(pct_start, anneal)
    three_phase = _check_bool("three_phase", three_phase)
    ends = _onecycle_ends("onecycle_momentum", T, ps, three_phase)

    def make(base: float, top: float) -> List[Segment]:
        targets = [(top, base), (base, top), (top, top)] if three_phase else [(top, base), (base, top)]
        return _onecycle_member(T, ends, anneal, targets)

    return build("onecycle_momentum", [("total_steps", T, None), ("pct_start", ps, None), ("anneal", anneal, None),
                                         ("base_momentum", base_momentum, _check_real), ("max_momentum", max_momentum, _check_real),
                                         ("three_phase", three_phase, None)], make)


@factory
def cyclic(base_lr: ScalarOrSeq, max_lr: ScalarOrSeq, step_size_up: ScalarOrSeq = 2000, step_size_down: Optional[ScalarOrSeq] = None,
           mode: str = "triangular", gamma: ScalarOrSeq = 1.0) -> Schedule:
    r"""Cyclical learning rate (torch ``CyclicLR``, learning rate only).

    A triangle wave from ``base_lr`` up to ``max_lr`` over ``step_size_up``
    steps and down over ``step_size_down`` (default: the same); its amplitude
    is scaled per ``mode``: ``"triangular"`` 1, ``"triangular2"``
    :math:`2^{-k}` in cycle :math:`k`, ``"exp_range"`` :math:`\gamma^s`.
    Step sizes are integers ``>= 1``, ``gamma > 0``. The momentum torch
    cycles with it is :func:`cyclic_momentum`.

    Args:
        base_lr (float or 1-D sequence): Lower bound of the wave (any real).
        max_lr (float or 1-D sequence): Upper bound of the wave (any real).
        step_size_up (int or 1-D sequence, optional): Steps of the rising half,
            an integer ``>= 1``. Default: ``2000``.
        step_size_down (int or 1-D sequence, optional): Steps of the falling
            half, an integer ``>= 1``. Default: ``None`` (``step_size_up``).
        mode (str, optional): ``"triangular"``, ``"triangular2"`` or
            ``"exp_range"``. Default: ``"triangular"``.
        gamma (float or 1-D sequence, optional): Per-step amplitude factor of
            ``"exp_range"``, ``> 0``. Default: ``1``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.cyclic(0.001, 0.006, 10)
        >>> lr(5), lr(15)
        (array(0.0035, dtype=float32), array(0.0035, dtype=float32))
    """
    mode = _check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))

    def make(b: float, m: float, up: int, down: int, g: float) -> List[Segment]:
        return from_zero(b, [triangle_segment(b, m - b, up, down, mode, g)])

    down = step_size_up if step_size_down is None else step_size_down
    return build("cyclic", [("base_lr", base_lr, _check_real), ("max_lr", max_lr, _check_real),
                              ("step_size_up", step_size_up, _check_count), ("step_size_down", down, _check_count),
                              ("mode", mode, None), ("gamma", gamma, _check_positive)], make)


@factory
def cyclic_momentum(base_momentum: ScalarOrSeq = 0.8, max_momentum: ScalarOrSeq = 0.9, step_size_up: ScalarOrSeq = 2000,
                    step_size_down: Optional[ScalarOrSeq] = None, mode: str = "triangular", gamma: ScalarOrSeq = 1.0) -> Schedule:
    r"""Cyclical momentum (torch ``CyclicLR`` with ``cycle_momentum=True``): the
    momentum (or Adam's :math:`\beta_1`) that torch sets next to :func:`cyclic`'s learning rate.

    The learning rate's triangle wave upside down, from ``max_momentum`` down
    to ``base_momentum`` over ``step_size_up`` steps and back over
    ``step_size_down`` (default: the same), its amplitude scaled as the
    learning rate's:

    .. math:: \mu(s) = \text{max\_momentum} - (\text{max\_momentum} - \text{base\_momentum})
              \, x(s) \, \sigma(s), \quad x(s) = \begin{cases} r / U & r \le U \\ (C - r) / D & r > U \end{cases}

    with U = ``step_size_up``, D = ``step_size_down``, C = U + D,
    :math:`r = s \bmod C`, and :math:`\sigma(s)` = 1 (``"triangular"``),
    :math:`2^{-\lfloor s / C \rfloor}` (``"triangular2"``: halved each
    cycle), :math:`\gamma^s` (``"exp_range"``). Steps before 0 give
    ``max_momentum``. Step sizes are integers ``>= 1``, ``gamma > 0``.

    ``mlx_sched.optimizers`` take it as the momentum itself
    (``SGD(lr, momentum=mom)``, ``Adam(lr, betas=[mom, 0.999])``), evaluated
    in the kernel at each step; with ``mlx.optimizers``, set
    ``opt.momentum = mom(step).item()`` (or ``opt.betas``) before each step.

    Args:
        base_momentum (float or 1-D sequence, optional): The momentum at the
            learning rate's peaks (any real). Default: ``0.8``.
        max_momentum (float or 1-D sequence, optional): The momentum at each
            cycle's start (any real). Default: ``0.9``.
        step_size_up (int or 1-D sequence, optional): Steps of the learning
            rate's rising half (the momentum falling), an integer ``>= 1``.
            Default: ``2000``.
        step_size_down (int or 1-D sequence, optional): Steps of the other
            half, an integer ``>= 1``. Default: ``None`` (``step_size_up``).
        mode (str, optional): ``"triangular"``, ``"triangular2"`` or
            ``"exp_range"``. Default: ``"triangular"``.
        gamma (float or 1-D sequence, optional): Per-step amplitude factor of
            ``"exp_range"``, ``> 0``. Default: ``1``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> mom = mlx_sched.cyclic_momentum(0.8, 0.9, 10)
        >>> mom(5), mom(10), mom(20)
        (array(0.85, dtype=float32), array(0.8, dtype=float32), array(0.9, dtype=float32))
    """
    mode = _check_choice("mode", mode, ("triangular", "triangular2", "exp_range"))

    def make(base: float, top: float, up: int, down: int, g: float) -> List[Segment]:
        return from_zero(top, [triangle_segment(top, base - top, up, down, mode, g)])

    down = step_size_up if step_size_down is None else step_size_down
    return build("cyclic_momentum", [("base_momentum", base_momentum, _check_real), ("max_momentum", max_momentum, _check_real),
                                       ("step_size_up", step_size_up, _check_count), ("step_size_down", down, _check_count),
                                       ("mode", mode, None), ("gamma", gamma, _check_positive)], make)


@factory
def inverse_sqrt(init: ScalarOrSeq, warmup_steps: ScalarOrSeq, timescale: Optional[ScalarOrSeq] = None) -> Schedule:
    r"""Linear warmup, then inverse square root decay (HF ``get_inverse_sqrt_schedule``, times ``init``).

    .. math:: \lambda(s) = \text{init} \cdot \begin{cases} s / W & s < W \\
              \sqrt{\tau / (s - W + \tau)} & s \ge W \end{cases}

    ``warmup_steps`` W ``>= 0``; ``timescale`` :math:`\tau` ``>= 1`` defaults to W, or 10000 if W is 0.

    Args:
        init (float or 1-D sequence): Peak value, reached at step W (any real).
        warmup_steps (int or 1-D sequence): Steps of the linear warmup W, an integer ``>= 0`` (0: no warmup).
        timescale (int or 1-D sequence, optional): :math:`\tau`, an integer
            ``>= 1``. Default: ``None`` (W, or 10000 when W is 0).

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.inverse_sqrt(1.0, 100)
        >>> lr(400)
        array(0.5, dtype=float32)
    """

    def make(i: float, w: int, tau: Optional[int]) -> List[Segment]:
        tau = tau if tau is not None else (w or 10_000)
        decay = power_segment(0.0, i, 1.0 / tau, -0.5, float(tau))
        return joined([_linear_from_zero(0.0, i, w), [decay]], [w])

    return build("inverse_sqrt", [("init", init, _check_real), ("warmup_steps", warmup_steps, _check_steps0),
                                    ("timescale", timescale, _OrNone(_check_count))], make)


def _hf_phase(kind: str, a: float, b: float, n: int, rising: bool) -> List[Segment]:
    """HF WSD's warmup (rising) or decay from a to b over n steps, held at b after."""
    if kind == "linear":
        return [linear_segment(a, b, n)]
    if kind == "cosine":
        return [cosine_segment(a, b, n)]
    # 1-sqrt: warmup b - (b - a) sqrt(1 - t/n), decay a - (a - b) sqrt(t/n)
    if rising:
        return [power_segment(b, a - b, -1.0 / n, 0.5, -float(n)), _const_at(b, n)]
    return [power_segment(a, b - a, 1.0 / n, 0.5, 0.0), _const_at(b, n)]


@factory
def warmup_stable_decay(init: ScalarOrSeq, warmup_steps: ScalarOrSeq, stable_steps: ScalarOrSeq, decay_steps: ScalarOrSeq,
                        min_ratio: ScalarOrSeq = 0.0, warmup_type: str = "linear", decay_type: str = "cosine") -> Schedule:
    r"""Warmup, stable, decay (HF ``get_wsd_schedule``, times ``init``).

    Warmup over W steps from ``min_ratio * init`` to ``init`` (``warmup_type``
    ``"linear"``, ``"cosine"``: :math:`\tfrac12(1 - \cos \pi p)`, ``"1-sqrt"``:
    :math:`1 - \sqrt{1 - p}`), ``init`` for S steps, decay over D steps to
    ``min_ratio * init`` (``decay_type`` ``"linear"``: :math:`1 - p`, ``"cosine"``:
    :math:`\tfrac12(1 + \cos \pi p)`, ``"1-sqrt"``: :math:`1 - \sqrt p`), then
    ``min_ratio * init``. Each factor f becomes :math:`r + (1 - r) f`, r = ``min_ratio`` ``>= 0``.
    W, S, D ``>= 0``.

    Args:
        init (float or 1-D sequence): Value of the stable phase (any real).
        warmup_steps (int or 1-D sequence): Warmup length W, an integer ``>= 0``.
        stable_steps (int or 1-D sequence): Stable length S, an integer ``>= 0``.
        decay_steps (int or 1-D sequence): Decay length D, an integer ``>= 0``.
        min_ratio (float or 1-D sequence, optional): r, the start and end value
            as a fraction of ``init``, ``>= 0``. Default: ``0``.
        warmup_type (str, optional): ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.
            Default: ``"linear"``.
        decay_type (str, optional): ``"linear"``, ``"cosine"`` or ``"1-sqrt"``.
            Default: ``"cosine"``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.warmup_stable_decay(1.0, 10, 80, 10, decay_type="linear")
        >>> lr(95)
        array(0.5, dtype=float32)
    """
    types = ("linear", "cosine", "1-sqrt")
    warmup_type = _check_choice("warmup_type", warmup_type, types)
    decay_type = _check_choice("decay_type", decay_type, types)

    def make(i: float, w: int, s: int, d: int, r: float) -> List[Segment]:
        lo = r * i
        pieces: List[List[Segment]] = []
        bounds: List[int] = []
        if w:
            pieces.append(_hf_phase(warmup_type, lo, i, w, True))
            bounds.append(w)
        pieces.append([constant_segment(i)])
        if d:
            bounds.append(w + s)
            pieces.append(_hf_phase(decay_type, i, lo, d, False))
        bounds.append(w + s + d)
        pieces.append([constant_segment(lo)])
        v0 = lo if w or not (s or d) else i
        return from_zero(v0, joined(pieces, bounds))

    return build("warmup_stable_decay", [("init", init, _check_real), ("warmup_steps", warmup_steps, _check_steps0),
                                           ("stable_steps", stable_steps, _check_steps0), ("decay_steps", decay_steps, _check_steps0),
                                           ("min_ratio", min_ratio, _check_nonneg), ("warmup_type", warmup_type, None),
                                           ("decay_type", decay_type, None)], make)


def _hf_half_cycle(num_cycles: float, L: int) -> Tuple[int, int]:
    """Half a cosine cycle, L / (2 num_cycles) steps, as a fraction n / m
    (the cosine segment's half period n and step multiplier m, 2 n m < 2^62).

    2 num_cycles is taken as its nearest fraction P / Q (exact for the values
    people write, 0.3 or 1/3 included; otherwise within 2^-40 of it, far below
    float32's resolution over the schedule), so that every step's angle is
    reduced exactly on integers."""
    two_c = 2.0 * num_cycles
    if two_c > 2**14 * L:  # a fractional step may then add 2^14 half cycles (schedule.h)
        raise ValueError(f"num_cycles must be at most 8192 cycles per step, (num_training_steps - num_warmup_steps) * 8192 "
                         f"= {L * 8192}, but got {num_cycles}.")
    for bits in (30, 26, 22, 18, 14, 10, 6, 2, 0):
        f = Fraction(two_c).limit_denominator(2**bits)
        if f <= 0 or abs(f - Fraction(two_c)) > Fraction(two_c) / 2**40:
            continue
        half = Fraction(L) / f
        if half.numerator >= 1 and 2 * half.numerator * half.denominator < _STEP_LIMIT:
            return int(half.numerator), int(half.denominator)
    raise ValueError(
        f"num_cycles={num_cycles} with num_training_steps - num_warmup_steps = {L}: half a cosine cycle, "
        f"{L} / (2 num_cycles) steps, is not a fraction mlx-sched can reduce exactly; "
        f"use a num_cycles with a small denominator (such as 0.3, 1.5 or 1/3)."
    )


def _hf_cosine(i: float, w: int, t: int, c: float, m: float, shift: int = 0) -> List[Segment]:
    """HF's cosine after the warmup: i * (m + (1 - m) (1 + cos(2 pi c p)) / 2),
    p = (s - w + shift) / max(1, t - w), not clamped (the cosine goes on past t);
    a join piece for boundary w (its local step is s - w + shift)."""
    L = max(1, t - w)
    n, mul = _hf_half_cycle(c, L)
    seg = cosine_segment(i, m * i, n, flags=FLAGS["unclamped"])
    return [Segment(seg.kind, seg.params, seg.n, seg.flags, offset=-shift, m=mul if mul > 1 else 0)]


def _check_cycles(name: str, v: Any) -> float:
    return _check_positive(name, v)


def _min_rate(init: float, min_lr: Optional[float], min_lr_rate: Optional[float]) -> float:
    if min_lr is not None and min_lr_rate is not None:
        raise ValueError("Only one of min_lr or min_lr_rate should be set")
    if min_lr is not None:
        return min_lr / init
    if min_lr_rate is None:
        raise ValueError("One of min_lr or min_lr_rate should be set")
    return min_lr_rate


@factory
def cosine_with_min_lr(init: ScalarOrSeq, warmup_steps: ScalarOrSeq, total_steps: ScalarOrSeq, min_lr: Optional[ScalarOrSeq] = None,
                       num_cycles: ScalarOrSeq = 0.5, min_lr_rate: Optional[ScalarOrSeq] = None) -> Schedule:
    r"""Linear warmup, then cosine to ``min_lr`` (HF ``cosine_with_min_lr``, times ``init``).

    .. math:: \lambda(s) = \begin{cases} \text{init} \cdot s / W & s < W \\
              \text{min\_lr} + (\text{init} - \text{min\_lr}) \tfrac12 (1 + \cos 2 \pi c p) & s \ge W \end{cases},
              \quad p = \frac{s - W}{T - W}

    As HF, p is not clamped: past ``total_steps`` T the cosine rises again.
    ``init > 0``, ``0 <= W < T``; exactly one of ``min_lr >= 0`` and
    ``min_lr_rate >= 0`` (``min_lr = min_lr_rate * init``). ``num_cycles`` c
    ``> 0`` (default 0.5: one decay), any value HF takes.

    Args:
        init (float or 1-D sequence): Peak value, ``> 0``.
        warmup_steps (int or 1-D sequence): Steps of the linear warmup W, an integer ``>= 0`` (0: no warmup).
        total_steps (int or 1-D sequence): T, an integer ``>= 1`` and ``> W``.
        min_lr (float or 1-D sequence, optional): Floor of the cosine, ``>= 0``.
            Default: ``None`` (give ``min_lr_rate`` instead).
        num_cycles (float or 1-D sequence, optional): c, ``> 0``: the cosine
            completes c cycles over ``T - W`` steps. Default: ``0.5``.
        min_lr_rate (float or 1-D sequence, optional): ``min_lr / init``,
            ``>= 0``. Default: ``None`` (give ``min_lr`` instead).

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).
        ValueError: ``total_steps <= warmup_steps``, both or neither of
            ``min_lr`` and ``min_lr_rate``.

    Example:
        >>> lr = mlx_sched.cosine_with_min_lr(1.0, 10, 110, 0.1)
        >>> lr(60)
        array(0.55, dtype=float32)
    """

    def make(i: float, w: int, t: int, m: Optional[float], c: float, r: Optional[float]) -> List[Segment]:
        if t <= w:
            raise ValueError(f"total_steps must be greater than warmup_steps, but got {t} <= {w}.")
        return joined([_linear_from_zero(0.0, i, w), _hf_cosine(i, w, t, c, _min_rate(i, m, r))], [w])

    return build("cosine_with_min_lr", [("init", init, _check_positive), ("warmup_steps", warmup_steps, _check_steps0),
                                          ("total_steps", total_steps, _check_count), ("min_lr", min_lr, _OrNone(_check_nonneg)),
                                          ("num_cycles", num_cycles, _check_cycles), ("min_lr_rate", min_lr_rate, _OrNone(_check_nonneg))],
                   make)


@factory
def cosine_with_warmup(init: ScalarOrSeq, warmup_steps: ScalarOrSeq, total_steps: ScalarOrSeq, num_cycles: ScalarOrSeq = 0.5) -> Schedule:
    r"""Linear warmup, then cosine (HF ``get_cosine_schedule_with_warmup``, times ``init``).

    .. math:: \lambda(s) = \text{init} \begin{cases} s / W & s < W \\
              \tfrac12 (1 + \cos 2 \pi c p) & s \ge W \end{cases}, \quad p = \frac{s - W}{\max(1, T - W)}

    ``num_cycles`` c ``> 0`` (default 0.5: from ``init`` down to 0 at T); p is
    not clamped (as HF: the cosine goes on past T). ``W >= 0``, ``T >= 1``.

    Args:
        init (float or 1-D sequence): Peak value (any real).
        warmup_steps (int or 1-D sequence): Steps of the linear warmup W, an integer ``>= 0`` (0: no warmup).
        total_steps (int or 1-D sequence): T, an integer ``>= 1``.
        num_cycles (float or 1-D sequence, optional): c, ``> 0``: the cosine
            completes c cycles over ``T - W`` steps. Default: ``0.5``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.cosine_with_warmup(10.0, 2, 10)
        >>> lr(6)
        array(5, dtype=float32)
    """

    def make(i: float, w: int, t: int, c: float) -> List[Segment]:
        return joined([_linear_from_zero(0.0, i, w), _hf_cosine(i, w, t, c, 0.0)], [w])

    return build("cosine_with_warmup", [("init", init, _check_real), ("warmup_steps", warmup_steps, _check_steps0),
                                          ("total_steps", total_steps, _check_count), ("num_cycles", num_cycles, _check_cycles)], make)


_MAX_CYCLES = 4096


@factory
def cosine_hard_restarts(init: ScalarOrSeq, warmup_steps: ScalarOrSeq, total_steps: ScalarOrSeq, num_cycles: int = 1) -> Schedule:
    r"""Linear warmup, then cosine cycles with hard restarts (HF
    ``get_cosine_with_hard_restarts_schedule_with_warmup``, times ``init``).

    .. math:: \lambda(s) = \text{init} \cdot \tfrac12 \left(1 + \cos \pi ((c p) \bmod 1)\right),
              \quad p = \frac{s - W}{\max(1, T - W)} < 1

    after a linear warmup ``init * s / W``; 0 from T on. ``num_cycles`` c is an
    integer in [1, 4096]; cycles start at the exact (possibly fractional)
    steps k (T - W) / c, reduced on integers.

    Args:
        init (float or 1-D sequence): Peak value of each cycle (any real).
        warmup_steps (int or 1-D sequence): Steps of the linear warmup W, an integer ``>= 0`` (0: no warmup).
        total_steps (int or 1-D sequence): T, an integer ``>= 1``.
        num_cycles (int, optional): c, an integer in [1, 4096] (one value for
            the whole batch). Default: ``1``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.cosine_hard_restarts(10.0, 2, 10, num_cycles=2)
        >>> lr(6)
        array(10, dtype=float32)
    """
    _check_int_type("num_cycles", num_cycles)
    if (isinstance(num_cycles, float) and not float(num_cycles).is_integer()) or not 1 <= num_cycles <= _MAX_CYCLES:
        raise ValueError(f"num_cycles must be an integer in [1, {_MAX_CYCLES}], but got {num_cycles}.")
    c = int(num_cycles)

    def make(i: float, w: int, t: int) -> List[Segment]:
        L = max(1, t - w)
        if L % c == 0:  # whole cycles: one periodic cosine
            cyc: List[Segment] = [cosine_segment(i, 0.0, L // c, flags=FLAGS["periodic"])]
        else:
            cyc = []
            for k in range(c):
                s0, e = Fraction(k * L, c), Fraction((k + 1) * L, c)
                lo, hi = math.ceil(s0), math.ceil(e) - 1
                if hi < lo:
                    continue
                for first, seg in _anneal("cos", i, 0.0, lo, hi, float(s0), float(e)):
                    cyc.append(seg.shifted(first))
        decay = joined([[constant_segment(i)], cyc, [constant_segment(0.0)]], [0, L])
        return joined([_linear_from_zero(0.0, i, w), decay], [w])

    return build("cosine_hard_restarts", [("init", init, _check_real), ("warmup_steps", warmup_steps, _check_steps0),
                                            ("total_steps", total_steps, _check_count), ("num_cycles", c, None)], make)


@factory
def cosine_warmup_with_min_lr(init: ScalarOrSeq, warmup_steps: ScalarOrSeq, total_steps: ScalarOrSeq, num_cycles: ScalarOrSeq = 0.5,
                              min_lr: Optional[ScalarOrSeq] = None, min_lr_rate: Optional[ScalarOrSeq] = None,
                              warmup_lr_rate: Optional[ScalarOrSeq] = None) -> Schedule:
    r"""Warmup from ``warmup_lr_rate``, then cosine to ``min_lr`` (HF
    ``get_cosine_with_min_lr_schedule_with_warmup_lr_rate``, ``cosine_warmup_with_min_lr``, times ``init``).

    For s < W: ``init * (s + 1) / max(1, W)`` (``warmup_lr_rate`` None) or
    ``init * (r + (1 - r) s / max(1, W - 1))``; then
    ``init * (m + (1 - m) (1 + cos 2 pi c p) / 2)`` with ``p = (s - W + 1) / max(1, T - W)``
    (not clamped). Exactly one of ``min_lr`` and ``min_lr_rate`` (m = min_lr / init).

    Args:
        init (float or 1-D sequence): Peak value, ``> 0``.
        warmup_steps (int or 1-D sequence): Steps of the linear warmup W, an integer ``>= 0`` (0: no warmup).
        total_steps (int or 1-D sequence): T, an integer ``>= 1``.
        num_cycles (float or 1-D sequence, optional): c, ``> 0``: the cosine
            completes c cycles over ``T - W`` steps. Default: ``0.5``.
        min_lr (float or 1-D sequence, optional): Floor of the cosine, ``>= 0``.
            Default: ``None`` (give ``min_lr_rate`` instead).
        min_lr_rate (float or 1-D sequence, optional): m = ``min_lr / init``,
            ``>= 0``. Default: ``None`` (give ``min_lr`` instead).
        warmup_lr_rate (float or 1-D sequence, optional): r, the warmup's start
            as a fraction of ``init`` (any real). Default: ``None`` (warmup
            ``init * (s + 1) / max(1, W)``).

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).
        ValueError: Both or neither of ``min_lr`` and ``min_lr_rate``.

    Example:
        >>> lr = mlx_sched.cosine_warmup_with_min_lr(1.0, 10, 110, min_lr_rate=0.1)
        >>> lr(9), lr(59)
        (array(1, dtype=float32), array(0.55, dtype=float32))
    """

    def make(i: float, w: int, t: int, c: float, m: Optional[float], r: Optional[float], wr: Optional[float]) -> List[Segment]:
        rate = _min_rate(i, m, r)
        decay = _hf_cosine(i, w, t, c, rate, shift=1)
        if w == 0:
            v0 = i * (rate + (1 - rate) * 0.5 * (1 + math.cos(2 * math.pi * c / max(1, t))))
            return from_zero(v0, decay)
        if wr is None:  # (s + 1) / W: the linear 0 -> init over W steps, one step ahead
            lin = linear_segment(0.0, i, w)
            warm = [Segment(lin.kind, lin.params, lin.n, offset=-1)]
            v0 = i / w
        else:
            warm = [linear_segment(wr * i, i, max(1, w - 1))]
            v0 = wr * i
        return from_zero(v0, joined([warm, decay], [w]))

    return build("cosine_warmup_with_min_lr",
                   [("init", init, _check_positive), ("warmup_steps", warmup_steps, _check_steps0),
                    ("total_steps", total_steps, _check_count), ("num_cycles", num_cycles, _check_cycles),
                    ("min_lr", min_lr, _OrNone(_check_nonneg)), ("min_lr_rate", min_lr_rate, _OrNone(_check_nonneg)),
                    ("warmup_lr_rate", warmup_lr_rate, _OrNone(_check_real))], make)


# The families by name (registered with @factory, in this file's order).
FAMILIES = {n: f for n, f in FACTORIES.items() if f.__module__ == __name__}
