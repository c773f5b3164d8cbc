#!/usr/bin/env bash
# On the GPU machine: where does the suite wait when it hangs? Each probe runs
# pytest in the background; one still running after N s gets its threads'
# native stacks (py-spy, brought as a wheel in .gpu/c) and kernel wait
# channels recorded, then is stopped. Usage: bash benchmarks/gpu/hang_probe.sh LOGDIR
set -uo pipefail
log="${1:-.}"
mkdir -p "$log"
python3 -m pip install -q .gpu/c/*.whl > /dev/null 2>&1 || true
probe() {  # name seconds [ENV=VALUE ...] -- pytest args
  local name=$1 secs=$2
  shift 2
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" python3 -m pytest -p no:cacheprovider -x -q "$@" > "$log/$name.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1 "$secs"); do kill -0 $pid 2>/dev/null || break; sleep 1; done
  if kill -0 $pid 2>/dev/null; then
    echo "$name: HUNG after $secs s"
    nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader > "$log/$name-stacks.log" 2>&1
    for t in /proc/$pid/task/*; do echo "$t $(cat $t/comm) $(cat $t/wchan)"; done >> "$log/$name-stacks.log" 2>&1
    py-spy dump --native --pid $pid >> "$log/$name-stacks.log" 2>&1
    kill -9 $pid
    wait $pid 2>/dev/null
  else
    wait $pid
    echo "$name: finished rc=$? $(tail -1 "$log/$name.log")"
  fi
}
if [ "${2:-}" = mlx_first ]; then  # the same pattern with MLX's own ops first: does MLX alone hang?
  for k in $(seq 1 ${PROBES:-3}); do
    probe "mlx_first_$k" 50 PYTHONPATH=benchmarks/gpu -- -p mlx_first_probe tests -s -k "cosine-arange_i32"
    grep -h "probe:" "$log/mlx_first_$k.log" | head -1
  done
  exit 0
fi
if [ "${2:-}" = plain ]; then  # the control for mlx_first: the same probes without MLX's ops first
  for k in $(seq 1 ${PROBES:-3}); do probe "plain_$k" 50 X=1 -- tests -k "cosine-arange_i32"; done
  exit 0
fi
if [ "${2:-}" = blocking ]; then  # a kernel fault would surface as an error instead of a wait
  probe launch_blocking 60 CUDA_LAUNCH_BLOCKING=1 -- tests -k "cosine-arange_i32"
  probe again 60 X=1 -- tests -k "cosine-arange_i32"
  exit 0
fi
probe full_accuracy_then_backend 60 X=1 -- tests -k "test_accuracy or cosine-arange_i32"
probe eager_loading 60 CUDA_MODULE_LOADING=EAGER -- tests -k "test_accuracy or cosine-arange_i32"
probe one_thread 60 MLX_SCHED_NUM_THREADS=1 -- tests -k "test_accuracy or cosine-arange_i32"
probe backends_module_alone 60 X=1 -- tests/test_backends.py -k "cosine-arange_i32"
probe full_backend_only 60 X=1 -- tests -k "cosine-arange_i32"
