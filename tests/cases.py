"""One shared list of schedules and steps that every backend is compared on
(CPU vs CUDA in test_backends.py, CPU vs the Metal shaders' host emulation)."""

import mlx.core as mx
import numpy as np

import mlx_sched as ms

SCHEDULES = {
    "cosine": lambda: ms.cosine_decay(1e-3, 10_000, 1e-5),
    "cosine_giant": lambda: ms.cosine_decay(1.0, 2**45, 0.25),
    "linear": lambda: ms.linear_schedule(0.0, 1e-3, 1000),
    "linear_down": lambda: ms.linear_schedule(5.0, -1.0, 77),
    "exponential": lambda: ms.exponential_decay(0.1, 0.999),
    "exponential_near_one": lambda: ms.exponential_decay(1.0, 0.999999),
    "exponential_neg": lambda: ms.exponential_decay(0.1, -0.9),
    "exponential_zero": lambda: ms.exponential_decay(0.1, 0.0),
    "step": lambda: ms.step_decay(0.1, 0.5, 300),
    "step_short": lambda: ms.step_decay(1.0, 0.9, 3),
    "step_neg": lambda: ms.step_decay(1.0, -0.5, 7),
    "warmup_cosine": lambda: ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000, 1e-5)], [100]),
    "nested": lambda: ms.join_schedules(
        [ms.cosine_decay(1.0, 50), ms.join_schedules([ms.linear_schedule(2.0, 3.0, 40), ms.step_decay(1.0, 0.5, 3)], [-5]), ms.exponential_decay(0.5, 0.99)],
        [60, 500],
    ),
    "batch": lambda: ms.cosine_decay([1e-3, 3e-3, 1e-2], [1000, 2000, 4000], end=1e-5),
    "stack": lambda: ms.stack([ms.step_decay(0.1, 0.5, 30), ms.exponential_decay(0.1, 0.999), ms.linear_schedule(0, 1, 5), ms.cosine_decay(2.0, 17)]),
}


# The names of step_arrays(), for test parametrization: collecting the tests
# creates no MLX array (on the H100, GPU arrays made at collection time went
# with an intermittent hang of the first GPU evaluation; benchmarks/gpu/LOG.md).
STEP_ARRAY_NAMES = ["arange_i32", "random_i64", "giant_i64", "u64", "u8", "i16", "f32_halves", "f16", "bf16", "strided", "scalar", "f32_special"]


def step_arrays():
    rng = np.random.default_rng(7)
    return {
        "arange_i32": mx.arange(-300, 20_000, dtype=mx.int32),
        "random_i64": mx.array(rng.integers(-(2**40), 2**40, 5000)),
        "giant_i64": mx.array(rng.integers(0, 2**53, 2000)),
        "u64": mx.array(rng.integers(0, 2**63, 2000, dtype=np.uint64)),
        "u8": mx.array(rng.integers(0, 255, 300).astype(np.uint8)),
        "i16": mx.array(rng.integers(-3000, 3000, 300).astype(np.int16)),
        "f32_halves": mx.array((rng.integers(-4000, 4000, 3000) / 2).astype(np.float32)),
        "f16": mx.array(rng.integers(0, 2000, 300).astype(np.float16)),
        "bf16": mx.array(rng.integers(0, 200, 300)).astype(mx.bfloat16),
        "strided": mx.arange(0, 30_000, dtype=mx.int32).reshape(100, 300)[::3, ::-2].T,
        "scalar": mx.array(123, mx.uint64),
        "f32_special": mx.array([float("nan"), float("inf"), -float("inf"), 0.0, 1e30, -1e30], mx.float32),
    }


RANGES = [(0, 20_000), (-1000, 5000), (2**40, 3000), (2**62, 100), (-(2**62), 100), (7, 1)]

# Every schedule family (tests/families_oracle.py), alone and all in one batch.
from families_oracle import CASES as _FAMILIES  # noqa: E402

SCHEDULES.update({f"family_{k}": v[0] for k, v in _FAMILIES.items()})
SCHEDULES["families_stack"] = lambda: ms.stack([v[0]() for v in _FAMILIES.values()])
