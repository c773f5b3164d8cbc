"""Independent float64 references, written from mlx.optimizers' formulas.

Steps are Python ints (exact at any size); clamps, floor divisions and the
period of the cosine are reduced on integers, the rest is numpy float64.
A schedule spec is a nested tuple:
    ("cosine", init, decay_steps, end) | ("linear", init, end, steps)
    ("exp", init, rate) | ("step", init, rate, step_size)
    ("join", [spec, ...], [boundary, ...])
    ("cosine_e", init, decay_steps, end, exponent)   (mlx_sched only: optax's exponent)
    ("mul", [spec, ...])                             (mlx_sched only: multiply)
"""

import math

import numpy as np


def value(spec, s):
    """The value of `spec` at one integer or float step `s` (float64)."""
    kind = spec[0]
    if kind == "cosine":
        _, init, n, end = spec
        if isinstance(s, float):
            s = min(s, n)
            return end + 0.5 * (1.0 + math.cos(math.pi * s / n)) * (init - end)
        s = min(s, n) % (2 * n)  # cos(pi s / n) has period 2n in s
        return end + 0.5 * (1.0 + math.cos(math.pi * s / n)) * (init - end)
    if kind == "linear":
        _, init, end, n = spec
        s = min(s, n)
        return init + s * ((end - init) / n)
    if kind == "exp":
        _, init, rate = spec
        if rate == 0:
            return init * (1.0 if s == 0 else (0.0 if s > 0 else math.inf))
        if rate < 0 and float(s) != math.floor(s):
            return math.nan
        lm = float(s) * math.log(abs(rate))
        mag = math.inf if lm > 709.7 else math.exp(lm)
        sign = -1.0 if rate < 0 and int(s) % 2 else 1.0
        return init * sign * mag
    if kind == "step":
        _, init, rate, n = spec
        k = math.floor(s) // n
        return value(("exp", init, rate), k)
    if kind == "cosine_e":
        _, init, n, end, e = spec
        x = min(s, n)
        x = x if isinstance(s, float) else x % (2 * n)
        return end + (init - end) * (0.5 * (1.0 + math.cos(math.pi * x / n))) ** e
    if kind == "mul":
        out = 1.0
        for p in spec[1]:
            out *= value(p, s)
        return out
    if kind == "join":
        _, pieces, bounds = spec
        out = value(pieces[0], s)
        for b, p in zip(bounds, pieces[1:]):
            if not s < b:
                out = value(p, s - b)
        return out
    raise ValueError(kind)


def values(spec, steps):
    """float64 values at each step of a sequence of ints/floats."""
    return np.array([value(spec, s) for s in steps], dtype=np.float64)


def scale(spec):
    """The magnitude of a schedule's values: tolerances are relative to it."""
    kind = spec[0]
    if kind == "join":
        return max(scale(p) for p in spec[1])
    if kind == "mul":
        return float(np.prod([scale(p) for p in spec[1]]))
    if kind == "cosine_e":
        return max(abs(spec[1]), abs(spec[3]))
    if kind in ("cosine", "linear"):
        return max(abs(spec[1]), abs(spec[2 if kind == "linear" else 3]))
    return abs(spec[1])


def build(module, spec):
    """The schedule of `spec` from mlx_sched or mlx.optimizers (same API)."""
    kind = spec[0]
    if kind == "cosine":
        return module.cosine_decay(spec[1], spec[2], spec[3])
    if kind == "linear":
        return module.linear_schedule(spec[1], spec[2], spec[3])
    if kind == "exp":
        return module.exponential_decay(spec[1], spec[2])
    if kind == "step":
        return module.step_decay(spec[1], spec[2], spec[3])
    if kind == "cosine_e":
        return module.cosine_decay(spec[1], spec[2], spec[3], exponent=spec[4])
    if kind == "mul":
        return module.multiply(*[build(module, p) for p in spec[1]])
    return module.join_schedules([build(module, p) for p in spec[1]], list(spec[2]))
