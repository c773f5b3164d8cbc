"""The schedule factories of ``mlx.optimizers``, compiled.

Every factory validates its arguments exactly as ``mlx.optimizers`` 0.32.4
does (same exception types, same messages), then builds a :class:`Schedule`:
a list of segments per member, encoded once into an int32 program that one
MLX primitive evaluates.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

import mlx.core as mx
import numpy as np

from . import _ext
from ._program import (
    Segment,
    constant_segment,
    cosine_segment,
    exponential_segment,
    factors,
    from_factors,
    linear_segment,
    optax_exponential,
)
from ._schedule import Schedule, _as_step, build, combinator, factory
from ._validate import (
    _OrNone,
    _broadcast,
    _check_bool,
    _check_boundary,
    _check_count,
    _check_positive,
    _check_rate,
    _check_real,
    _check_steps0,
    _fmt,
    _is_scalar,
    _plain,
)

Scalar = Union[int, float]
ScalarOrSeq = Union[Scalar, Sequence[Scalar], mx.array, np.ndarray]


# ---------------------------------------------------------------- factories


@factory
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
        init (float or 1-D sequence): Initial value (any real).
        decay_rate (float or 1-D sequence): Multiplicative factor to decay by
            per ``transition_steps`` steps. Any real when every keyword is at
            its default (MLX's factory); ``> 0`` otherwise.
        transition_steps (int or 1-D sequence, optional): Steps per factor of
            ``decay_rate``, an integer ``>= 1``. Default: ``1``.
        staircase (bool, optional): Decay in whole factors every
            ``transition_steps`` steps (floor the exponent). Default: ``False``.
        begin (int or 1-D sequence, optional): Hold ``init`` for this many
            steps, an integer ``>= 0``. Default: ``0``.
        end (float or 1-D sequence, optional): Value where the decay stops (a
            floor for ``decay_rate < 1``, a ceiling otherwise). Default:
            ``None`` (no clip).

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.exponential_decay(1e-1, 0.9)
        >>> lr(5)
        array(0.059049, dtype=float32)
        >>> mlx_sched.exponential_decay(1.0, 0.5, transition_steps=10, staircase=True, end=0.2)(35)
        array(0.2, dtype=float32)
    """
    if _is_scalar(transition_steps, 1) and staircase is False and _is_scalar(begin, 0) and end is None:
        return build(
            "exponential_decay",
            [("init", init, _check_real), ("decay_rate", decay_rate, _check_real)],
            lambda i, r: [exponential_segment(i, r)],
            keywords=False,
        )
    staircase = _check_bool("staircase", staircase)
    return build(
        "exponential_decay",
        [("init", init, _check_real), ("decay_rate", decay_rate, _check_rate),
         ("transition_steps", transition_steps, _check_count), ("staircase", staircase, None),
         ("begin", begin, _check_steps0), ("end", end, _OrNone(_check_real))],
        lambda i, r, n, b, e: optax_exponential(i, r, n, staircase, b, e),
    )


@factory
def step_decay(init: ScalarOrSeq, decay_rate: ScalarOrSeq, step_size: ScalarOrSeq) -> Schedule:
    r"""Make a step decay scheduler.

    .. math:: \lambda(s) = \text{init} \cdot \text{decay\_rate}^{\lfloor s / \text{step\_size} \rfloor}

    The floor division is done on integers (exact at any step; negative steps
    floor towards -inf, as MLX's ``//``).

    Args:
        init (float or 1-D sequence): Initial value.
        decay_rate (float or 1-D sequence): Multiplicative factor to decay by.
        step_size (int or 1-D sequence): Decay every ``step_size`` steps, an
            integer ``>= 1``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: ``step_size < 1`` or a value out of range (named).

    Example:
        >>> lr = mlx_sched.step_decay(1e-1, 0.9, 10)
        >>> lr(21)
        array(0.081, dtype=float32)
    """
    return build(
        "step_decay",
        [("init", init, _check_real), ("decay_rate", decay_rate, _check_real), ("step_size", step_size, _check_count)],
        lambda i, r, n: [exponential_segment(i, r, n, staircase=True)],
        keywords=False,
    )


