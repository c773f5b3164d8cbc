"""The Metal shaders, run on the CPU: metal/sched_kernels.metal is compiled as
C++ against a small shim (tests/metal_shim: types, address spaces, metal::
functions, a kernel registry), every kernel runs over its whole grid, and the
results are compared with the CPU backend on the shared case list."""

import ctypes
import os
import shutil
import subprocess

import mlx.core as mx
import numpy as np
import pytest

from cases import RANGES, SCHEDULES, STEP_ARRAY_NAMES, step_arrays
from test_backends import ulp_close

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEP_TYPES = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32"]


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    cxx = shutil.which("g++") or shutil.which("clang++")
    if cxx is None:
        pytest.skip("no C++ compiler to build the Metal emulation")
    lib = tmp_path_factory.mktemp("metal") / "libsched_metal_emu.so"
    shim = os.path.join(ROOT, "tests", "metal_shim")
    cmd = [
        cxx, "-std=c++17", "-O2", "-ffp-contract=off", "-Wall", "-Werror", "-Wno-attributes",
        "-Wno-unknown-attributes", "-fPIC", "-shared", f"-I{shim}", f"-I{os.path.join(ROOT, 'csrc')}", f"-I{ROOT}",
        "-include", os.path.join(shim, "shim.h"),
        "-x", "c++", os.path.join(ROOT, "metal", "sched_kernels.metal"),
        "-x", "c++", os.path.join(shim, "runner.cpp"),
        "-o", str(lib),
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    so = ctypes.CDLL(str(lib))
    so.emu_run.restype = ctypes.c_int
    so.emu_run.argtypes = [
        ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64,
        ctypes.c_int32, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
    ]  # fmt: skip
    so.emu_name.restype = ctypes.c_char_p
    return so


def run(emu, name, program, G, n, input_ptr, shape=(), strides=(), contiguous=True):
    out = np.full((G, n), -7.0, np.float32)
    shp = np.array(list(shape) or [1], np.int32)
    stp = np.array(list(strides) or [1], np.int64)
    rc = emu.emu_run(
        name.encode(), program.ctypes.data, G, program.shape[1], input_ptr, n,
        int(contiguous), len(shape), shp.ctypes.data, stp.ctypes.data, out.ctypes.data,
    )  # fmt: skip
    assert rc == 0, f"no kernel {name}"
    return out


def as_numpy_steps(steps):
    if steps.dtype == mx.bfloat16:
        return np.array(steps.view(mx.uint16)), "bfloat16"
    a = np.array(steps)
    return a, {np.dtype(np.float16): "float16", np.dtype(np.float32): "float32"}.get(a.dtype, a.dtype.name)


def test_every_kernel_is_instantiated_by_the_naming_rule(emu):
    names = {emu.emu_name(i).decode() for i in range(emu.emu_count())}
    assert names == {f"sched_steps_{t}" for t in STEP_TYPES} | {"sched_range"}


@pytest.mark.parametrize("steps_name", STEP_ARRAY_NAMES)
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_steps_kernels_match_cpu(emu, name, steps_name):
    s = SCHEDULES[name]()
    steps = step_arrays()[steps_name]
    a, tname = as_numpy_steps(steps)
    a = np.ascontiguousarray(a).reshape(-1)
    program = np.array(s.program)
    out = run(emu, f"sched_steps_{tname}", program, program.shape[0], a.size, a.ctypes.data)
    ref = np.array(s(mx.array(np.array(steps)) if steps.dtype != mx.bfloat16 else steps, stream=mx.cpu)).reshape(program.shape[0], -1)
    ulp_close(out, ref)


def test_strided_steps_kernel(emu):
    s = SCHEDULES["stack"]()
    base = np.arange(0, 30_000, dtype=np.int32).reshape(100, 300)
    view = base[::3, ::-2].T  # negative and non-unit strides
    program = np.array(s.program)
    out = run(
        emu, "sched_steps_int32", program, program.shape[0], view.size, view.ctypes.data,
        shape=view.shape, strides=[st // view.itemsize for st in view.strides], contiguous=False,
    )  # fmt: skip
    ref = np.array(s(mx.array(np.ascontiguousarray(view)), stream=mx.cpu)).reshape(program.shape[0], -1)
    ulp_close(out, ref)


@pytest.mark.parametrize("start,n", RANGES)
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_range_kernel_matches_cpu(emu, name, start, n):
    s = SCHEDULES[name]()
    program = np.array(s.program)
    start_buf = np.array([start], np.int64)
    out = run(emu, "sched_range", program, program.shape[0], n, start_buf.ctypes.data)
    ref = np.array(s.values(n, start=start, stream=mx.cpu)).reshape(program.shape[0], -1)
    ulp_close(out, ref)


def test_malformed_program_gives_nan(emu):
    program = np.zeros((1, 3, 16), np.int32)
    steps = np.arange(5, dtype=np.int64)
    out = run(emu, "sched_steps_int64", program, 1, 5, steps.ctypes.data)
    assert np.isnan(out).all()


def test_step_array_names_match_the_arrays():
    assert list(step_arrays()) == STEP_ARRAY_NAMES
