"""Import-time errors name the fix (issue 19 item 5): no libmlx -> which extra;
mlx/backend version mismatch -> the exact pip line for this platform.

The broken installations are simulated with a fake ``mlx`` package put first
on the path of a child interpreter; mlx_sched itself is the installed one."""

import os
import subprocess
import sys
import textwrap

import pytest

import mlx_sched
from mlx_sched import _import_check as ic
from mlx_sched._build_config import MLX_VERSION as BUILT


def _import_with_fake_mlx(tmp_path, core_source):
    fake = tmp_path / "fake"
    (fake / "mlx").mkdir(parents=True)
    (fake / "mlx" / "__init__.py").write_text("")
    (fake / "mlx" / "core.py").write_text(textwrap.dedent(core_source))
    pkg_parent = os.path.dirname(os.path.dirname(mlx_sched.__file__))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake), pkg_parent]))
    r = subprocess.run([sys.executable, "-c", "import mlx_sched"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode != 0, r.stdout
    return r.stderr.strip().splitlines()[-1]


def test_no_libmlx_names_the_extras(tmp_path):
    last = _import_with_fake_mlx(tmp_path, """
        raise ImportError("libmlx.so: cannot open shared object file: No such file or directory")
    """)
    assert last.startswith("ImportError: import mlx.core failed (libmlx.so: cannot open"), last
    if sys.platform == "darwin":
        assert f'"mlx-metal=={BUILT}"' in last, last
    else:
        assert 'pip install "mlx-sched[cpu]"' in last and 'pip install "mlx-sched[cuda13]"' in last, last


def test_undefined_symbol_names_the_pip_line(tmp_path):
    last = _import_with_fake_mlx(tmp_path, """
        raise ImportError("/x/mlx/core.cpython-311-x86_64-linux-gnu.so: undefined symbol: _ZN3mlx4core5arrayD1Ev")
    """)
    assert "different versions" in last, last
    assert last.endswith(ic.fix_line(BUILT)), last


def test_version_mismatch_names_both_and_the_pip_line(tmp_path):
    last = _import_with_fake_mlx(tmp_path, '__version__ = "0.0.1"\n')
    assert f"built against mlx {BUILT}, but mlx 0.0.1 is installed" in last, last
    assert last.endswith(ic.fix_line(BUILT)), last
    assert "force-reinstall" not in last  # issue 19: that line left mlx and mlx-cpu mismatched


def test_no_cuda_driver_names_the_cpu_backend(tmp_path):
    # what `import mlx.core` raises with mlx[cuda13] on a machine without the NVIDIA driver
    last = _import_with_fake_mlx(tmp_path, """
        raise ImportError("libcuda.so.1: cannot open shared object file: No such file or directory")
    """)
    assert "needs the NVIDIA driver" in last, last
    assert last.endswith(f'pip install --force-reinstall "mlx-cpu=={BUILT}"'), last


def test_other_import_errors_pass_through(tmp_path):
    last = _import_with_fake_mlx(tmp_path, 'raise ImportError("something else")\n')
    assert last == "ImportError: something else", last


@pytest.mark.parametrize("platform, backends, line", [
    ("linux", {}, 'pip install "mlx==1.2.3" "mlx-cpu==1.2.3"'),
    ("linux", {"mlx-cpu": "1.2.2"}, 'pip install "mlx==1.2.3" "mlx-cpu==1.2.3"'),
    ("linux", {"mlx-cuda-13": "1.2.2"}, 'pip install "mlx==1.2.3" "mlx-cuda-13==1.2.3"'),
    ("linux", {"mlx-cpu": "1.2.3", "mlx-cuda-13": "1.2.2"}, 'pip install "mlx==1.2.3" "mlx-cpu==1.2.3" "mlx-cuda-13==1.2.3"'),
    ("darwin", {"mlx-metal": "1.2.2"}, 'pip install "mlx==1.2.3" "mlx-metal==1.2.3"'),
    ("darwin", {}, 'pip install "mlx==1.2.3" "mlx-metal==1.2.3"'),
])
def test_fix_line_per_platform(platform, backends, line):
    assert ic.fix_line("1.2.3", platform, backends) == line


def test_no_library_message_per_platform():
    e = ImportError("libmlx.so: cannot open shared object file")
    linux = ic.no_library_message(e, "1.2.3", "linux", {})
    assert linux is not None and '"mlx-sched[cpu]"' in linux and '"mlx-sched[cuda13]"' in linux
    mac = ic.no_library_message(ImportError("dlopen(libmlx.dylib): image not found"), "1.2.3", "darwin", {})
    assert mac is not None and mac.endswith('pip install "mlx==1.2.3" "mlx-metal==1.2.3"')
    assert ic.no_library_message(ImportError("No module named 'numpy'"), "1.2.3", "linux", {}) is None
    nodriver = ic.no_library_message(ImportError("libcuda.so.1: cannot open shared object file"), "1.2.3", "linux",
                                     {"mlx-cuda-13": "1.2.3"})
    assert nodriver is not None and nodriver.endswith(
        'pip uninstall -y mlx-cuda-13 && pip install --force-reinstall "mlx-cpu==1.2.3"')
