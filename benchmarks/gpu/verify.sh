#!/usr/bin/env bash
# The GPU machine's check of a whole main (MLX's CUDA build installed: ../README.md).
# Usage: bash benchmarks/gpu/verify.sh STAGE LOGDIR
#   suite  build (sm_90, system g++), then the whole suite, GPU as default device
#   wheel  the same suite against a CUDA wheel built elsewhere and carried in
#          .cuw/ (benchmarks/gpu/build_wheel_here.sh: 4.5 min on 2 cores,
#          where this machine's own build takes 6 of a call's 10 minutes)
#   more   the hang patterns (stress_hang.py, 20 fresh processes each), then
#          the optimizer benchmarks (benchmarks/run.py --suite optimizers)
set -uo pipefail
stage=$1
log=${2:-.}
mkdir -p "$log"
export PYTHONUNBUFFERED=1 CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++
echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
case $stage in
suite)
  t=$(date +%s)
  CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_CUDA_ARCHITECTURES=90" python3 -m pip install --no-build-isolation -q . > "$log/build.log" 2>&1
  echo "build rc=$? $(( $(date +%s) - t )) s"
  t=$(date +%s)
  timeout 330 python3 -m pytest -q -p no:cacheprovider -n 16 -o faulthandler_timeout=120 -rfs tests > "$log/suite.log" 2>&1
  echo "suite rc=$? $(( $(date +%s) - t )) s"
  grep -E "^(FAILED|ERROR|SKIPPED)" "$log/suite.log" | head -20
  tail -1 "$log/suite.log"
  ;;
wheel)
  python3 -m pip install -q --no-deps --force-reinstall .cuw/*.whl > "$log/build.log" 2>&1
  echo "install rc=$? $(python3 -c 'import mlx_sched, mlx.core as mx; print(mlx_sched.__file__, mx.default_device())')"
  t=$(date +%s)
  timeout ${SUITE_LIMIT:-300} python3 -m pytest -q -p no:cacheprovider -n 16 -o faulthandler_timeout=120 -rfs tests > "$log/suite.log" 2>&1
  echo "suite rc=$? $(( $(date +%s) - t )) s"
  grep -E "^(FAILED|ERROR)" "$log/suite.log" | head -20
  grep -E "^SKIPPED" "$log/suite.log" | cut -c1-160 | head -12
  tail -1 "$log/suite.log"
  ;;
more)
  timeout 200 python3 benchmarks/gpu/stress_hang.py --trials 20 --timeout 20 --log "$log/stress.log" \
    $(python3 -c "import sys; sys.path.insert(0, 'tests'); from hang_patterns import OURS; print(' '.join(OURS))")
  echo "stress rc=$?"
  timeout 240 python3 benchmarks/run.py --suite optimizers --out "$log/cuda-optimizers.json" > "$log/bench.log" 2>&1
  echo "bench rc=$?"; tr '\r' '\n' < "$log/bench.log" | grep -v "benchmarks:" | tail -40
  ;;
esac
