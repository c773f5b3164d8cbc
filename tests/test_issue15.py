"""Issue 15: the last wrong values and tracebacks (each test failed before its fix)."""

import math
import os
from fractions import Fraction
import subprocess
import sys

import mlx.core as mx
import numpy as np
import pytest

import mlx_sched as ms
from families_oracle import hf_cosine
from helpers import assert_close


# ---------------------------------------------------------------- values

def test_linear_init_is_exact_at_step_zero():
    assert ms.linear_schedule(1e-7, 1.0, 1)(0).item() == np.float32(1e-7)
    for n in (1, 2, 3, 7):
        assert ms.linear_schedule(1e-7, 1.0, n)(0).item() == np.float32(1e-7)
        assert ms.linear_schedule(1e-7, 1.0, n)(n).item() == 1.0


def test_cosine_init_and_end_are_exact():
    assert ms.cosine_decay(1e-7, 10, 1.0)(0).item() == np.float32(1e-7)
    assert ms.cosine_decay(1.0, 10, 1e-7)(10).item() == np.float32(1e-7)
    # near init, values keep full relative precision (float64 reference)
    s = ms.cosine_decay(1e-7, 1000, 1.0)
    for k in (1, 2, 5):
        ref = 1.0 + (1e-7 - 1.0) * 0.5 * (1 + math.cos(math.pi * k / 1000))
        assert abs(s(k).item() - ref) <= 2e-6 * ref


def test_onecycle_starts_at_max_lr_over_div():
    assert ms.onecycle(1000, 1e-3)(0).item() == np.float32(1e-3 / 25)


# ------------------------------------------------------------- from_config

def test_from_config_warms_up_to_the_schedules_own_first_value():
    lr = ms.from_config({"name": "onecycle", "arguments": [1000, 1e-3], "warmup": 10})
    first = ms.onecycle(1000, 1e-3)(0).item()
    assert lr(10).item() == first and lr(11).item() == first
    assert 0 < lr(5).item() < first
    # the mlx.optimizers factories: arguments[0], as mlx-lm
    lr = ms.from_config({"name": "cosine_decay", "arguments": [1e-5, 1000, 1e-7], "warmup": 100})
    assert lr(100).item() == np.float32(1e-5)


def test_from_config_reads_yaml_float_strings_as_mlx_lm():
    cfg = {"name": "cosine_decay", "arguments": ["1e-5", 1000, "1e-7"], "warmup": 100, "warmup_init": "1e-8"}
    lr = ms.from_config(cfg)
    ref = ms.from_config({"name": "cosine_decay", "arguments": [1e-5, 1000, 1e-7], "warmup": 100, "warmup_init": 1e-8})
    np.testing.assert_array_equal(np.array(lr.program), np.array(ref.program))
    yaml = pytest.importorskip("yaml")
    cfg = yaml.safe_load("lr_schedule: {name: cosine_decay, arguments: [1e-5, 1000, 1e-7], warmup: 100}")["lr_schedule"]
    assert isinstance(cfg["arguments"][0], str)  # what the README's example gives
    np.testing.assert_array_equal(np.array(ms.from_config(cfg).program),
                                  np.array(ms.from_config({"name": "cosine_decay", "arguments": [1e-5, 1000, 1e-7], "warmup": 100}).program))
    with pytest.raises(TypeError, match="init"):  # a string mlx-lm keeps a string
        ms.from_config({"name": "cosine_decay", "arguments": ["fast", 1000]})


# ------------------------------------------------------------- arguments

@pytest.mark.parametrize("call,name", [
    (lambda: ms.cosine_decay(1e300, 10), "init"),
    (lambda: ms.polynomial_decay(1.0, 0.0, 1e300, 10), "power"),
    (lambda: ms.cosine_decay(1.0, 10, end=-1e39), "end"),
    (lambda: ms.exponential_decay(1.0, 1e300), "decay_rate"),
    (lambda: ms.cosine_decay(10**400, 10), "init"),
    (lambda: ms.cosine_decay(1.0, 10**400), "decay_steps"),
    (lambda: ms.join_schedules([ms.constant(1.0), ms.constant(2.0)], [10**400]), "boundaries[0]"),
    (lambda: ms.step_decay(1.0, 0.5, float("inf")), "step_size"),
])
def test_out_of_range_hyperparameters_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name.replace("[", r"\[").replace("]", r"\]")):
        call()


def test_derived_float32_overflow_is_refused():
    with pytest.raises(ValueError, match="float32"):
        ms.cosine_decay(3e38, 10, -3e38)  # init - end overflows float32


def test_array_transition_steps():
    s = ms.exponential_decay(1.0, 0.5, transition_steps=np.array([1, 2]))
    np.testing.assert_allclose(np.array(s(4)), [0.0625, 0.25])
    assert ms.exponential_decay(1.0, 0.5, transition_steps=np.array(1)).to_dict()["args"] == {"init": 1.0, "decay_rate": 0.5}


def test_to_dict_and_from_dict_at_depth_2000():
    s = ms.constant(1.0)
    for k in range(2000):
        s = ms.join_schedules([ms.constant(float(k)), s], [1])
    d = s.to_dict()
    again = ms.from_dict(d)
    np.testing.assert_array_equal(np.array(again.program), np.array(s.program))
    bad = {"kind": "stack", "schedules": []}
    bad["schedules"].append(bad)
    with pytest.raises(ValueError, match="contain itself"):
        ms.from_dict(bad)


