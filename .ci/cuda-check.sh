#!/usr/bin/env bash
# CUDA sources, checked without a GPU: each csrc/cuda/*.cu compiled to PTX by
# nvcc (the flags of CMakeLists.txt: sm_90, no FMA contraction), each host file
# csrc/cuda/*.cpp parsed by g++ against MLX's CUDA headers, CUDA's and fmt's.
#   .ci/cuda-check.sh [PTX_OUT_DIR]   PTX_OUT_DIR keeps the PTX (to diff two trees)
# Skipped (exit 0, said so) where nvcc or an fmt header is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
PY=${PYTHON:-.venv/bin/python}
NVCC=${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
[ -x "$NVCC" ] || { echo "cuda-check: no nvcc, skipped"; exit 0; }
CUDA_INC=${CUDA_INC:-}
for d in "$(dirname "$(dirname "$(readlink -f "$NVCC")")")/include" /usr/local/cuda/include /usr/local/cuda-*/include; do
  [ -z "$CUDA_INC" ] && [ -f "$d/cuda.h" ] && CUDA_INC=$d
done
MLX_INC=$("$PY" -c "import mlx, os; print(os.path.join(list(mlx.__path__)[0], 'include'))")
FMT_INC=${FMT_INC:-}
if [ -z "$FMT_INC" ]; then
  for d in /usr/include /usr/local/include build/cuda-check/torch/include; do
    [ -f "$d/fmt/format.h" ] && { FMT_INC=$d; break; }
  done
fi
if [ -z "$FMT_INC" ]; then  # torch's wheel ships fmt: its headers only, unpacked once into build/
  mkdir -p build/cuda-check
  if "$PY" -m pip download -q torch==2.13.0 --no-deps -d build/cuda-check/whl >/dev/null 2>&1; then
    "$PY" -c "import glob, zipfile; z = zipfile.ZipFile(glob.glob('build/cuda-check/whl/torch-*.whl')[0]); \
[z.extract(n, 'build/cuda-check') for n in z.namelist() if n.startswith('torch/include/fmt/')]"
    rm -rf build/cuda-check/whl
    FMT_INC=build/cuda-check/torch/include
  fi
fi
t0=$SECONDS
pids=()
for cu in csrc/cuda/*.cu; do  # in parallel: kernels.cu alone is most of the time
  "$NVCC" -std=c++17 -arch=sm_90 -O3 -fmad=false -ptx -Icsrc "$cu" -o "$out/$(basename "$cu" .cu).ptx" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
for cu in csrc/cuda/*.cu; do echo "ptx  $cu  ($(wc -l < "$out/$(basename "$cu" .cu).ptx") lines)"; done
if [ -z "$FMT_INC" ]; then
  echo "cuda-check: no fmt/format.h (libfmt-dev, torch, or FMT_INC=...): host files skipped"
else
  for cpp in csrc/cuda/*.cpp; do
    g++ -std=c++20 -fsyntax-only -DFMT_HEADER_ONLY -Icsrc -I"$MLX_INC" -I"$CUDA_INC" -I"$FMT_INC" "$cpp"
    echo "host $cpp"
  done
fi
echo "cuda-check: ok in $((SECONDS - t0)) s"
