"""Check a built distribution as PyPI and its users would see it (issue 19).

    python .ci/check_dist.py wheel dist/mlx_sched-*.whl manylinux_2_35_x86_64
    python .ci/check_dist.py sdist dist/mlx_sched-*.tar.gz

wheel: the platform tag; the extension, its stubs, py.typed, the build config,
LICENSE in .dist-info/licenses; no vendored library (no libmlx, no
mlx_sched.libs); the extension's RUNPATH still reaches mlx's lib and it
needs libmlx.so; the metadata (version from __init__.py, PEP 639 licence,
the mlx pin and backend extras, classifiers, URLs, keywords, optional tqdm).
sdist: the sources, tests, LICENSE; none of the GPU logs, results or pictures.
"""

import email.parser
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (ROOT / "python/mlx_sched/__init__.py").read_text(), re.M).group(1)
MLX_PIN = re.search(r'"mlx==([0-9.]+)"', (ROOT / "pyproject.toml").read_text()).group(1)


def fail(msg):
    sys.exit(f"check_dist: {msg}")


def check_metadata(text):
    meta = email.parser.Parser().parsestr(text)
    want = {
        "Name": "mlx-sched", "Version": VERSION, "License-Expression": "MIT",
    }
    for k, v in want.items():
        if meta.get(k) != v:
            fail(f"metadata {k}: {meta.get(k)!r}, expected {v!r}")
    if float(meta["Metadata-Version"]) < 2.4:
        fail(f"Metadata-Version {meta['Metadata-Version']} (PEP 639 needs 2.4)")
    if "LICENSE" not in meta.get_all("License-File", []):
        fail("no License-File: LICENSE")
    req = meta.get_all("Requires-Dist", [])
    for r in (f"mlx=={MLX_PIN}", f'mlx[cpu]=={MLX_PIN}; extra == "cpu"', f'mlx[cuda13]=={MLX_PIN}; extra == "cuda13"',
              'tqdm; extra == "progress"'):
        if r not in req:
            fail(f"Requires-Dist {r!r} missing: {req}")
    if any(r.startswith("tqdm") and "extra" not in r for r in req):
        fail(f"tqdm is a hard dependency: {req}")
    classifiers = meta.get_all("Classifier", [])
    for c in ("Programming Language :: Python :: 3.10", "Programming Language :: Python :: 3.13",
              "Operating System :: POSIX :: Linux", "Operating System :: MacOS", "Typing :: Typed"):
        if c not in classifiers:
            fail(f"classifier {c!r} missing")
    if any(c.startswith("License ::") for c in classifiers):
        fail("License :: classifier next to License-Expression (PEP 639 forbids both)")
    urls = meta.get_all("Project-URL", [])
    if not any(u.startswith("Documentation, https://") for u in urls) or not any(u.startswith("Source, https://") for u in urls):
        fail(f"Project-URL: {urls}")
    if "mlx" not in (meta.get("Keywords") or ""):
        fail("no keywords")
    if not (meta.get("Author") or meta.get("Author-email")):
        fail("no author")
    body = meta.get_payload()
    if re.search(r"!\[[^\]]*\]\((?!https://)", body):
        fail("README has a relative image link (broken on PyPI)")
    if 'pip install "mlx-sched[cpu]"' not in body[:3000]:
        fail("README's first screen has no pip install line")


def check_wheel(path, plat):
    name = Path(path).name
    tag = re.fullmatch(r"mlx_sched-(?P<v>[^-]+)-(?P<py>cp3\d+)-(?P=py)-(?P<plat>.+)\.whl", name)
    if not tag or tag["plat"] != plat or tag["v"] != VERSION:
        fail(f"wheel name {name}: expected version {VERSION}, cp3XX-cp3XX-{plat}")
    z = zipfile.ZipFile(path)
    names = z.namelist()
    exts = [n for n in names if re.fullmatch(r"mlx_sched/_ext\..*\.so", n)]
    if len(exts) != 1:
        fail(f"extension: {exts}")
    for f in ("mlx_sched/__init__.py", "mlx_sched/_build_config.py", "mlx_sched/_ext.pyi", "mlx_sched/py.typed",
              "mlx_sched/_import_check.py", f"mlx_sched-{VERSION}.dist-info/licenses/LICENSE"):
        if f not in names:
            fail(f"{f} missing from the wheel")
    bad = [n for n in names if "libmlx" in n or ".libs/" in n or n.endswith(".py.in") or "/logs/" in n]
    if bad:
        fail(f"vendored or stray files: {bad}")
    wheel_file = z.read(f"mlx_sched-{VERSION}.dist-info/WHEEL").decode()
    if f"Tag: {tag['py']}-{tag['py']}-{plat}" not in wheel_file:
        fail(f"WHEEL tags: {wheel_file}")
    check_metadata(z.read(f"mlx_sched-{VERSION}.dist-info/METADATA").decode())
    with tempfile.TemporaryDirectory() as d:
        so = z.extract(exts[0], d)
        dyn = subprocess.run(["readelf", "-d", so], capture_output=True, text=True, check=True).stdout
        if "$ORIGIN/../mlx/lib" not in dyn:
            fail(f"RUNPATH into mlx's lib lost:\n{dyn}")
        if "[libmlx.so]" not in dyn:
            fail(f"extension does not need libmlx.so:\n{dyn}")
        if "libcuda" in dyn:
            fail("the extension needs the CUDA driver at load time")
    print(f"check_dist: wheel ok: {name} ({len(names)} files)")


def check_sdist(path):
    t = tarfile.open(path)
    top = f"mlx_sched-{VERSION}/"
    names = [n[len(top):] for n in t.getnames() if n.startswith(top)]
    for f in ("LICENSE", "README.md", "pyproject.toml", "CMakeLists.txt", "PKG-INFO", "csrc/bindings.cpp",
              "python/mlx_sched/__init__.py", "python/mlx_sched/_build_config.py.in", "metal/sched_kernels.metal",
              "tests/conftest.py"):
        if f not in names:
            fail(f"{f} missing from the sdist")
    bad = [n for n in names if n.startswith(("benchmarks/gpu/logs", "benchmarks/results", "build/", "dist/", ".venv", "site/"))
           or n.endswith((".log", ".png", ".so")) or n == "benchmarks/gpu/LOG.md"]
    if bad:
        fail(f"logs, results or build outputs in the sdist: {bad[:10]} ({len(bad)})")
    check_metadata(t.extractfile(top + "PKG-INFO").read().decode())
    print(f"check_sdist: sdist ok: {Path(path).name} ({len(names)} files)")


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "wheel":
        check_wheel(sys.argv[2], sys.argv[3])
    elif kind == "sdist":
        check_sdist(sys.argv[2])
    else:
        fail(f"unknown kind {kind}")
