#!/usr/bin/env bash
# Issue 21 on a machine with two GPUs (kind nvidia-h100-x2), MLX's CUDA build
# installed (../README.md) and the CUDA wheel in .cuw/ (build_wheel_here.sh).
# Usage: bash benchmarks/gpu/issue21.sh LOGDIR [parts...]
#   dp      the data-parallel example over 2 GPUs (NCCL): identical parameters
#           after 100 steps; step time on 1 and on 2 GPUs
#   sweep   the sweep example (G = 64) against the loop of G mlx.optimizers
#           models, on GPU 0; the sweep split over the 2 GPUs
#   step    the optimizer step alone (benchmarks/sweep_step.py), G = 64 and 256
#   check   member-batched steps against the CPU stream, under memcheck
#   suite   the whole suite on GPU 0
set -uo pipefail
log=${1:-.}
shift
parts=${*:-dp sweep check suite}
mkdir -p "$log"
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0  # never NVLink multicast here (KINDS.md)
echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name --format=csv,noheader | tr '\n' ' ')"
python3 -m pip install -q --no-deps --force-reinstall .cuw/*.whl > "$log/install.log" 2>&1
echo "install rc=$?"
launch() { timeout 150 python3 -c "from mlx._distributed_utils.launch import main; main()" "$@"; }
# the examples of this tree (their mlx_sched: the installed wheel's)
DP=$PWD/python/mlx_sched/examples/data_parallel.py
SW=$PWD/python/mlx_sched/examples/sweep.py
for part in $parts; do
  t=$(date +%s)
  case $part in
  dp)
    # correctness: 2 ranks, 100 steps, the fused AdamW beside mlx.optimizers' AdamW
    launch --backend nccl -n 2 python3 "$DP" --steps 100 --out "$log/dp-check" > "$log/dp-check.log" 2>&1
    echo "dp check rc=$?"; cat "$log"/dp-check/rank*.json; echo
    # step time: the same global batch on 1 GPU and on 2 (half each)
    W="--width 4096 --depth 4 --lr 1e-4 --steps 60 --warmup 10 --no-reference"
    CUDA_VISIBLE_DEVICES=0 timeout 120 python3 "$DP" $W --batch 16384 --out "$log/dp-1gpu" > "$log/dp-1gpu.log" 2>&1
    echo "dp 1 gpu rc=$?"; cat "$log"/dp-1gpu/rank*.json; echo
    launch --backend nccl -n 2 python3 "$DP" $W --batch 8192 --out "$log/dp-2gpu" > "$log/dp-2gpu.log" 2>&1
    echo "dp 2 gpus rc=$?"; cat "$log"/dp-2gpu/rank*.json; echo
    ;;
  sweep)
    CUDA_VISIBLE_DEVICES=0 timeout 240 python3 "$SW" --device gpu --out "$log/sweep" > "$log/sweep.log" 2>&1
    echo "sweep rc=$?"; tail -15 "$log/sweep.log"
    # the same grid with float32 matrix products in full float32 (MLX's default on CUDA is TF32)
    MLX_ENABLE_TF32=0 CUDA_VISIBLE_DEVICES=0 timeout 240 python3 "$SW" --device gpu --timing-steps 0 \
      --out "$log/sweep-fp32" > "$log/sweep-fp32.log" 2>&1
    echo "sweep fp32 rc=$?"; head -5 "$log/sweep-fp32.log"
    launch --backend nccl -n 2 python3 "$SW" --device gpu --distributed --no-loop --out "$log/sweep-2gpu" \
      > "$log/sweep-2gpu.log" 2>&1
    echo "sweep 2 gpus rc=$?"; tail -8 "$log/sweep-2gpu.log"
    ;;
  step)
    # the optimizer step alone: one member-batched AdamW against G mlx.optimizers.AdamW
    for args in "--members 64" "--members 256 --width 256"; do
      CUDA_VISIBLE_DEVICES=0 timeout 150 python3 benchmarks/sweep_step.py --device gpu $args 2>&1 | tee -a "$log/sweep-step.log"
    done
    ;;
  check)
    CUDA_VISIBLE_DEVICES=0 timeout 120 python3 benchmarks/gpu/memcheck_sweep.py > "$log/sweep-vs-cpu.log" 2>&1
    echo "sweep vs cpu rc=$?"; tail -3 "$log/sweep-vs-cpu.log"
    CUDA_VISIBLE_DEVICES=0 timeout 200 compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_sweep.py \
      > "$log/sweep-memcheck.log" 2>&1
    echo "memcheck rc=$?"; tail -2 "$log/sweep-memcheck.log"
    ;;
  suite)
    CUDA_VISIBLE_DEVICES=0 timeout ${SUITE_LIMIT:-240} python3 -m pytest -q -p no:cacheprovider -n 16 \
      -o faulthandler_timeout=120 -rfs tests > "$log/suite.log" 2>&1
    echo "suite rc=$?"
    grep -E "^(FAILED|ERROR)" "$log/suite.log" | head -20
    tail -1 "$log/suite.log"
    ;;
  esac
  echo "--- $part $(( $(date +%s) - t )) s"
done
# one file for what the parts wrote in folders (a run brings back a limited number of files)
(cd "$log" && ls -d */ > /dev/null 2>&1 && tar -czf results.tgz */ && rm -rf */) 2>/dev/null
