"""Compiled schedule programs: segments and their int32 encoding.

The layout is defined in ``csrc/math/program.h``; the constants below are read
from the compiled module, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _ext

WORDS = _ext.PROGRAM_WORDS
KINDS = dict(_ext.KINDS)
FLAGS = dict(_ext.FLAGS)
MAX_FACTORS = _ext.PROGRAM_MAX_FACTORS
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
F32_MAX = float(np.finfo(np.float32).max)

# One record: 16 words = 64 bytes, field offsets as in program.h.
RECORD = np.dtype(
    {
        "names": ["kind", "flags", "start", "offset", "n", "p", "m"],
        "formats": ["<i4", "<i4", "<i8", "<i8", "<i8", ("<f4", 6), "<i8"],
        "offsets": [0, 4, 8, 16, 24, 32, 56],
        "itemsize": 64,
    }
)


@dataclass(frozen=True)
class Segment:
    """One piece of a flattened schedule.

    Active for steps ``>= start`` (``None``: always) unless a later segment is;
    evaluated at ``step - offset``. ``params`` are float64 values prepared on the
    host and stored as float32.
    """

    kind: int
    params: Tuple[float, ...]
    n: int = 1
    flags: int = 0
    start: Optional[int] = None
    offset: int = 0
    m: int = 0

    def shifted(self, boundary: int) -> "Segment":
        """This segment as part of a join piece that starts at ``boundary``."""
        start = boundary if self.start is None else max(boundary, self.start + boundary)
        return Segment(self.kind, self.params, self.n, self.flags, start, self.offset + boundary, self.m)


class Product(tuple):  # type: ignore[type-arg]
    """A member that is the product of two or more factors, each a tuple of
    segments (a plain member); ``mlx_sched.multiply`` makes them."""


Member = Union[Tuple["Segment", ...], Product]


def factors(member: Sequence[object]) -> List[Tuple["Segment", ...]]:
    """The factors of a member: itself if plain."""
    return list(member) if isinstance(member, Product) else [tuple(member)]  # type: ignore[arg-type]


def from_factors(fs: Sequence[Sequence["Segment"]]) -> Member:
    """A member from its factors (one factor: a plain member)."""
    if len(fs) > MAX_FACTORS:
        raise ValueError(f"a product has at most {MAX_FACTORS} factors, but this one has {len(fs)}.")
    return tuple(fs[0]) if len(fs) == 1 else Product(tuple(f) for f in fs)


def float_pair(x: float) -> Tuple[float, float]:
    """x as float32 hi + float32 lo (about 48 bits)."""
    hi = float(np.float32(x))
    return hi, float(np.float32(x - hi))


def constant_segment(value: float) -> Segment:
    return Segment(KINDS["constant"], (value,))


def linear_segment(init: float, end: float, steps: int) -> Segment:
    return Segment(KINDS["linear"], (end, init - end, 1.0 / steps, init, end - init), n=steps)


def cosine_segment(init: float, end: float, decay_steps: int, exponent: float = 1.0, flags: int = 0) -> Segment:
    """end + (init - end) * cos^2(pi t / (2 n))^exponent, held at end from t = n
    (flags: periodic = restart every n steps, unclamped = no hold)."""
    return Segment(KINDS["cosine"], (end, init - end, math.pi / (2.0 * decay_steps), exponent, init, end - init),
                   n=decay_steps, flags=flags)


def power_segment(c0: float, c1: float, scale: float, power: float, shift: float, shape: str = "id") -> Segment:
    """c0 + c1 * g((t + shift) * scale)^power, g = identity, cos^2 or sin^2."""
    whole = math.floor(shift)
    flags = {"id": 0, "cos2": FLAGS["shape_cos2"], "sin2": FLAGS["shape_sin2"]}[shape]
    return Segment(KINDS["power"], (c0, c1, scale, power, shift - whole), n=1, flags=flags, m=int(whole))


def triangle_segment(base: float, amplitude: float, up: int, down: int, mode: str = "triangular", gamma: float = 1.0) -> Segment:
    """base + amplitude * tri(t) * (1 | 2^-cycle | gamma^t): a triangle wave rising for
    ``up`` steps and falling for ``down``."""
    flags = {"triangular": 0, "triangular2": FLAGS["halving"], "exp_range": FLAGS["exp_range"]}[mode]
    hi, lo = float_pair(math.log(gamma)) if mode == "exp_range" else (0.0, 0.0)
    return Segment(KINDS["triangle"], (base, amplitude, 1.0 / up, 1.0 / down, hi, lo), n=up, flags=flags, m=up + down)


def exponential_segment(init: float, rate: float, n: int = 1, staircase: bool = False) -> Segment:
    flags = FLAGS["staircase"] if staircase else 0
    if rate < 0:
        flags |= FLAGS["neg_rate"]
    if rate == 0:
        flags |= FLAGS["zero_rate"]
        log_rate = 0.0
    else:
        log_rate = math.log(abs(rate)) / (1 if staircase else n)
    hi, lo = float_pair(log_rate)
    return Segment(KINDS["exponential"], (init, hi, lo), n=n, flags=flags)


def encode(members: Sequence[Sequence[object]], what: str = "the schedule") -> np.ndarray:
    """The int32 program (G, R, 16) of a batch of flattened schedules (plain
    members or Products; see program.h)."""
    fmembers = [factors(m) for m in members]
    R = max(sum(1 + len(f) for f in fs) for fs in fmembers)
    rec = np.zeros((len(members), R), dtype=RECORD)
    words = rec.view(np.int32).reshape(len(members), R, WORDS)
    for g, fs in enumerate(fmembers):
        h = 0  # the record of this factor's header
        for k, segs in enumerate(fs):
            words[g, h, :4] = (_ext.PROGRAM_MAGIC, _ext.PROGRAM_VERSION, len(segs), len(fs) if k == 0 else 1)
            for j, s in enumerate(segs, start=h + 1):
                _encode_segment(rec[g, j], s, what)
            h += 1 + len(segs)
    return np.ascontiguousarray(words)


def _encode_segment(r: np.void, s: "Segment", what: str) -> None:
    for name, v in (("start", I64_MIN if s.start is None else s.start), ("offset", s.offset)):
        if not I64_MIN <= v <= I64_MAX:
            raise ValueError(f"join boundaries add up to {v}, beyond the int64 range of steps.")
        r[name] = v
    r["kind"] = s.kind
    r["flags"] = s.flags
    r["n"] = s.n
    r["m"] = s.m
    for p in s.params:
        if not abs(p) <= F32_MAX:  # also NaN
            raise ValueError(
                f"{what}: a value derived from its hyperparameters ({p}) is beyond float32's range "
                f"(|x| <= {F32_MAX:.4g}); use smaller values."
            )
    p32 = np.zeros(6, np.float32)
    p32[: len(s.params)] = s.params
    r["p"] = p32


# ------------------------------------------------------------ composition


def joined(pieces: Sequence[Sequence[Segment]], boundaries: Sequence[int]) -> List[Segment]:
    """The segments of join_schedules(pieces, boundaries) for one member."""
    segs: List[Segment] = list(pieces[0])
    for piece, b in zip(pieces[1:], boundaries):
        segs.extend(seg.shifted(b) for seg in piece)
    return segs


def from_zero(value_at_zero: float, segs: Sequence[Segment]) -> List[Segment]:
    """segs for steps >= 0, held at their step-0 value before."""
    return joined([[constant_segment(value_at_zero)], segs], [0])


def _exp_value(init: float, rate: float, n: int, staircase: bool, d: int) -> float:
    """init * rate^p, p = d / n (or floor), in float64: the clip oracle of optax's exponential_decay."""
    p = d // n if staircase else d / n
    lm = p * math.log(rate)
    if lm > 709.0:
        return math.copysign(math.inf, init) if init else 0.0
    return init * math.exp(lm)


