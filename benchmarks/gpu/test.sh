#!/usr/bin/env bash
# On the GPU machine (MLX's CUDA build installed, see ../../README.md): build
# both backends, run the whole test suite with the GPU as MLX's default device,
# then compute-sanitizer (memcheck) over the GPU-vs-CPU tests.
# Usage: bash benchmarks/gpu/test.sh [LOGDIR]
set -uo pipefail
log="${1:-.}"
mkdir -p "$log"
SP="$(python3 -c 'import site; print(site.getsitepackages()[0])')"
export CMAKE_ARGS="${CMAKE_ARGS:-} -DCUDNN_INCLUDE_PATH=$SP/nvidia/cudnn/include"
export PYTHONUNBUFFERED=1
{
  echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
  echo "\$ python3 -m pip install --no-build-isolation ."
  python3 -m pip install --no-build-isolation -q . 2>&1 | tail -5
  echo "build rc=${PIPESTATUS[0]}"
  (cd /tmp && python3 -c "import mlx.core as mx, mlx_sched as ms; print('mlx', mx.__version__, mx.default_device(), 'mlx_sched GPU backend:', ms._ext.GPU_BACKEND)")
  echo "\$ python3 -m pytest -q tests"
  python3 -m pytest -q tests -p no:cacheprovider 2>&1 | tail -15
  echo "pytest rc=${PIPESTATUS[0]}"
  echo "\$ compute-sanitizer --tool memcheck python3 -m pytest -q tests/test_backends.py -k 'not 64_bit'"
  compute-sanitizer --tool memcheck --error-exitcode 3 python3 -m pytest -q tests/test_backends.py -k 'not 64_bit' -p no:cacheprovider 2>&1 | tail -8
  echo "memcheck rc=${PIPESTATUS[0]}"
} 2>&1 | tee "$log/gpu-test.log"
