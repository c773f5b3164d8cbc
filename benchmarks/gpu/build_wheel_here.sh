#!/usr/bin/env bash
# The CUDA wheel (sm_90), built on a machine without a GPU, for the GPU machine
# to install (benchmarks/gpu/verify.sh wheel): 4.5 min on 2 cores, where the
# GPU machine's own build takes 6 of a call's 10 minutes.
#   bash benchmarks/gpu/build_wheel_here.sh   -> .cuw/mlx_sched-*-cp312-*.whl
# Needs: python3.12 (PY312), nvcc 13, libfmt-dev, the mlx + mlx-cuda-13 wheels
# of .gpu/ (../shared/gpu/stage.sh). MLX's CMake package asks for cuDNN and
# libcuda, which the link never uses here (libmlx brings its own at run time):
# empty stand-ins satisfy it.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY312=${PY312:-$(command -v python3.12 || echo /root/.pyenv/versions/3.12.1/bin/python3.12)}
V=${CUDA_VENV:-/tmp/cu312}
F=${FAKE_DIR:-/tmp/fakecudnn}
if [ ! -x "$V/bin/python" ]; then
  "$PY312" -m venv "$V"
  "$V/bin/pip" install -q scikit-build-core nanobind==3.1.0 numpy
  cat /tmp/mlx-cuda-stage/part.00 .gpu/b/part.01 > "/tmp/$(cat .gpu/b/WHEEL_NAME)" 2>/dev/null ||
    cat .gpu/a/part.00 .gpu/b/part.01 > "/tmp/$(cat .gpu/b/WHEEL_NAME)"
  "$V/bin/pip" install -q --no-deps "/tmp/$(cat .gpu/b/WHEEL_NAME)" .gpu/b/mlx-*.whl
fi
if [ ! -f "$F/lib/libcuda.so" ]; then
  mkdir -p "$F/include" "$F/lib"
  echo '#pragma once' > "$F/include/cudnn.h"
  printf '#pragma once\n#define CUDNN_MAJOR 9\n#define CUDNN_MINOR 0\n#define CUDNN_PATCHLEVEL 0\n' > "$F/include/cudnn_version.h"
  for l in cudnn cudnn_graph cudnn_engines_runtime_compiled; do
    echo 'void mlx_sched_stand_in(void) {}' | gcc -shared -fPIC -x c - -o "$F/lib/lib$l.so"
  done
  echo 'void mlx_sched_stand_in(void) {}' | gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -x c - -o "$F/lib/libcuda.so"
fi
SRC=$(mktemp -d)
git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C "$SRC"
SITE=$("$V/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
export CXX=/usr/bin/g++ CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-2}
export CMAKE_ARGS="-DCMAKE_CUDA_ARCHITECTURES=90 -DMLX_ROOT=$SITE/mlx -DMLX_SCHED_NO_STUBS=ON \
 -DCUDNN_INCLUDE_PATH=$F/include -Dcudnn_LIBRARY=$F/lib/libcudnn.so -Dcudnn_graph_LIBRARY=$F/lib/libcudnn_graph.so \
 -Dcudnn_engines_runtime_compiled_LIBRARY=$F/lib/libcudnn_engines_runtime_compiled.so \
 -DCUDA_cuda_driver_LIBRARY=$F/lib/libcuda.so -DMLX_SCHED_FMT_INCLUDE_DIR=/usr/include"
(cd "$SRC" && "$V/bin/pip" wheel -q --no-build-isolation --no-deps -w dist .)
mkdir -p .cuw && rm -f .cuw/*.whl && cp "$SRC"/dist/*.whl .cuw/
rm -rf "$SRC"
ls -la .cuw