# -------------------------------------------------------------------- CLI

def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mlx_sched", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args,arg", [
    (["5"], "SPEC"), (["None"], "SPEC"), (["cosine_decay"], "SPEC"), ([str(10**400)], "SPEC"),
    (["cosine_decay(1, " + str(10**400) + ")"], "SPEC"), (["cosine_decay(1e300, 10)"], "SPEC"),
    (["cosine_decay(1, 10)", "--steps", str(2**63)], "--steps"), (["cosine_decay(1, 10)", "--steps", "1,x"], "--steps"),
    (["cosine_decay(1, 10)", "--n", "-5"], "--n"), (["cosine_decay(1, 10)", "--n", "2147483648"], "--n"),
    (["cosine_decay(1, 10)", "--n", "abc"], "--n"), (["cosine_decay(1, 10)", "--repeat", "0"], "--repeat"),
    (["plot", "cosine_decay(1, 10)", "--size", "0x0"], "--size"), (["plot", "cosine_decay(1, 10)", "--size", "100000x100000"], "--size"),
    (["plot", "cosine_decay(1, 10)", "-o", "no/such/folder/lr.png"], "--output"),
    (["plot", "cosine_decay(1, 10)", "-o", "lr.jpg"], "--output"), (["plot", "cosine_decay(1, 10)", "-o", "somedir/"], "--output"),
    (["plot", "5"], "SPEC"), (["plot", "cosine_decay(1, 10)", "--steps", "0"], "--steps"),
])
def test_cli_errors_are_one_line_naming_the_argument(args, arg, tmp_path):
    r = subprocess.run([sys.executable, "-m", "mlx_sched", *args, *([] if args[0] == "plot" else ["--no-timing"])],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert arg in lines[0], lines[0]
    assert not (tmp_path / "somedir" / ".png").exists()


def test_cli_comparison_column_survives_what_mlx_cannot_evaluate():
    r = _cli("exponential_decay(0.1, 9223372036854775808)", "--no-timing", "--steps", "0,1")
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr


def test_cli_repeat_one_prints_finite_ratios():
    r = _cli("cosine_decay(1, 10)", "--n", "1000", "--repeat", "1")
    assert r.returncode == 0 and "inf ms" not in r.stdout and "nan" not in r.stdout, r.stdout


# ---- HF num_cycles where half a cycle is not a whole number of steps

FRACTIONAL_CYCLES = [
    (lambda: ms.cosine_with_warmup(1.0, 3, 13, num_cycles=0.3), dict(init=1.0, w=3, T=13, cycles=0.3)),
    (lambda: ms.cosine_with_min_lr(2.0, 10, 1010, num_cycles=1 / 3, min_lr_rate=0.1),
     dict(init=2.0, w=10, T=1010, cycles=Fraction(1, 3), m=0.1)),
    (lambda: ms.get_schedule("get_cosine_schedule_with_warmup", lr=1.0, num_warmup_steps=0, num_training_steps=7, num_cycles=2.5),
     dict(init=1.0, w=0, T=7, cycles=2.5)),
]


@pytest.mark.parametrize("case", range(len(FRACTIONAL_CYCLES)))
def test_hf_num_cycles_any_fraction_matches_the_exact_oracle(case):
    build, kw = FRACTIONAL_CYCLES[case]
    s, ref = build(), hf_cosine(**kw)
    steps = list(range(0, 3000)) + [10**6 + 1, 2**40 + 3, 2**53 + 5, 2**62 - 1]
    ours = np.array(s(mx.array(np.array(steps, np.int64))))
    assert_close(ours, np.array([ref(k) for k in steps]), kw["init"], rtol=1e-5, atol_rel=1e-6)
    # fractional steps advance the wave as HF's progress does
    fsteps = np.array([kw["w"] + 0.5, kw["w"] + 2.25, kw["w"] + 7.75, 100.5], np.float32)
    ours_f = np.array(s(mx.array(fsteps)))
    assert_close(ours_f, np.array([ref(float(k)) for k in fsteps]), kw["init"], rtol=1e-5, atol_rel=1e-6)
    # range mode and the step array agree bit for bit, also far out
    for start in (0, 2**40 - 77):
        np.testing.assert_array_equal(np.array(s.values(5000, start)), np.array(s(mx.arange(start, start + 5000, dtype=mx.int64))))


def test_hf_whole_half_cycles_keep_their_programs():
    # a whole half cycle writes no multiplier: the program of before
    p = np.array(ms.cosine_with_warmup(1.0, 10, 810, num_cycles=4).program).reshape(-1, 16)
    assert (p[1:, 14:16] == 0).all()
    p = np.array(ms.cosine_with_warmup(1.0, 3, 13, num_cycles=0.3).program).reshape(-1, 16)
    assert p[-1, 14] == 3  # 2c = 3/5: half period 50 / 3 steps


@pytest.mark.parametrize("c", [1e-300, 0.1234567890123, 1e30])
def test_hf_num_cycles_without_an_exact_fraction_is_refused_naming_it(c):
    with pytest.raises(ValueError, match="num_cycles"):
        ms.cosine_with_warmup(1.0, 0, 2**61, num_cycles=c)
