"""Assertions shared by the test modules (test modules import this, never
one another)."""

import numpy as np


def assert_close(ours, ref, sc, rtol=1e-5, atol_rel=3e-6):
    """|ours - ref| within rtol of the value plus atol_rel of the schedule's scale;
    ref is rounded to float32 first (the best a float32 result can be)."""
    ours = np.asarray(ours, np.float64)
    with np.errstate(over="ignore"):
        ref = np.asarray(ref, np.float64).astype(np.float32).astype(np.float64)
    both_nan = np.isnan(ours) & np.isnan(ref)
    same_inf = np.isinf(ours) & (ours == ref)
    with np.errstate(invalid="ignore"):
        # (MLX flushes subnormals to zero: differences below the smallest normal are not counted)
        ok = both_nan | same_inf | (np.abs(ours - ref) <= atol_rel * sc + rtol * np.abs(ref) + 1.2e-38)
    bad = np.flatnonzero(~ok)
    assert bad.size == 0, f"{bad.size} mismatches, first at {bad[:5]}: ours {ours[bad[:5]]} ref {ref[bad[:5]]}"


def ulp_close(a, b, ulps=2):
    """Elementwise within `ulps` float32 ulps of the larger magnitude (NaN == NaN)."""
    a = np.asarray(a, np.float32)
    b = np.asarray(b, np.float32)
    both_nan = np.isnan(a) & np.isnan(b)
    same = a == b
    with np.errstate(invalid="ignore", over="ignore"):
        m = np.maximum(np.abs(a), np.abs(b))
        ulp = np.spacing(m.astype(np.float32))
        ok = both_nan | same | (np.abs(a.astype(np.float64) - b.astype(np.float64)) <= ulps * ulp)
    bad = np.flatnonzero(~ok.ravel())
    assert bad.size == 0, f"{bad.size} values differ by more than {ulps} ulp, e.g. {a.ravel()[bad[:4]]} vs {b.ravel()[bad[:4]]}"
