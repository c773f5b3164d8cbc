#!/usr/bin/env bash
# On the GPU machine: the wheel that CI built (not a local build) against
# MLX's CUDA backend (issue 19 item 1). Installs the wheel into a fresh venv
# with mlx[cuda13] (nothing is compiled here), shows the wheel's GPU backend
# and the device, then runs the whole suite with the GPU as MLX's default
# device, and the same wheel with mlx[cpu] in a second venv (one wheel, every
# backend).
# Usage: bash benchmarks/gpu/wheel_suite.sh WHEEL|DIR [LOGDIR]
#   WHEEL: mlx_sched-*-manylinux_2_35_x86_64.whl from CI (wheels.yml's artifact
#   wheel-linux-3.X, or dist/ of .ci/wheel.sh); DIR: the one matching this Python.
# Exit status: 0 only if both suites pass and the wheel ran its CUDA kernels.
set -uo pipefail
src=${1:?usage: wheel_suite.sh WHEEL|DIR [LOGDIR]}
log=${2:-wheel-suite-logs}
mkdir -p "$log"
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ -d "$src" ]; then
  py=$(python3 -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
  whl=$(ls "$src"/mlx_sched-*-"$py"-"$py"-manylinux_2_35_x86_64.whl | head -1)
else
  whl=$src
fi
[ -f "$whl" ] || { echo "no wheel for this Python in $src"; exit 2; }
echo "# $(date -u +%FT%TZ) $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader) wheel: $(basename "$whl") sha256 $(sha256sum "$whl" | cut -c1-16)"
work=$(mktemp -d)
cp -r "$root/tests" "$root/metal" "$root/csrc" "$root/pyproject.toml" "$work/"
rc=0
for backend in cuda13 cpu; do
  venv=$work/venv-$backend
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "$whl[$backend,test]" > "$log/install-$backend.log" 2>&1 || { echo "install $backend failed (see $log)"; rc=1; continue; }
  (cd "$work" && "$venv/bin/python" -c "
import mlx.core as mx, mlx_sched as ms
print('$backend: mlx', mx.__version__, 'default device', mx.default_device(), 'mlx_sched', ms.__version__, 'GPU backend', ms._ext.GPU_BACKEND, 'from', ms.__file__)
print('  value on the default device:', ms.cosine_decay(1.0, 10)(mx.array(5)).item())
if '$backend' == 'cuda13' and ms._ext.GPU_BACKEND != 'cuda':
    raise SystemExit('this wheel has no CUDA kernels (built against mlx[cpu]): README, Packaging, one wheel for every backend')
") || { rc=1; continue; }
  (cd "$work" && timeout 1800 "$venv/bin/python" -m pytest -q -p no:cacheprovider -o faulthandler_timeout=90 -rf tests \
     > "$log/pytest-$backend.log" 2>&1)
  r=$?
  echo "$backend: pytest rc=$r: $(tail -1 "$log/pytest-$backend.log")"
  [ $r = 0 ] || rc=1
done
echo "wheel suite rc=$rc"
exit $rc
