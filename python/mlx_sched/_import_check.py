"""Import-time errors that say how to fix the installation (no MLX import here).

Two ways ``import mlx_sched`` fails on a broken installation, each turned into
an ``ImportError`` that names the ``pip install`` line fixing it:

* ``import mlx.core`` cannot load MLX's library (``libmlx.so``): on Linux the
  ``mlx`` package holds only the bindings; the library comes with a backend
  package (``mlx-cpu``, ``mlx-cuda-13``), which ``pip install mlx-sched``
  without an extra does not install. An undefined symbol there means ``mlx``
  and its backend package are different versions.
* ``import mlx.core`` cannot load the CUDA driver (``libcuda.so.1``): MLX's
  CUDA backend (``mlx-cuda-13``) needs it even to import, so a machine
  without an NVIDIA driver needs MLX's CPU backend instead.
* ``mlx`` is another version than the one ``_ext`` was compiled against.
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Dict, List, Optional

# MLX's backend packages and the extra of mlx (and of mlx-sched) that installs each.
BACKENDS = {"mlx-cpu": "cpu", "mlx-cuda-13": "cuda13", "mlx-cuda-12": "cuda12", "mlx-metal": None}


def installed_backends() -> Dict[str, str]:
    """The MLX backend distributions installed here, name -> version."""
    found = {}
    for name in BACKENDS:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def fix_line(version: str, platform: Optional[str] = None, backends: Optional[Dict[str, str]] = None) -> str:
    """The pip line that installs mlx ``version`` with a matching backend for this platform.

    Args:
        version: the MLX version ``mlx_sched`` was built against.
        platform: ``sys.platform`` (default: this one).
        backends: installed MLX backend distributions, name -> version
            (default: :func:`installed_backends`).

    Returns:
        ``pip install "mlx==V" "mlx-cpu==V"`` (Linux, the installed backend
        package; ``mlx-cpu`` when there is none), or ``pip install "mlx==V"
        "mlx-metal==V"`` on macOS.
    """
    platform = sys.platform if platform is None else platform
    backends = installed_backends() if backends is None else backends
    if platform == "darwin":
        names = ["mlx-metal"]
    else:
        names = [n for n in backends if n != "mlx-metal"] or ["mlx-cpu"]
    return "pip install " + " ".join(f'"{n}=={version}"' for n in ["mlx", *names])


def no_library_message(error: BaseException, version: str, platform: Optional[str] = None,
                       backends: Optional[Dict[str, str]] = None) -> Optional[str]:
    """The message for ``import mlx.core`` failing with ``error``; None if it is not MLX's library.

    Args:
        error: what ``import mlx.core`` raised.
        version: the MLX version ``mlx_sched`` was built against.
        platform: ``sys.platform`` (default: this one).
        backends: installed MLX backend distributions (default: :func:`installed_backends`).

    Returns:
        A message naming the fix, or None for an error that is not about libmlx.
    """
    text = str(error)
    platform = sys.platform if platform is None else platform
    backends = installed_backends() if backends is None else backends
    if "libcuda.so" in text:
        cuda = [n for n in backends if n.startswith("mlx-cuda")] or ["mlx-cuda-13"]
        return (f"import mlx.core failed ({text}): MLX's CUDA backend ({', '.join(cuda)}) needs the NVIDIA "
                f"driver, which this machine lacks. Without an NVIDIA GPU use MLX's CPU backend: "
                f'pip uninstall -y {" ".join(cuda)} && pip install --force-reinstall "mlx-cpu=={version}"')
    if "libmlx" not in text and "undefined symbol" not in text and "Symbol not found" not in text:
        return None
    if "undefined symbol" in text or "Symbol not found" in text:
        return (f"import mlx.core failed ({text}): mlx and its backend package are different versions "
                f"({_versions(backends)}). mlx-sched was built against mlx {version}; fix: "
                f"{fix_line(version, platform, backends)}")
    if platform == "darwin":
        return (f"import mlx.core failed ({text}): MLX's library comes with mlx-metal. Fix: "
                f"{fix_line(version, platform, backends)}")
    return (f"import mlx.core failed ({text}): on Linux, MLX's library (libmlx.so) comes with a backend "
            f"extra, which plain `pip install mlx-sched` does not install. Pick one: "
            f'pip install "mlx-sched[cpu]" (CPU) or pip install "mlx-sched[cuda13]" (NVIDIA GPU, CUDA 13).')


def version_message(built: str, found: str, platform: Optional[str] = None,
                    backends: Optional[Dict[str, str]] = None) -> str:
    """The message for mlx ``found`` installed where ``mlx_sched`` was built against ``built``.

    Args:
        built: the MLX version of the build.
        found: ``mlx.core.__version__``.
        platform: ``sys.platform`` (default: this one).
        backends: installed MLX backend distributions (default: :func:`installed_backends`).

    Returns:
        A message naming both versions and the pip line that installs the built one.
    """
    platform = sys.platform if platform is None else platform
    backends = installed_backends() if backends is None else backends
    return (f"mlx_sched was built against mlx {built}, but mlx {found} is installed "
            f"({_versions(backends)}). Fix: {fix_line(built, platform, backends)}")


def _versions(backends: Dict[str, str]) -> str:
    parts: List[str] = []
    try:
        parts.append(f"mlx {metadata.version('mlx')}")
    except metadata.PackageNotFoundError:
        parts.append("no mlx distribution")
    parts += [f"{n} {v}" for n, v in backends.items()]
    return ", ".join(parts) if len(parts) > 1 else parts[0] + ", no backend package"
