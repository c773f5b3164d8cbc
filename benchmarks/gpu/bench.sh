#!/usr/bin/env bash
# On the GPU machine, after test.sh has built and installed mlx-sched:
# the benchmark runner with the GPU as MLX's default device.
# Usage: bash benchmarks/gpu/bench.sh [OUTDIR]
set -uo pipefail
out="${1:-benchmarks/results}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python3 benchmarks/run.py --out "$out/cuda.json" 2>&1 | tee "$out/gpu-bench.log"
python3 benchmarks/table.py "$out/cuda.json" > "$out/cuda-table.md"
