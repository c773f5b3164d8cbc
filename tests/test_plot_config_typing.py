"""Pictures, mlx-lm configs, the CLI's plot and grid, types (issue 7)."""

import os
import struct
import subprocess
import sys

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
import pytest

import mlx_sched as ms

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", head[16:24])


def test_plot_draws_each_member_with_a_legend():
    matplotlib = pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'mlx-sched[plot]')")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b = ms.grid(ms.cosine_decay, init=[1.0, 2.0], decay_steps=[10, 20])
    ax = b.plot(30)
    lines = ax.get_lines()
    assert len(lines) == 4
    np.testing.assert_array_equal(lines[3].get_ydata(), np.array(b.values(30))[3])
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[1] == "init=1.0, decay_steps=20"
    one = ms.onecycle(100, 1.0).plot(100, start=0, color="red")
    assert len(one.get_lines()) == 1 and one.get_legend() is None
    with pytest.raises(ValueError, match="num_steps must be at least 1"):
        ms.constant(1.0).plot(0)
    plt.close("all")


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"mlx-sched\[plot\]"):
        ms.constant(1.0).plot(10)


def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mlx_sched", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_cli_plot_writes_a_png_of_the_asked_size(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed (pip install 'mlx-sched[plot]')")
    out = tmp_path / "lr.png"
    r = _cli("plot", "grid(warmup_cosine_decay, init=0.0, peak=[1e-3, 2e-3], warmup_steps=100, decay_steps=1000)",
             "--steps", "1000", "-o", str(out), "--size", "640x400", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert _png_size(out) == (640, 400)
    assert out.stat().st_size > 5000  # lines were drawn, not an empty canvas
    bad = _cli("plot", "nonsense(1)", "-o", str(tmp_path / "x.png"), cwd=tmp_path)
    assert bad.returncode == 2 and "unknown schedule 'nonsense'" in bad.stderr


def test_cli_prints_a_grid_with_its_configs(tmp_path):
    r = _cli("grid(cosine_decay, init=[1e-3, 3e-3], decay_steps=[100, 200])", "--no-timing", "--steps", "0,50", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "[3] init=0.003, decay_steps=200" in r.stdout
    assert "0.0025607" in r.stdout  # member 3 at step 50


def _mlx_lm_reference(cfg):
    """mlx-lm's build_schedule (mlx_lm/tuner/utils.py), over mlx.optimizers."""
    fn = getattr(optim, cfg["name"])
    args = cfg["arguments"]
    sched = fn(*args)
    if w := cfg.get("warmup", 0):
        warm = optim.linear_schedule(cfg.get("warmup_init", 0.0), args[0], w)
        return optim.join_schedules([warm, sched], [w + 1])
    return sched


CONFIGS = [
    {"name": "cosine_decay", "arguments": [1e-5, 1000, 1e-7], "warmup": 100},
    {"name": "cosine_decay", "arguments": [2e-4, 500], "warmup": 50, "warmup_init": 1e-6},
    {"name": "linear_schedule", "arguments": [1e-4, 0.0, 800]},
    {"name": "step_decay", "arguments": [1e-3, 0.5, 100], "warmup": 10},
    {"name": "exponential_decay", "arguments": [1e-3, 0.999], "warmup": 0},
]


@pytest.mark.parametrize("k", range(len(CONFIGS)))
def test_from_config_matches_mlx_lm(k):
    cfg = CONFIGS[k]
    steps = mx.arange(0, 1200)
    ours = np.array(ms.from_config(cfg)(steps))
    ref = np.array(_mlx_lm_reference(cfg)(steps))
    atol = 1e-6 * float(np.abs(ref).max())  # MLX's float32 cosine is ~1e-4 off relatively near its end
    np.testing.assert_allclose(ours, ref, rtol=2e-5, atol=atol)


@pytest.mark.parametrize("k", range(len(CONFIGS)))
def test_from_config_matches_mlx_lm_itself(k):
    utils = pytest.importorskip("mlx_lm.tuner.utils", reason="mlx-lm is not installed (pip install mlx-lm)")
    cfg = CONFIGS[k]
    steps = mx.arange(0, 1200)
    ours = np.array(ms.from_config(cfg)(steps))
    ref = np.array(utils.build_schedule(cfg)(steps))
    np.testing.assert_allclose(ours, ref, rtol=2e-5, atol=1e-6 * float(np.abs(ref).max()))


def test_from_config_warmup_boundary_is_mlx_lms():
    lr = ms.from_config({"name": "cosine_decay", "arguments": [1.0, 100], "warmup": 10})
    v = np.array(lr(mx.arange(9, 13)))
    assert v[1] == 1.0 and v[2] == 1.0  # step 10: end of the warmup; step 11: the cosine at its step 0
    assert v[3] < 1.0


@pytest.mark.parametrize(
    "cfg,exc,msg",
    [
        ([1, 2], TypeError, "must be a dict"),
        ({"name": "cosine_decay"}, ValueError, "needs the field 'arguments'"),
        ({"name": "nope", "arguments": [1]}, ValueError, "unknown schedule 'nope' in field 'name'"),
        ({"name": "cosine_decay", "arguments": [1.0, 10], "warmpu": 5}, ValueError, "unknown field 'warmpu'"),
        ({"name": "cosine_decay", "arguments": []}, ValueError, "'arguments' must be a non-empty list"),
        ({"name": "cosine_decay", "arguments": [1.0, 10], "warmup": -3}, ValueError, "warmup must be greater than 0"),
    ],
)
def test_from_config_errors(cfg, exc, msg):
    with pytest.raises(exc, match=msg):
        ms.from_config(cfg)


def test_mypy_strict_passes():
    mypy_api = pytest.importorskip("mypy.api", reason="mypy is not installed (pip install 'mlx-sched[test]')")
    import mlx_sched

    # the installed package (with its generated _ext.pyi), under the project's [tool.mypy] (strict)
    if not os.path.exists(os.path.join(os.path.dirname(mlx_sched.__file__), "_ext.pyi")):
        pytest.skip("this build has no _ext.pyi (the sanitizer build skips stubgen)")
    out, err, code = mypy_api.run(["--config-file", os.path.join(ROOT, "pyproject.toml"), "--no-incremental",
                                   "--cache-dir", os.devnull, "--python-executable", sys.executable, "-p", "mlx_sched"])
    assert code == 0 and "Success" in out, out + err
