"""mlx-sched: MLX learning-rate schedules compiled into one primitive.

Drop-in for the schedule factories of ``mlx.optimizers``::

    import mlx.optimizers as optim, mlx_sched as ms
    lr = ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000)], [100])
    opt = optim.AdamW(learning_rate=lr)
"""

import mlx.core as _mx  # first: loads libmlx and registers mx.array with nanobind

from ._build_config import MLX_VERSION as _BUILT_MLX_VERSION

_MLX_VERSION: str = getattr(_mx, "__version__")  # (not in mlx's own stubs)

if _MLX_VERSION != _BUILT_MLX_VERSION:
    raise ImportError(
        f"mlx_sched was built against mlx {_BUILT_MLX_VERSION}, but mlx {_MLX_VERSION} is "
        f"installed. Install mlx=={_BUILT_MLX_VERSION}, or rebuild mlx-sched against mlx "
        f"{_MLX_VERSION} (pip install --no-cache-dir --force-reinstall mlx-sched)."
    )

from . import _ext  # noqa: E402
from ._schedules import (  # noqa: E402
    Schedule,
    cosine_decay,
    evaluate,
    exponential_decay,
    from_config,
    from_dict,
    grid,
    join_schedules,
    linear_schedule,
    stack,
    step_decay,
)

from ._families import (  # noqa: E402
    constant,
    cosine_onecycle,
    cosine_restarts,
    cosine_with_min_lr,
    cyclic,
    inverse_sqrt,
    linear_onecycle,
    multistep_decay,
    onecycle,
    piecewise_constant,
    piecewise_interpolate,
    polynomial_decay,
    sgdr,
    warmup_constant,
    warmup_cosine_decay,
    warmup_exponential_decay,
    warmup_stable_decay,
)

__version__ = "0.1.0"


def _cuda_warm_up() -> None:
    """One tiny MLX evaluation on the GPU and one on the CPU reading it.

    On the H100 (mlx-cuda 0.32.4), when one of this package's kernels was among
    the first GPU work of a process, waiting for its result sometimes never
    returned (GPU idle, no CUDA error; 4 of 12 probes). With this warm-up first,
    0 of 11 did (benchmarks/gpu/LOG.md). MLX_SCHED_NO_WARMUP=1 skips it.
    """
    import os

    if os.environ.get("MLX_SCHED_NO_WARMUP") or not _mx.cuda.is_available():
        return
    x = _mx.arange(8, dtype=_mx.int32)
    _mx.eval(x)
    g = _mx.cos(x.astype(_mx.float32), stream=_mx.gpu)
    _mx.eval(g)
    _mx.eval(_mx.sin(g, stream=_mx.cpu))


if getattr(_ext, "GPU_BACKEND", "") == "cuda":
    _cuda_warm_up()

__all__ = [
    "Schedule",
    "constant",
    "cosine_decay",
    "cosine_onecycle",
    "cosine_restarts",
    "cosine_with_min_lr",
    "cyclic",
    "evaluate",
    "exponential_decay",
    "from_config",
    "from_dict",
    "grid",
    "inverse_sqrt",
    "join_schedules",
    "linear_onecycle",
    "linear_schedule",
    "multistep_decay",
    "onecycle",
    "piecewise_constant",
    "piecewise_interpolate",
    "polynomial_decay",
    "sgdr",
    "stack",
    "step_decay",
    "warmup_constant",
    "warmup_cosine_decay",
    "warmup_exponential_decay",
    "warmup_stable_decay",
]
