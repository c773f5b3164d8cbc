#!/usr/bin/env bash
# What the Metal checks need, from the registries, once per machine:
#   clang 19, libc++ 19, llvm-nm 19 (Debian: clang-19 libc++-19-dev
#   libc++abi-19-dev llvm-19), apt-get as root (or through sudo);
#   MLX's exact macOS arm64 build from PyPI: the mlx-metal wheel ships
#   include/mlx, include/metal_cpp (the metal-cpp MLX was built with),
#   share/cmake and lib/libmlx.dylib; nanobind's headers.
# Everything from PyPI goes to $CACHE (default build/metal-check); nothing
# is kept in the repository. Prints nothing else on a second run.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/env.sh"
pkgs=(clang-19 libc++-19-dev libc++abi-19-dev llvm-19)
if ! command -v clang++-19 >/dev/null || ! command -v llvm-nm-19 >/dev/null || \
   ! dpkg -s libc++-19-dev libc++abi-19-dev >/dev/null 2>&1; then
  sudo=(); [ "$(id -u)" = 0 ] || sudo=(sudo -n)
  echo "+ apt-get install ${pkgs[*]}"
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
mkdir -p "$CACHE"
if [ ! -f "$MLX/lib/libmlx.dylib" ] || [ ! -d "$MLX/include/metal_cpp" ]; then
  [ -x "$CACHE/venv/bin/pip" ] || python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" download -q --no-deps --only-binary=:all: --platform macosx_14_0_arm64 \
    --python-version 3.12 -d "$CACHE/wheels" "mlx-metal==$MLX_VERSION"
  rm -rf "$CACHE/mlx-$MLX_VERSION" && mkdir -p "$CACHE/mlx-$MLX_VERSION"
  python3 - "$CACHE/wheels/mlx_metal-$MLX_VERSION-py3-none-macosx_14_0_arm64.whl" "$CACHE/mlx-$MLX_VERSION" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [n for n in z.namelist()
                           if n.startswith(("mlx/include/", "mlx/share/")) or n == "mlx/lib/libmlx.dylib"])
PY
fi
if [ ! -d "$NB/include" ]; then
  [ -x "$CACHE/venv/bin/pip" ] || python3 -m venv "$CACHE/venv"
  "$CACHE/venv/bin/pip" install -q --target "$CACHE/nanobind" "nanobind==$NANOBIND_VERSION"
fi
# the headers are MLX $MLX_VERSION's
v=$(sed -n 's/^#define MLX_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\)$/\2/p' "$MLX/include/mlx/version.h" | paste -sd.)
[ "$v" = "$MLX_VERSION" ] || { echo "mlx-metal wheel has MLX $v, not $MLX_VERSION" >&2; exit 1; }
