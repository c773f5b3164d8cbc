"""GPU against CPU on the shared case list (tests/cases.py). Skipped without a GPU."""

import mlx.core as mx
import numpy as np
import pytest

from helpers import ulp_close
from cases import RANGES, SCHEDULES, STEP_ARRAY_NAMES, step_arrays

gpu = pytest.mark.skipif(
    not (mx.cuda.is_available() or mx.metal.is_available()), reason="this MLX has no GPU backend"
)


@gpu
@pytest.mark.parametrize("steps_name", STEP_ARRAY_NAMES)
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_gpu_matches_cpu_on_step_arrays(name, steps_name):
    s = SCHEDULES[name]()
    steps = step_arrays()[steps_name]
    ulp_close(s(steps, stream=mx.gpu), s(steps, stream=mx.cpu))


@gpu
@pytest.mark.parametrize("start,n", RANGES)
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_gpu_matches_cpu_in_range_mode(name, start, n):
    s = SCHEDULES[name]()
    ulp_close(s.values(n, start=start, stream=mx.gpu), s.values(n, start=start, stream=mx.cpu))


@gpu
def test_gpu_large_output_uses_64_bit_indexing():
    s = mx.array  # noqa: F841 - keep the import of mx visible in the skip reason
    from mlx_sched import stack, cosine_decay

    b = stack([cosine_decay(1.0, 1000)] * 3)
    n = 800_000_000  # 3 x 8e8 = 2.4e9 values > 2^31
    out = b.values(n, start=0, stream=mx.gpu)
    tail = out[:, -5:]
    ref = b.values(5, start=n - 5, stream=mx.cpu)
    ulp_close(tail, ref)
    del out


@pytest.mark.skipif(not mx.cuda.is_available(), reason="this MLX has no CUDA backend")
def test_cuda_kernels_are_loaded_at_import():
    """Every kernel is loaded when mlx_sched is imported, and reports its registers."""
    import mlx_sched as ms

    names = [k[0] for k in ms._ext.CUDA_KERNELS]
    fused = {f"fused_{k}" for k in ms._ext.OPTIMIZERS}  # one per optimizer (SCHED_OPTIMIZERS)
    assert "range" in names and len(names) == 1 + 11 + len(fused)  # range, 11 step dtypes, the optimizers
    assert fused <= set(names)
    assert all(regs > 0 for _, regs, _ in ms._ext.CUDA_KERNELS)
