#!/usr/bin/env bash
# The test suite against an _ext built with ASan + UBSan (CMake option
# MLX_SCHED_SANITIZE). Python is not instrumented, so libasan is preloaded;
# leak checking is off (CPython and MLX keep allocations until exit).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-sanitize
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --config-settings=cmake.define.MLX_SCHED_SANITIZE=ON \
  --config-settings=build-dir=build/sanitize ".[cpu,test]"
export LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export MLX_SCHED_SANITIZED=1
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
