"""What the fused optimizers share that is not the optimizer: argument
checks, tree walks (paths, plans that refill a tree without parsing paths)."""

from __future__ import annotations

import math
import numbers
import weakref
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, Union, cast

import mlx.core as mx
import numpy as np
from mlx.utils import tree_flatten as _tree_flatten

from .._families import constant
from .._schedule import Schedule

Rate = Union[float, int, Schedule]
# a float argument: one value, or (member_axis) one per member: a batch of
# schedules, a sequence of values or schedules, a 1-D array
Hyper = Union[float, int, Schedule, Sequence[Union[float, int, Schedule]], mx.array, np.ndarray]
Predicate = Callable[[str, mx.array], bool]
Group = Tuple[Predicate, Mapping[str, Any]]

_FLOAT_TYPES = (mx.float32, mx.float16, mx.bfloat16)


def _as_schedule(name: str, value: Any) -> Schedule:
    """A float or an unbatched mlx-sched schedule, as a schedule."""
    if isinstance(value, Schedule):
        if value.batched:
            raise ValueError(f"{name} must be one schedule, not a batch of {len(value)} (a sweep of models "
                             "stacked along axis 0: pass member_axis=0).")
        return value
    if isinstance(value, (mx.array, np.ndarray, np.generic)) and value.size == 1 and \
            not isinstance(value, np.bool_) and getattr(value, "dtype", None) not in (mx.bool_, np.bool_):
        value = value.item()  # numpy scalars and one-element arrays are numbers, as in mlx.optimizers
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
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


def _real_or_schedule(name: str, value: Any) -> Any:
    """A hyperparameter other than the learning rate: a finite float, or one
    (unbatched) mlx-sched schedule, evaluated at the step in the kernel."""
    if isinstance(value, Schedule):
        return _as_schedule(name, value)
    # numpy scalars and one-element arrays are numbers here, as in mlx.optimizers
    if isinstance(value, (mx.array, np.ndarray)) and value.size == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float or an mlx_sched schedule, but got {type(value).__name__}.")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, but got {value}.")
    return float(value)


def _pair(name: str, value: Any) -> List[Any]:
    """betas: two floats or schedules."""
    try:
        pair = list(value)
    except TypeError:
        raise TypeError(f"{name} must be two floats, but got {type(value).__name__}.") from None
    if len(pair) != 2:
        raise ValueError(f"{name} must be two floats, but got {len(pair)}.")
    return [_real_or_schedule(f"{name}[{i}]", b) for i, b in enumerate(pair)]


def _check_betas(betas: Any, optimizer: str) -> None:
    """MLX's check of each number among betas (a schedule is taken as it comes)."""
    for i, beta in enumerate(betas):
        beta = _real_or_schedule(f"betas[{i}]", beta)
        if not isinstance(beta, Schedule) and not 0.0 <= beta < 1.0:
            raise ValueError(f"{optimizer} beta{i + 1} should be in [0, 1), {beta} was provided instead")


_MEMBERS: "weakref.WeakKeyDictionary[Schedule, List[Schedule]]" = weakref.WeakKeyDictionary()


def _members_of(batch: Schedule) -> List[Schedule]:
    """A batch's members as unbatched schedules, made once per batch (a
    rebuild after an attribute change reuses them)."""
    got = _MEMBERS.get(batch)
    if got is None:
        got = _MEMBERS[batch] = [batch[m] for m in range(len(batch))]
    return got


def _per_member(name: str, value: Any) -> Optional[List[Any]]:
    """A hyperparameter given per member (an optimizer with ``member_axis``):
    a batch of G schedules, or a sequence or 1-D array of G numbers or
    (unbatched) schedules, as the G values; ``None`` for one value, which
    every member shares."""
    if isinstance(value, Schedule):
        return list(_members_of(value)) if value.batched else None
    if isinstance(value, (mx.array, np.ndarray)):
        if value.ndim != 1:
            return None  # a scalar, or checked (and refused) as one
        if isinstance(value, mx.array):
            real = mx.issubdtype(value.dtype, mx.integer) or mx.issubdtype(value.dtype, mx.floating)
            host = np.array(value.astype(mx.float32)) if real else None  # (bfloat16 has no numpy form)
        else:
            real, host = value.dtype.kind in "iuf", value
        if not real:
            raise TypeError(f"{name} must hold a real number per member, but got an array of {value.dtype}.")
        return [float(v) for v in np.asarray(host, np.float64)]
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{name} must hold a value per member, but got an empty {type(value).__name__}.")
        for m, v in enumerate(value):
            if isinstance(v, Schedule) and v.batched:
                raise ValueError(f"{name}[{m}] must be one schedule, not a batch of {len(v)}.")
            if isinstance(v, (list, tuple)):
                raise TypeError(f"{name}[{m}] must be a float or an mlx_sched schedule, but got "
                                f"{type(v).__name__}.")
        return list(value)
    return None


def _at(value: Any, step: mx.array) -> Any:
    """A hyperparameter's value at the step: a schedule evaluated, a float as is."""
    return value(step) if isinstance(value, Schedule) else value


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
