#!/usr/bin/env bash
# Build the wheel, install it into a fresh virtual environment, and run the
# tests against the installed wheel, away from the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
venv=$root/.venv-wheel
rm -rf "$venv" dist
python3 -m venv "$venv"
"$venv/bin/pip" wheel -q --no-deps -w dist .
whl=$(ls dist/mlx_sched-*.whl)
"$venv/bin/python" - "$whl" <<'PY'
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
assert any(n.startswith("mlx_sched/_ext") and n.endswith(".so") for n in names), names
for f in ("mlx_sched/_build_config.py", "mlx_sched/_ext.pyi", "mlx_sched/py.typed"):
    assert f in names, (f, names)
meta = z.read(next(n for n in names if n.endswith("METADATA"))).decode()
assert "Requires-Dist: mlx==0.32.4" in meta, meta
print("wheel ok:", sys.argv[1])
PY
"$venv/bin/pip" install -q "$whl[cpu,test]"
work=$(mktemp -d)
cp -r tests metal csrc pyproject.toml "$work/"  # the emulation tests compile the shader sources; mypy reads [tool.mypy]
cd "$work"
"$venv/bin/python" -c "import mlx_sched; assert 'site-packages' in mlx_sched.__file__, mlx_sched.__file__; print('testing', mlx_sched.__file__)"
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests
