"""Argument checks shared by every schedule factory (``_schedules.py``, the
five of ``mlx.optimizers`` and the combinators; ``_families.py``; the
name registry ``_registry.py``).

A check takes ``(name, value)`` and returns the value as the program needs it,
or raises with the argument's name in the message (``mlx.optimizers``' own
wording where MLX has the check). ``_broadcast`` applies checks to scalars and
1-D sequences alike and finds the batch size.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union, cast

import mlx.core as mx
import numpy as np

from ._program import F32_MAX

Check = Callable[[str, Any], Any]

_STEP_LIMIT = 2**62  # step counts and boundaries: room for sums without overflow


def _int_arg(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name} must be an integer, but got {type(v).__name__}.")
    return int(v)


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


def _is_scalar(v: Any, d: int) -> bool:
    """v is the number d (not a sequence or an array of several values)."""
    v = _scalar("", v)
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and v == d


def _fmt(v: Any) -> str:
    return repr(v.tolist() if isinstance(v, (mx.array, np.ndarray)) else v)


def _plain(v: Any) -> Any:
    """A hyperparameter as plain JSON types (lists for sequences and arrays)."""
    if isinstance(v, (mx.array, np.ndarray, np.generic)):
        return v.tolist()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _check_steps0(name: str, v: Any) -> int:
    """A step count that may be 0 (a warmup, a begin)."""
    return _check_steps_at_least(name, v, 0, f"{name} must be >= 0, but got {v}.")


def _check_positive(name: str, v: Any) -> float:
    v = _check_real(name, v)
    if not v > 0:
        raise ValueError(f"{name} must be > 0, but got {v}.")
    return float(v)


def _check_nonneg(name: str, v: Any) -> float:
    v = _check_real(name, v)
    if v < 0:
        raise ValueError(f"{name} must be >= 0, but got {v}.")
    return float(v)


def _check_unit(name: str, v: Any) -> float:
    v = _check_real(name, v)
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], but got {v}.")
    return float(v)


def _check_choice(name: str, v: Any, choices: Sequence[str]) -> str:
    if v not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}, but got {v!r}.")
    return str(v)


def _check_bool(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise TypeError(f"{name} must be a bool, but got {type(v).__name__}.")
    return v


def _check_rate(name: str, v: Any) -> float:
    v = _check_real(name, v)
    if not v > 0:
        raise ValueError(f"{name} must be > 0 (optax's exponential_decay), but got {v}.")
    return float(v)


class _OrNone:
    """The check of an argument that may be None as a whole (``make`` then gets None)."""

    def __init__(self, check: Check):
        self.check = check


Arg = Tuple[str, Any, Union[Check, _OrNone, None]]


def _none(name: str, v: Any) -> None:
    return None
