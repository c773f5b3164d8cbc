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


class CloseToMLX:
    """The state machines' comparison with mlx.optimizers (test_optimizer_state_machine*.py):
    bit for bit on the CPU, except that a float32 step with bias correction (our
    b^t is exp(t log b), MLX's powf) or a run marked ``tolerant`` is within 4
    TOL of the values' scale; on a GPU, MLX's compiled (fused, JIT) kernels
    round an op or two differently from its eager ones, and its eager GPU ops
    from ours (seen on the H100: Adam's m and SGD's parameters one ulp apart),
    so the float32 tolerance of tests/test_fused_optimizers.py applies there.
    The machine sets ``kind``, ``hyper`` and ``groups`` ((filter, overrides) pairs)."""

    tolerant = False

    def _tol(self):
        import mlx.core as mx

        if mx.default_device() != mx.cpu:
            return True
        if self.kind == "SGD":
            return None
        bias = self.hyper.get("bias_correction") or any(o.get("bias_correction") for _, o in self.groups)
        return bias or self.tolerant

    def _close(self, a, b, what):
        import mlx.core as mx

        if bits_equal(a, b):
            return
        assert a.dtype == b.dtype and a.shape == b.shape, (what, a.dtype, b.dtype, a.shape, b.shape)
        assert self._tol(), (what, a, b)
        x, y = np.array(a.astype(mx.float32), np.float64), np.array(b.astype(mx.float32), np.float64)
        scale = max(1.0, float(np.abs(y).max()) if y.size else 1.0)
        assert np.abs(x - y).max() <= 4 * STATE_MACHINE_TOL[str(a.dtype)] * scale, (what, np.abs(x - y).max())


STATE_MACHINE_TOL = {"mlx.core.float32": 1e-5, "mlx.core.bfloat16": 2**-7}


def bits_equal(a, b):
    import mlx.core as mx

    return a.dtype == b.dtype and a.shape == b.shape and bool(mx.array_equal(a, b, equal_nan=True).item())
