"""The sweep example (python/mlx_sched/examples/sweep.py): a grid of small MLPs
stacked along axis 0 and trained by one member-batched fused AdamW
(``member_axis=0``) agrees per member with G separate models each trained by
its own mlx.optimizers.AdamW; and split across two processes (mx.distributed,
ring backend) it gives the single process's per-member losses."""

import itertools
import json
import math
import subprocess
import sys

import mlx.core as mx
import pytest

from mlx_sched.examples import sweep  # the installed example (the wheel ships it)

STEPS = 20
# fused vs loop, relative, per member. On the CPU the two are bit-identical
# (MLX's batched matmul runs each member's product as the loop does, and the
# fused AdamW gives mlx.optimizers' bits), but a vmapped product may sum in
# another order on another backend or BLAS: float32 rounding of a few ulps per
# step over 20 steps stays far below 1e-4. The members of the grid differ from
# each other by much more (checked below), so a member trained with another
# member's hyperparameters could not pass.
RTOL = 1e-4


@pytest.fixture
def on_cpu():
    old = mx.default_device()
    mx.set_default_device(mx.cpu)
    yield
    mx.set_default_device(old)


def run_in_process(out, *extra):
    assert sweep.main(["--small", "--steps", str(STEPS), "--timing-steps", "2", "--repeats", "1",
                       "--out", str(out), *extra]) == 0
    return json.loads((out / "sweep.json").read_text())


def test_fused_matches_the_loop_and_learns(tmp_path, on_cpu):
    rep = run_in_process(tmp_path)
    members = rep["members"]
    assert rep["members_total"] == len(members) == 8 and rep["ranks"] == 1 and "cpu" in rep["device"]
    configs = sweep.make_grid(*sweep.SMALL)
    for m, (got, want) in enumerate(zip(members, configs)):
        assert got["member"] == m and {k: got[k] for k in want} == want
        assert got["schedule"]["args"]["peak"] == want["peak_lr"]
        # fused (member_axis=0) against the member's own mlx.optimizers.AdamW
        assert math.isclose(got["final_loss"], got["final_loss_loop"], rel_tol=RTOL), got
        assert got["final_loss"] < 0.8 * got["initial_loss"], got  # every member learns
    assert rep["max_rel_diff_final_loss"] <= RTOL and rep["max_rel_diff_loss_curves"] <= RTOL
    curves = rep["loss_curves"]
    assert len(curves) == 8 and all(len(c) == STEPS for c in curves)
    # the tolerance separates the members: the training losses of any two (different
    # hyperparameters, the same data and initial weights) differ by more at some step
    assert min(max(abs(a - b) / b for a, b in zip(curves[i], curves[j]))
               for i, j in itertools.combinations(range(8), 2)) > 10 * RTOL
    assert set(rep["timings"]) == {"fused_compiled", "fused_eager", "loop_compiled", "loop_eager"}
    assert all(t["best_ms"] > 0 for t in rep["timings"].values())
    pytest.importorskip("matplotlib")
    assert (tmp_path / "sweep.png").stat().st_size > 10_000


def test_eager_is_the_compiled_run(tmp_path, on_cpu):
    compiled = run_in_process(tmp_path / "c", "--no-loop", "--timing-steps", "0")
    eager = run_in_process(tmp_path / "e", "--no-loop", "--timing-steps", "0", "--no-compile")
    assert compiled["loss_curves"] == eager["loss_curves"]
    assert eager["max_rel_diff_final_loss"] is None and eager["timings"] == {}


def test_bad_arguments(capsys):
    with pytest.raises(SystemExit) as e:
        sweep.main(["--small", "--steps", "5", "--warmups", "0,10"])
    assert e.value.code == 2 and "--warmups" in capsys.readouterr().err


def test_help():
    run = subprocess.run([sys.executable, "-m", "mlx_sched.examples.sweep", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert run.returncode == 0 and "--distributed" in run.stdout and "member" in run.stdout


def test_two_ranks_give_the_single_process_losses(tmp_path, on_cpu):
    single = run_in_process(tmp_path / "one", "--no-loop", "--timing-steps", "0")
    out = tmp_path / "two"
    launcher = [sys.executable, "-c", "from mlx._distributed_utils.launch import main; main()"]
    cmd = launcher + ["--backend", "ring", "-n", "2", sys.executable, sweep.__file__, "--distributed",
                      "--device", "cpu", "--small", "--steps", str(STEPS), "--timing-steps", "2", "--repeats", "1",
                      "--out", str(out)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=180, cwd=str(tmp_path))
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"the two ranks did not finish in 180 s: {e.stdout} {e.stderr}")
    assert run.returncode == 0, run.stdout + run.stderr
    whole = json.loads((out / "sweep.json").read_text())
    assert whole["ranks"] == 2 and whole["members_total"] == 8 and len(whole["timings_per_rank"]) == 2
    # each rank trained a contiguous block of 4 members with its own member-batched optimizer
    for r in range(2):
        rank = json.loads((out / f"rank{r}.json").read_text())
        assert rank["rank"] == r and [m["member"] for m in rank["members"]] == list(range(4 * r, 4 * r + 4))
        assert rank["members"] == whole["members"][4 * r:4 * r + 4]
        assert rank["loss_curves"] == whole["loss_curves"][4 * r:4 * r + 4]
        assert set(rank["timings"]) == {"fused_compiled", "fused_eager", "loop_compiled", "loop_eager"}
    # gathered: bit for bit the single process's (each member's arithmetic does not depend on
    # how many others share its step); and every rank's loop baseline agrees too
    for key in ["initial_loss", "final_loss"]:
        assert [m[key] for m in whole["members"]] == [m[key] for m in single["members"]]
    assert whole["loss_curves"] == single["loss_curves"]
    assert whole["max_rel_diff_final_loss"] <= RTOL
