"""Compiled schedule programs: segments and their int32 encoding.

The layout is defined in ``csrc/math/program.h``; the constants below are read
from the compiled module, so the two cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from . import _ext

WORDS = _ext.PROGRAM_WORDS
KINDS = dict(_ext.KINDS)
FLAGS = dict(_ext.FLAGS)
I64_MIN = -(2**63)
I64_MAX = 2**63 - 1

# One record: 16 words = 64 bytes, field offsets as in program.h.
RECORD = np.dtype(
    {
        "names": ["kind", "flags", "start", "offset", "n", "p"],
        "formats": ["<i4", "<i4", "<i8", "<i8", "<i8", ("<f4", 8)],
        "offsets": [0, 4, 8, 16, 24, 32],
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

    def shifted(self, boundary: int) -> "Segment":
        """This segment as part of a join piece that starts at ``boundary``."""
        start = boundary if self.start is None else max(boundary, self.start + boundary)
        return Segment(self.kind, self.params, self.n, self.flags, start, self.offset + boundary)


def float_pair(x: float) -> Tuple[float, float]:
    """x as float32 hi + float32 lo (about 48 bits)."""
    hi = float(np.float32(x))
    return hi, float(np.float32(x - hi))


def constant_segment(value: float) -> Segment:
    return Segment(KINDS["constant"], (value,))


def linear_segment(init: float, end: float, steps: int) -> Segment:
    return Segment(KINDS["linear"], (end, init - end, 1.0 / steps, init, end - init), n=steps)


def cosine_segment(init: float, end: float, decay_steps: int) -> Segment:
    return Segment(KINDS["cosine"], (end, init - end, math.pi / (2.0 * decay_steps)), n=decay_steps)


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


def encode(members: Sequence[Sequence[Segment]]) -> np.ndarray:
    """The int32 program (G, R, 16) of a batch of flattened schedules."""
    R = 1 + max(len(m) for m in members)
    rec = np.zeros((len(members), R), dtype=RECORD)
    words = rec.view(np.int32).reshape(len(members), R, WORDS)
    for g, segs in enumerate(members):
        words[g, 0, :3] = (_ext.PROGRAM_MAGIC, _ext.PROGRAM_VERSION, len(segs))
        for j, s in enumerate(segs, start=1):
            for name, v in (("start", I64_MIN if s.start is None else s.start), ("offset", s.offset)):
                if not I64_MIN <= v <= I64_MAX:
                    raise ValueError(f"join boundaries add up to {v}, beyond the int64 range of steps.")
                rec[g, j][name] = v
            rec[g, j]["kind"] = s.kind
            rec[g, j]["flags"] = s.flags
            rec[g, j]["n"] = s.n
            p = np.zeros(8, np.float32)
            p[: len(s.params)] = s.params
            rec[g, j]["p"] = p
    return np.ascontiguousarray(words)
