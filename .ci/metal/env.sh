# Shared by the Metal checks (sourced): versions (pyproject.toml pins the
# same MLX and nanobind), where the downloads are, which tools.
MLX_VERSION="${MLX_VERSION:-$(sed -n 's/.*"mlx==\([0-9.]*\)".*/\1/p' "$HERE/../../pyproject.toml" | head -1)}"
NANOBIND_VERSION="${NANOBIND_VERSION:-$(sed -n 's/.*"nanobind==\([0-9.]*\)".*/\1/p' "$HERE/../../pyproject.toml" | head -1)}"
CACHE="${METAL_CHECK_CACHE:-$(cd "$HERE/../.." && pwd)/build/metal-check}"
MLX="$CACHE/mlx-$MLX_VERSION/mlx"
NB="$CACHE/nanobind/nanobind"
CXX="${METAL_CHECK_CXX:-clang++-19}"
NM="${METAL_CHECK_NM:-llvm-nm-19}"
