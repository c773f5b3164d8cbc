import os
import sys

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, os.path.dirname(__file__))

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("slow", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True, scope="session")
def _cpu_default():
    """Tests run on the default device; MLX_SCHED_TEST_DEVICE=cpu pins the CPU."""
    import mlx.core as mx

    if os.environ.get("MLX_SCHED_TEST_DEVICE") == "cpu":
        mx.set_default_device(mx.cpu)
    yield
