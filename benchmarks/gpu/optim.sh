#!/usr/bin/env bash
# On the GPU machine, after `. .gpu/b/install.sh`: build, the fused optimizer
# tests, then the optimizer benchmarks. Everything lands in $OUT (or ./gpu-out).
# Usage: bash benchmarks/gpu/optim.sh [tests|bench|both]
set -uo pipefail
out="${OUT:-gpu-out}"
mkdir -p "$out"
export CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++ PYTHONUNBUFFERED=1
exec > "$out/optim.log" 2>&1
echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
if ! python3 -c "import mlx_sched" 2>/dev/null || [ "${REBUILD:-1}" = 1 ]; then
  python3 -m pip install --no-build-isolation -q . > "$out/build.log" 2>&1
  echo "build rc=$?"
fi
(cd /tmp && python3 -c "import mlx_sched as ms; print('kernels (name, registers, local bytes):', ms._ext.CUDA_KERNELS)")
what="${1:-both}"
if [ "$what" != bench ]; then
  timeout "${TEST_LIMIT:-300}" python3 -m pytest -q -p no:cacheprovider -rf tests/test_fused_optimizers.py tests/test_distributed.py > "$out/pytest.log" 2>&1
  echo "pytest rc=$?"; tail -3 "$out/pytest.log"
fi
if [ "$what" != tests ]; then
  timeout "${BENCH_LIMIT:-300}" python3 benchmarks/run.py --suite optimizers --out "$out/cuda-optimizers.json" > "$out/bench.log" 2>&1
  echo "bench rc=$?"; cat "$out/bench.log" | tr '\r' '\n' | grep -v "benchmarks:" | tail -60
fi
if [ "$what" != tests ]; then
  python3 benchmarks/gpu/profile_step.py 32 291 > "$out/profile.log" 2>&1; cat "$out/profile.log"
fi
