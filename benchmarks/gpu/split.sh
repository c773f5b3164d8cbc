#!/usr/bin/env bash
# On the GPU machine, after a build: the suite in two halves (so one collection-
# dependent hang cannot hide the other results), then probes of that hang.
# Usage: bash benchmarks/gpu/split.sh LOGDIR PART   (PART: backends | rest)
set -uo pipefail
log="${1:-.}"
mkdir -p "$log"
PYTEST=(python3 -m pytest -p no:cacheprovider -o faulthandler_timeout=60 -rs -q)
if [ "$2" = backends ]; then
  echo "\$ pytest tests/test_backends.py (GPU vs CPU, every schedule incl. families)"
  timeout 240 "${PYTEST[@]}" tests/test_backends.py > "$log/backends.log" 2>&1
  echo "rc=$? $(tail -1 "$log/backends.log")"
  echo "\$ compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_kernels.py"
  timeout 150 compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_kernels.py > "$log/memcheck-kernels.log" 2>&1
  echo "rc=$? $(grep -E 'ERROR SUMMARY|launches' "$log/memcheck-kernels.log" | tail -2 | tr '\n' ' ')"
else
  echo "\$ pytest tests --ignore=tests/test_backends.py"
  timeout 200 "${PYTEST[@]}" tests --ignore=tests/test_backends.py > "$log/rest.log" 2>&1
  echo "rc=$? $(tail -1 "$log/rest.log")"
  grep -E "^SKIPPED|FAILED" "$log/rest.log" | head -5
  bash "$(dirname "$0")/hang_probe.sh" "$log" blocking
fi