@factory
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
        init (float or 1-D sequence): Initial value (any real).
        decay_steps (int or 1-D sequence): Number of steps to decay over, an
            integer ``>= 1``.
        end (float or 1-D sequence, optional): Final value (any real). Default: ``0``.
        exponent (float or 1-D sequence, optional): Power of the cosine
            factor, ``> 0`` (keyword only). Default: ``1``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: An argument out of its range (named in the message).

    Example:
        >>> lr = mlx_sched.cosine_decay(1e-1, 1000)
        >>> lr(5)
        array(0.0999938, dtype=float32)
        >>> mlx_sched.cosine_decay(0.1, 100, exponent=2)(50)
        array(0.025, dtype=float32)
    """
    if _is_scalar(exponent, 1):
        return build(
            "cosine_decay",
            [("init", init, _check_real), ("decay_steps", decay_steps, _check_count), ("end", end, _check_real)],
            lambda i, n, e: [cosine_segment(i, e, n)],
            keywords=False,
        )
    return build(
        "cosine_decay",
        [("init", init, _check_real), ("decay_steps", decay_steps, _check_count), ("end", end, _check_real),
         ("exponent", exponent, _check_positive)],
        lambda i, n, e, x: [cosine_segment(i, e, n, x)],
    )


@factory
def linear_schedule(init: ScalarOrSeq, end: ScalarOrSeq, steps: ScalarOrSeq) -> Schedule:
    r"""Make a linear scheduler.

    .. math:: \lambda(s) = \text{init} + \min(s, \text{steps}) \cdot \frac{\text{end} - \text{init}}{\text{steps}}

    ``end`` for steps beyond ``steps``; negative steps extrapolate (as MLX).

    Args:
        init (float or 1-D sequence): Initial value (any real).
        end (float or 1-D sequence): Final value (any real).
        steps (int or 1-D sequence): Number of steps to apply the schedule
            over, an integer ``>= 1``.

    Returns:
        Schedule: The schedule; a batch when any argument is a 1-D sequence.

    Raises:
        TypeError: An argument of the wrong type (named in the message).
        ValueError: ``steps < 1`` or a value out of range (named).

    Example:
        >>> lr = mlx_sched.linear_schedule(0, 1e-1, 100)
        >>> lr(50)
        array(0.05, dtype=float32)
    """
    return build(
        "linear_schedule",
        [("init", init, _check_real), ("end", end, _check_real), ("steps", steps, _check_count)],
        lambda i, e, n: [linear_segment(i, e, n)],
        keywords=False,
    )


@combinator
def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[Any]) -> Schedule:
    r"""Join multiple schedules to create a new schedule.

    Schedule :math:`i+1` receives the number of steps since boundary
    :math:`i`; at a step, the last schedule whose boundary it has reached is
    used (exactly ``mlx.optimizers.join_schedules``'s nested ``where``, also
    for unsorted boundaries). Pieces may be any mlx-sched schedules, joins and
    batches included: batched pieces must have equal sizes, unbatched pieces
    broadcast; each boundary may be an int or a 1-D sequence (one per member).

    Args:
        schedules (list of Schedule): At least one mlx-sched schedule
            (Python callables cannot be compiled); batched ones must have
            equal sizes.
        boundaries (list of int or of 1-D sequences): ``len(schedules) - 1``
            integer steps at which to move to the next schedule (any order,
            as MLX); a 1-D sequence gives one boundary per batch member.

    Returns:
        Schedule: The joined schedule; a batch when any piece or boundary is.

    Raises:
        TypeError: ``schedules`` or ``boundaries`` not a list, or a piece that
            is not an mlx-sched schedule.
        ValueError: No schedule, a wrong number of boundaries, or batch sizes
            that differ.

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
    spec = {"kind": "join_schedules", "schedules": [s.to_dict() for s in schedules], "boundaries": _plain(list(boundaries))}
    return Schedule(members, G is not None, desc, spec)


@combinator
def stack(schedules: Sequence[Schedule]) -> Schedule:
    r"""Batch schedules of any kinds (batches are concatenated) into one batch.

    Member :math:`g` of the result is :math:`\lambda_g(s)`, the ``g``-th
    schedule (a batch contributes all its members, in order); every member is
    evaluated by the same single primitive.

    Args:
        schedules (sequence of Schedule): At least one mlx-sched schedule,
            batched or not.

    Returns:
        Schedule: A batch with one member per unbatched schedule plus the
        members of each batch (``len`` is their total).

    Raises:
        TypeError: An element that is not an mlx-sched schedule.
        ValueError: An empty sequence.

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
    spec = {"kind": "stack", "schedules": [s.to_dict() for s in schedules]}
    return Schedule(members, True, "stack([" + ", ".join(s._desc for s in schedules) + "])", spec)


@combinator
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

    Args:
        *schedules (Schedule): One or more mlx-sched schedules (or a single
            list of them); batched ones must have equal sizes.

    Returns:
        Schedule: The product; a batch when any factor is.

    Raises:
        TypeError: A factor that is not an mlx-sched schedule.
        ValueError: No factor, batch sizes that differ, or more than 8
            factors in all.

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
    spec = {"kind": "multiply", "schedules": [s.to_dict() for s in schedules]}
    return Schedule(members, G is not None, desc, spec)


def evaluate(program: mx.array, step: Any, batched: bool = True, *, stream: Any = None) -> mx.array:
    r"""Evaluate a raw program (``Schedule.program``) at ``step``.

    Useful where the program itself is an input, e.g. of an ``mx.compile``d
    function: new hyperparameters (same shapes) then need no retrace.

    .. math:: y = \lambda_{\text{program}}(\text{step})

    Args:
        program (mx.array): An int32 program, ``Schedule.program`` of shape
            ``(G, R, 16)``.
        step (int, float or mx.array): The step(s): a Python number or an
            array of any integer or floating dtype and any shape (not bool or
            complex).
        batched (bool, optional): Whether the program is a batch (the output
            gets a leading ``G`` axis). Default: ``True``.
        stream (mx.Stream or mx.Device, optional): Where to evaluate
            (keyword only). Default: ``None`` (MLX's default stream).

    Returns:
        mx.array: float32 values of shape ``step.shape`` (``(G, *step.shape)``
        when ``batched``).

    Raises:
        TypeError: A step of a bool, complex or non-numeric type.
        ValueError: A malformed program or a step that does not fit in 64 bits.
    """
    return _ext.schedule_eval(program, _as_step(step), batched, stream=stream)
