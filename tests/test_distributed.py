"""Data parallel beyond one process with MLX's own engine: two processes on
this machine (mx.distributed, ring backend, launched by mlx.launch) average
their gradients and each applies the fused AdamW; the parameters stay
identical across ranks and equal to mlx.optimizers.AdamW fed the same
averaged gradients (python/mlx_sched/examples/data_parallel.py)."""

import json
import subprocess
import sys

import pytest



def test_two_ranks_ring_backend(tmp_path):
    from mlx_sched.examples import data_parallel  # the installed example (the wheel ships it)

    EXAMPLE = data_parallel.__file__

    launcher = [sys.executable, "-c", "from mlx._distributed_utils.launch import main; main()"]
    cmd = launcher + ["--backend", "ring", "-n", "2", sys.executable, EXAMPLE, "--steps", "40", "--out", str(tmp_path),
                      "--device", "cpu"]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=str(tmp_path))
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the two ranks did not finish in 180 s: {e.stdout} {e.stderr}")
    assert run.returncode == 0, run.stdout + run.stderr
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    for r, rep in enumerate(reports):
        assert rep["rank"] == r and rep["size"] == 2
        assert rep["identical_across_ranks"]
        assert rep["step_counter"] == 40
        assert rep["max_abs_diff_vs_mlx_adamw"] <= 1e-5
        assert rep["last_loss"] < rep["first_loss"]
    assert reports[0]["checksum"] == reports[1]["checksum"]