def optax_exponential(init: float, rate: float, n: int, staircase: bool, begin: int, end: Optional[float]) -> List[Segment]:
    """optax.exponential_decay (rate > 0): init up to ``begin``, then
    init * rate^((s - begin) / n) (floor for staircase), clipped by ``end``
    from below (rate < 1) or above. The clip becomes a constant segment from
    the step where it takes over (found on the float64 formula; the decay is
    monotone, so the clipped steps are a prefix or a suffix)."""
    exp_piece = exponential_segment(init, rate, n, staircase)
    if end is None:
        return joined([[constant_segment(init)], [exp_piece]], [begin])
    lower = rate < 1.0

    def clipped(d: int) -> bool:
        v = _exp_value(init, rate, n, staircase, d)
        return v < end if lower else v > end

    last = 2**62 - 1 - max(begin, 0)
    first, final = clipped(0), clipped(last)
    head = constant_segment(end if first else init)
    if first == final:
        tail = constant_segment(end) if first else exp_piece
        return joined([[head], [tail]], [begin])
    lo, hi = 0, last  # clipped(lo) == first != clipped(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if clipped(mid) == first:
            lo = mid
        else:
            hi = mid
    # steps begin .. begin + hi - 1 as at d = 0, from begin + hi the other way
    a, b = (constant_segment(end), exp_piece) if first else (exp_piece, constant_segment(end))
    segs = joined([[head], [a]], [begin])
    b_seg = b.shifted(begin)
    segs.append(Segment(b_seg.kind, b_seg.params, b_seg.n, b_seg.flags, begin + hi, b_seg.offset, b_seg.m))
    return segs
