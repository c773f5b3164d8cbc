"""mlx-sched: MLX learning-rate schedules compiled into programs that one MLX primitive evaluates.

Drop-in for the schedule factories of ``mlx.optimizers``::

    import mlx.optimizers as optim, mlx_sched as ms
    lr = ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000)], [100])
    opt = optim.AdamW(learning_rate=lr)
"""

from ._build_config import MLX_VERSION as _BUILT_MLX_VERSION
from ._import_check import no_library_message as _no_library_message, version_message as _version_message

try:
    import mlx.core as _mx  # first: loads libmlx and registers mx.array with nanobind
except ImportError as _e:  # no libmlx (plain `pip install mlx-sched` on Linux), mismatched mlx/backend
    _msg = _no_library_message(_e, _BUILT_MLX_VERSION)
    if _msg is None:
        raise
    raise ImportError(_msg) from _e

_MLX_VERSION: str = getattr(_mx, "__version__")  # (not in mlx's own stubs)

if _MLX_VERSION != _BUILT_MLX_VERSION:
    raise ImportError(_version_message(_BUILT_MLX_VERSION, _MLX_VERSION))

from . import _ext  # noqa: E402
from ._schedule import Schedule  # noqa: E402
from ._schedules import (  # noqa: E402
    cosine_decay,
    evaluate,
    exponential_decay,
    join_schedules,
    linear_schedule,
    multiply,
    stack,
    step_decay,
)
from ._spec import from_config, from_dict, grid  # noqa: E402

from ._registry import get_schedule  # noqa: E402
from ._families import (  # noqa: E402
    constant,
    cosine_onecycle,
    cosine_hard_restarts,
    cosine_restarts,
    cosine_warmup_with_min_lr,
    cosine_with_min_lr,
    cosine_with_warmup,
    cyclic,
    cyclic_momentum,
    inverse_sqrt,
    linear_onecycle,
    multistep_decay,
    onecycle,
    onecycle_momentum,
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

__all__ = [
    "Schedule",
    "constant",
    "cosine_decay",
    "cosine_onecycle",
    "cosine_hard_restarts",
    "cosine_restarts",
    "cosine_warmup_with_min_lr",
    "cosine_with_min_lr",
    "cosine_with_warmup",
    "cyclic",
    "cyclic_momentum",
    "evaluate",
    "exponential_decay",
    "from_config",
    "from_dict",
    "get_schedule",
    "grid",
    "inverse_sqrt",
    "join_schedules",
    "linear_onecycle",
    "linear_schedule",
    "multiply",
    "multistep_decay",
    "onecycle",
    "onecycle_momentum",
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
