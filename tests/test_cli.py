"""The main job: python -m mlx_sched."""

import subprocess
import sys

import pytest

from mlx_sched.__main__ import main
from mlx_sched._spec import SpecError, parse
import mlx_sched as ms
import mlx.optimizers as optim


def test_default_example_prints_table_and_timing(capsys):
    assert main(["--n", "10000", "--repeat", "2", "--steps", "0,1,100,5000"]) == 0
    out = capsys.readouterr().out
    assert "mlx.optimizers" in out and "range mode" in out and "mx.compile" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("0 ", "1 ", "100 ", "5000 "))]
    assert [r[0] for r in rows] == ["0", "1", "100", "5000"]
    for r in rows:  # our value, MLX's value, their relative difference
        assert float(r[3]) < 1e-5


def test_batch_spec(capsys):
    assert main(["cosine_decay([1e-3, 2e-3], 100)", "--no-timing", "--steps", "0,50"]) == 0
    assert "[0.001 0.002]" in capsys.readouterr().out


@pytest.mark.parametrize(
    "spec,msg",
    [
        ("__import__('os').system('echo hi')", "unknown schedule"),
        ("cosine_decay(1, 10) + 1", "not allowed"),
        ("cosine_decay(1, x)", "not allowed"),
        ("cosine_decay(1, 0)", "decay_steps must be greater than 0"),
        ("cosine_decay(1,", "not a schedule expression"),
        ("cosine_decay(**{'init': 1})", "kwargs are not allowed"),
    ],
)
def test_unsafe_or_bad_specs_are_rejected(spec, msg, capsys):
    with pytest.raises(SystemExit) as e:
        main([spec, "--no-timing"])
    assert e.value.code == 2
    assert msg in capsys.readouterr().err


def test_parse_builds_both_apis():
    spec = "join_schedules([linear_schedule(0, 1e-3, steps=100), cosine_decay(1e-3, 10000, end=-1e-5)], [100])"
    ours, theirs = parse(spec, ms), parse(spec, optim)
    assert isinstance(ours, ms.Schedule) and callable(theirs)
    assert abs(ours(150).item() - theirs(150).item()) < 1e-9
    with pytest.raises(SpecError):
        parse("stack([cosine_decay(1, 10)])", optim)


def test_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "mlx_sched", "step_decay(0.1, 0.5, 10)", "--no-timing", "--steps", "25"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert "0.025" in out
