#!/usr/bin/env bash
# On the GPU machine, everything issue 3 asks for in one go, logs in LOGDIR:
# build + whole suite + memcheck (test.sh), kernel memcheck, benchmarks (bench.sh).
set -uo pipefail
log="${1:-.}"
bash "$(dirname "$0")/test.sh" "$log"
echo "\$ compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_kernels.py" | tee -a "$log/gpu-test.log"
timeout 200 compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_kernels.py 2>&1 | tail -3 | tee -a "$log/gpu-test.log"
bash "$(dirname "$0")/bench.sh" "$log" > /dev/null 2>&1
tail -45 "$log/gpu-bench.log"
