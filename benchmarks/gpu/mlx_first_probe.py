"""pytest plugin for benchmarks/gpu/hang_probe.sh (mlx_first): MLX's own ops on
the GPU, then on the CPU, before the first test and any mlx_sched op. Loaded with
``PYTHONPATH=benchmarks/gpu pytest -p mlx_first_probe``."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _mlx_first():
    import mlx.core as mx
    import numpy as np

    steps = mx.arange(-300, 20_000, dtype=mx.int32)
    mx.eval(steps)
    gpu = mx.cos(steps.astype(mx.float32) * 1e-3, stream=mx.gpu)
    mx.eval(gpu)
    np.asarray(mx.sin(steps.astype(mx.float32), stream=mx.cpu))
    print("probe: MLX-only GPU eval done", np.asarray(gpu)[:2], flush=True)
    yield
