#!/usr/bin/env bash
# The API reference (mkdocs.yml, docs/): mkdocs + mkdocstrings from PyPI into
# a venv with mlx-sched, `mkdocs build --strict` (any warning fails). The
# pictures are drawn by the installed package (docs/hooks.py).
# It also fails on a public function, optimizer or method whose docstring
# lacks an Args section naming every argument or a Returns section
# (docs/hooks.py; on by default since issue 17: MLX_SCHED_DOCS_REQUIRE_SECTIONS=0
# turns it into a note).
set -euo pipefail
export NO_MKDOCS_2_WARNING=1
export MLX_SCHED_DOCS_REQUIRE_SECTIONS=${MLX_SCHED_DOCS_REQUIRE_SECTIONS:-1}
cd "$(dirname "$0")/.."
venv=${MLX_SCHED_DOCS_VENV:-.venv-docs}
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if "$venv/bin/python" -c "import mlx_sched" 2> /dev/null; then  # (CI: the README's venv) only the tools
  mapfile -t tools < <("$venv/bin/python" -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['docs']))")
  "$venv/bin/pip" install -q "${tools[@]}"
else
  "$venv/bin/pip" install -q ".[cpu,docs]"
fi
rm -rf site docs/figures
"$venv/bin/mkdocs" build --strict
test -f site/index.html && test -f site/families/index.html
echo "docs ok: $(ls docs/figures | wc -l) figures, $(find site -name '*.html' | wc -l) pages"
