#!/usr/bin/env bash
# Issue 13 on the GPU machine (MLX's CUDA build installed: ../README.md).
# Usage: bash benchmarks/gpu/issue13.sh STAGE LOGDIR
#   build   build mlx-sched for sm_90 (system g++), install it
#   stress  stress_hang.py: every pattern 50 fresh processes (20 s limit)
#   check   compute-sanitizer memcheck/racecheck/synccheck over the kernels (in
#           the background), the pytest probe 20 times with the whole suite
#           collected, then the whole suite, GPU as default device, 3 runs in a row
set -uo pipefail
stage=$1
log=${2:-.}
mkdir -p "$log"
export PYTHONUNBUFFERED=1 CXX=/usr/bin/g++ CUDAHOSTCXX=/usr/bin/g++
case $stage in
build)
  export CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_CUDA_ARCHITECTURES=90"
  t=$(date +%s)
  python3 -m pip install --no-build-isolation -q . > "$log/build.log" 2>&1
  echo "build rc=$? $(( $(date +%s) - t )) s"
  ;;
stress)
  echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader) main@$(git rev-parse --short HEAD 2>/dev/null)" | tee -a "$log/stress.log"
  timeout 330 python3 benchmarks/gpu/stress_hang.py --trials 50 --timeout 20 --log "$log/stress.log"
  echo "stress rc=$?"
  ;;
check)
  # compute-sanitizer over every kernel (schedule and fused step), three tools, at once
  for tool in memcheck racecheck synccheck; do
    for t in memcheck_kernels memcheck_fused; do
      (timeout 420 compute-sanitizer --tool $tool --error-exitcode 9 python3 benchmarks/gpu/$t.py > "$log/san-$tool-$t.log" 2>&1;
       echo "$tool $t rc=$? $(grep -h 'ERROR SUMMARY' "$log/san-$tool-$t.log" | tail -1)" >> "$log/sanitizer-summary.log") &
    done
  done
  # the pytest probe of the issue: one GPU test, the whole suite collected, fresh processes
  probe() {
    timeout 120 python3 -m pytest -q -x -p no:cacheprovider -k cosine-arange_i32 tests > "$log/probe-$1.log" 2>&1
    echo "probe $1 rc=$? $(tail -1 "$log/probe-$1.log")"
  }
  export -f probe
  export log
  seq 1 20 | xargs -P 10 -I{} bash -c 'probe {}' > "$log/probes.log" 2>&1
  echo "pytest probes: $(grep -c 'rc=0' "$log/probes.log") of 20 passed; $(grep -c 'rc=124' "$log/probes.log") hung"
  grep -v "rc=0" "$log/probes.log" | head -5
  rm -f "$log"/probe-*.log
  for run in 1 2 3; do
    t=$(date +%s)
    timeout 170 python3 -m pytest -q -p no:cacheprovider -n 16 -o faulthandler_timeout=120 -rf tests > "$log/suite-$run.log" 2>&1
    echo "suite run $run rc=$? $(( $(date +%s) - t )) s: $(tail -1 "$log/suite-$run.log")"
  done
  wait
  cat "$log/sanitizer-summary.log"
  ;;
esac
