#!/usr/bin/env bash
# On the GPU machine (MLX's CUDA build installed, see ../../README.md): build
# both backends, run the whole test suite with the GPU as MLX's default device,
# then compute-sanitizer (memcheck) over the GPU-vs-CPU tests.
# Usage: bash benchmarks/gpu/test.sh [LOGDIR]   (full logs land in LOGDIR)
set -uo pipefail
log="${1:-.}"
mkdir -p "$log"
SP="$(python3 -c 'import site; print(site.getsitepackages()[0])')"
export CMAKE_ARGS="${CMAKE_ARGS:-} -DCUDNN_INCLUDE_PATH=$SP/nvidia/cudnn/include"
export PYTHONUNBUFFERED=1
# libmlx.so uses the system's shared libstdc++; the image's default compiler
# (/opt/gcc) links its own libstdc++ statically into shared objects, and two
# libstdc++ copies in one process crash in std::locale. Use the system g++.
export CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++
PYTEST=(python3 -m pytest -p no:cacheprovider -o faulthandler_timeout=90 -rf)
{
  echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
  if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "\$ python3 -m pip install --no-build-isolation ."
    rm -rf build
    python3 -m pip install --no-build-isolation -q . > "$log/build.log" 2>&1
    echo "build rc=$?"
  fi
  (cd /tmp && python3 -c "import mlx.core as mx, mlx_sched as ms; print('mlx', mx.__version__, mx.default_device(), 'mlx_sched GPU backend:', ms._ext.GPU_BACKEND)")
  echo "\$ python3 -m pytest -q tests"
  (cd /tmp && python3 -c "import mlx_sched as ms; print('kernels (name, registers, local bytes):', ms._ext.CUDA_KERNELS)")
  "${PYTEST[@]}" -v tests > "$log/pytest.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 ${PYTEST_LIMIT:-300}); do kill -0 $pid 2>/dev/null || break; sleep 1; done
  if kill -0 $pid 2>/dev/null; then  # still running: record where it waits, then stop it
    nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv > "$log/hang.log" 2>&1
    (command -v py-spy > /dev/null && py-spy dump --native --pid $pid || gdb -p $pid -batch -ex "thread apply all bt") >> "$log/hang.log" 2>&1
    kill -9 $pid
    echo "pytest stopped after ${PYTEST_LIMIT:-300} s; stacks in hang.log"
  fi
  wait $pid
  echo "pytest rc=$?"
  grep -E "passed|failed|FAILED|Timeout|Fatal" "$log/pytest.log" | tail -12
  echo "\$ compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_fused.py"
  timeout 240 compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_fused.py > "$log/memcheck-fused.log" 2>&1
  grep -E "ERROR SUMMARY|Program hit| ok " "$log/memcheck-fused.log" | sort | uniq -c
  echo "\$ compute-sanitizer --tool memcheck python3 -c '<MLX alone, no mlx_sched: baseline>'"
  timeout 120 compute-sanitizer --tool memcheck python3 -c "import mlx.core as mx; a = mx.arange(1000); mx.eval(mx.cos(a * 2.0)); print(mx.sum(a).item())" > "$log/memcheck-baseline.log" 2>&1
  grep -E "ERROR SUMMARY|Program hit" "$log/memcheck-baseline.log" | sort | uniq -c
} 2>&1 | tee "$log/gpu-test.log"
