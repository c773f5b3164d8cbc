"""The Metal shaders, run on the CPU: metal/*.metal are compiled as C++
against a small shim (tests/metal_shim: types, address spaces, metal::
functions, a kernel registry), every kernel runs over its whole grid, and the
results are compared with the CPU backend on the shared case list. The fused
step is dispatched as the Metal host dispatches it: the same plan of bound
batches (csrc/metal/batches.h), the table without addresses, each batch's
arrays in the kernel's slots. (.ci/metal checks the shaders' language; this
checks their values.)"""

import ctypes
import os
import shutil
import subprocess

import mlx.core as mx
import numpy as np
import pytest

from cases import RANGES, SCHEDULES, STEP_ARRAY_NAMES, step_arrays
from helpers import ulp_close
from mlx_sched import _ext

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
        "-Wno-unknown-attributes", "-Wno-unknown-pragmas", "-fPIC", "-shared", f"-I{shim}", f"-I{os.path.join(ROOT, 'csrc')}", f"-I{ROOT}",
        "-include", os.path.join(shim, "shim.h"),
        "-x", "c++", os.path.join(ROOT, "metal", "sched_kernels.metal"),
        "-x", "c++", os.path.join(ROOT, "metal", "optim_kernels.metal"),
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
    so.emu_fused.restype = ctypes.c_int
    i32, ptr = ctypes.c_int32, ctypes.c_void_p
    so.emu_fused.argtypes = [ctypes.c_char_p, ptr, ptr, i32, ptr, i32, ptr, i32, ptr, i32, ptr, ptr, ptr, i32, i32, ptr, ptr]
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
    assert names == {f"sched_steps_{t}" for t in STEP_TYPES} | {"sched_range"} | {
        f"sched_fused_step_{k}" for k in _ext.OPTIMIZERS}


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


# ------------------------------------------------------- fused optimizer step

TENSOR = np.dtype([("param", "u8"), ("grad", "u8"), ("s0", "u8"), ("s1", "u8"), ("out_param", "u8"),
                   ("out_s0", "u8"), ("out_s1", "u8"), ("size", "i8"), ("first_chunk", "i4"), ("group", "i2"),
                   ("dtype", "i2"), ("grad_layout", "i4"), ("param_layout", "i4")])
LAYOUT = np.dtype([("ndim", "i4"), ("shape", "i4", 4), ("pad", "i4"), ("strides", "i8", 4)])
GROUP = np.dtype([("lr_prog", "i4"), ("wd_prog", "i4"), ("flags", "i4"), ("hp_prog", "i2", 4), ("hp", "f4", 3),
                  ("hp_1m", "f4", 3)])  # math/optim.h: sched_opt_group (hp_prog's 4th: padding)
OPT_ARGS = np.dtype([("R", "i4"), ("ngroups", "i4"), ("ntensors", "i4"), ("nchunks", "i4")])
DT_CODE = {"float32": 0, "float16": 1, "bfloat16": 2}


def as_bits(a):
    """An mx array's bytes as numpy (bfloat16 through uint16)."""
    return np.array(a.view(mx.uint16)) if a.dtype == mx.bfloat16 else np.array(a)


def fused_case(kind, shapes, strided=(), seed=7, members=0):
    """An optimizer of `kind` over `shapes` (name -> (shape, dtype)) in three
    groups with their own schedules, non-zero states and a step counter of 5;
    its step on the CPU. Gradients named in `strided` are transposes. With
    `members`, a sweep: every shape's axis 0 holds that many members, each
    with its own learning rate (member_axis=0)."""
    from mlx_sched import optimizers as fo
    import mlx_sched as ms

    rng = np.random.default_rng(seed)
    params = {k: mx.array(rng.normal(size=s).astype(np.float32)).astype(dt) for k, (s, dt) in shapes.items()}
    grads = {k: mx.array(rng.normal(size=s).astype(np.float32)).astype(dt) for k, (s, dt) in shapes.items()}
    for k in strided:
        s, dt = shapes[k]
        grads[k] = mx.array(rng.normal(size=s[::-1]).astype(np.float32)).astype(dt).T
    extra = {"SGD": dict(momentum=0.9, nesterov=True, weight_decay=ms.cosine_decay(0.1, 10)),
             "Adam": dict(bias_correction=True, eps=1e-3), "AdamW": dict(eps=1e-3, weight_decay=0.1),
             # the other optimizers, some hyperparameters scheduled (evaluated in the kernel)
             "RMSprop": dict(alpha=ms.linear_schedule(0.9, 0.99, 10), eps=1e-3), "Adagrad": dict(eps=1e-3),
             "AdaDelta": dict(rho=ms.cosine_decay(0.95, 10, 0.8)), "Adamax": dict(betas=[ms.constant(0.8), 0.99]),
             "Lion": dict(weight_decay=ms.linear_schedule(0.0, 0.1, 10))}[kind]
    sweep = dict(member_axis=0) if members else {}
    lr = ms.step_decay([0.1 * (m + 1) / max(members, 1) for m in range(max(members, 1))], 0.5, 2) if members \
        else ms.step_decay(0.1, 0.5, 2)
    opt = getattr(fo, kind)(lr, groups=[
        (lambda path, p: p.ndim == 1, {"learning_rate": ms.cosine_decay(0.05, 9)}),
        (lambda path, p: path.endswith("d"), {"learning_rate": 0.02}),
    ], **extra, **sweep)
    opt.init(params)
    opt.state["fused"] = {b: {s: mx.array(np.abs(rng.normal(size=v.shape)).astype(np.float32)).astype(v.dtype) * 0.1
                              for s, v in d.items()} for b, d in opt.state["fused"].items()}
    opt.state["step"] = mx.array(5, mx.uint64)
    mx.eval(params, grads, opt.state)
    before = dict(
        p={k: as_bits(v).copy() for k, v in params.items()},
        g={k: as_bits(v).copy() for k, v in grads.items()},  # row-contiguous copies
        states={b: {s: as_bits(v).copy() for s, v in d.items()} for b, d in opt.state["fused"].items()},
        lr=None,
        # the step's programs: the schedules, and a row holding a float learning rate
        programs=np.array(opt._step_programs(opt.state["learning_rate"])),
    )
    with mx.stream(mx.cpu):
        new = opt.apply_gradients(grads, params)
        mx.eval(new, opt.state)
    cpu = dict(p={k: as_bits(v) for k, v in new.items()},
               states={b: {s: as_bits(v) for s, v in d.items()} for b, d in opt.state["fused"].items()},
               lr=np.array(opt.state["learning_rate"]))
    return opt, before, cpu


def emulate(emu, kind, opt, before, strided=(), donate=False, slots=25, drop=0):
    """The same step in the emulated kernel, dispatched as the Metal host
    dispatches it: the table as FusedStep::prepare makes it (host addresses),
    every array it reaches as a buffer, the host's plan of batches (runner.cpp).
    With donate, the new states are written over the old ones (MLX's donation);
    drop leaves the first arrays out of the buffers (a planning error)."""
    L = opt._layout
    names = list(opt._STATES)
    p_in, g_in = before["p"], before["g"]
    states_in = {b: {s: v.copy() for s, v in d.items()} for b, d in before["states"].items()}
    out_states = states_in if donate else {b: {s: np.zeros_like(v) for s, v in d.items()} for b, d in states_in.items()}
    out_params = {b: np.zeros_like(states_in[b][names[0]]) for b in states_in}
    g_mem = {k: np.ascontiguousarray(g_in[k].T) if k in strided else g_in[k] for k in g_in}  # memory of a transpose
    M = L.members_of_step  # a sweep: each tensor's M members are entries of their own (FusedStep::make_table)
    table = np.zeros(len(L.paths) * M, TENSOR)
    layouts = np.zeros(max(1, len(strided)), LAYOUT)
    chunks = 0
    for i, m in [(i, m) for i in range(len(L.paths)) for m in range(M)]:
        path = L.paths[i]
        b = L.buckets[L.bucket_of[i]][0]
        per = p_in[path].size // M
        item = p_in[path].dtype.itemsize
        off = (L.offset[i] + m * per) * item
        e = table[i * M + m]
        e["param"] = p_in[path].ctypes.data + m * per * item
        e["param_layout"] = -1
        e["grad"] = g_mem[path].ctypes.data + m * per * item
        e["grad_layout"] = -1
        if path in strided:
            assert M == 1
            j = list(strided).index(path)
            rows, cols = g_in[path].shape
            layouts[j]["ndim"] = 2
            layouts[j]["shape"][:2] = [rows, cols]
            layouts[j]["strides"][:2] = [1, rows]
            e["grad_layout"] = j
        e["s0"] = states_in[b][names[0]].ctypes.data + off
        e["out_s0"] = out_states[b][names[0]].ctypes.data + off
        if len(names) == 2:
            e["s1"] = states_in[b][names[1]].ctypes.data + off
            e["out_s1"] = out_states[b][names[1]].ctypes.data + off
        e["out_param"] = out_params[b].ctypes.data + off
        e["size"] = per
        e["first_chunk"] = chunks
        e["group"] = L.group_of[i] + m
        e["dtype"] = DT_CODE[b]
        chunks += -(-per // 4096)
    # every array the step reaches, once (a donated state is read and written)
    arrays = list(p_in.values()) + list(g_mem.values()) + list(out_params.values())
    arrays += [v for d in states_in.values() for v in d.values()]
    arrays += [] if donate else [v for d in out_states.values() for v in d.values()]
    arrays = arrays[drop:]
    written = {id(v) for v in out_params.values()} | {id(v) for d in out_states.values() for v in d.values()}
    bases = (ctypes.c_void_p * len(arrays))(*[a.ctypes.data for a in arrays])
    lengths = np.array([a.nbytes for a in arrays], np.int64)
    wr = np.array([id(a) in written for a in arrays], np.uint8)
    groups = np.zeros(len(opt._groups), GROUP)
    for g, grp in enumerate(opt._groups):
        groups[g]["lr_prog"], groups[g]["wd_prog"], groups[g]["flags"] = grp.lr_prog, grp.wd_prog, grp.flags
        groups[g]["hp_prog"] = list(grp.hp_prog) + [0]
        groups[g]["hp"], groups[g]["hp_1m"] = grp.hp, grp.hp_1m
    programs = before["programs"]
    step = np.array([5], np.uint64)
    step_out = np.zeros(1, np.uint64)
    # the rates, then each group's reported hyperparameters (math/optim.h: sched_opt_report)
    lr_out = np.zeros(len(groups) * (2 + _ext.OPT_HPS), np.float32)
    dispatches = emu.emu_fused(
        f"sched_fused_step_{kind.lower()}".encode(), step.ctypes.data, programs.ctypes.data, programs.shape[1],
        table.ctypes.data, len(table), layouts.ctypes.data, len(layouts), groups.ctypes.data, len(groups),
        bases, lengths.ctypes.data, wr.ctypes.data, len(arrays), slots, step_out.ctypes.data, lr_out.ctypes.data,
    )  # fmt: skip
    assert dispatches > 0, f"emu_fused failed: {dispatches}"
    assert step_out[0] == 6
    return dict(params=out_params, states=out_states, lr=lr_out[:len(groups)], hypers=lr_out[len(groups):],
                dispatches=dispatches)


def assert_same_step(opt, before, cpu, got):
    L = opt._layout
    np.testing.assert_array_equal(got["lr"], cpu["lr"].reshape(-1))
    for i, path in enumerate(L.paths):
        b = L.buckets[L.bucket_of[i]][0]
        sl = slice(L.offset[i], L.offset[i] + before["p"][path].size)
        np.testing.assert_array_equal(got["params"][b][sl], cpu["p"][path].reshape(-1), err_msg=path)
        for s in opt._STATES:
            np.testing.assert_array_equal(got["states"][b][s][sl], cpu["states"][b][s][sl], err_msg=f"{path}.{s}")


SHAPES = {"a": ((70, 61), mx.float32), "b": ((4097,), mx.float32), "c": ((33,), mx.float16),
          "d": ((5, 9), mx.bfloat16), "e": ((3, 11), mx.float32)}


@pytest.mark.parametrize("donate", [False, True], ids=["new-states", "donated"])
@pytest.mark.parametrize("kind", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "AdaDelta", "Adamax", "Lion"])
def test_fused_step_kernel_matches_cpu(emu, kind, donate):
    """Float32, float16 and bfloat16 tensors (one more than a chunk, a strided
    gradient) in three groups with their own schedules: the Metal kernel, fed
    through its bound slots, and the CPU backend give the same bits; with the
    states donated (one buffer read and written) too. 5 gradients + 5
    parameters + 3 flat parameter outputs + the states fit one dispatch."""
    opt, before, cpu = fused_case(kind, SHAPES, strided=("e",))
    got = emulate(emu, kind, opt, before, strided=("e",), donate=donate)
    assert got["dispatches"] == 1
    assert_same_step(opt, before, cpu, got)


@pytest.mark.parametrize("kind", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "AdaDelta", "Adamax", "Lion"])
def test_fused_step_sweep_members_match_cpu(emu, kind):
    """A sweep (member_axis=0): 6 members per tensor, each its own entry and
    its own group's learning rate, in the same one dispatch, with the CPU's bits."""
    shapes = {"a": ((6, 70, 11), mx.float32), "b": ((6, 700), mx.float32), "c": ((6, 33), mx.float16),
              "d": ((6, 9), mx.bfloat16)}
    opt, before, cpu = fused_case(kind, shapes, members=6)
    got = emulate(emu, kind, opt, before)
    assert got["dispatches"] == 1 and len(opt._groups) == 18
    assert_same_step(opt, before, cpu, got)


@pytest.mark.parametrize("slots", [25, 7])
@pytest.mark.parametrize("kind", ["SGD", "AdamW"])
def test_fused_step_in_batches_matches_cpu(emu, kind, slots):
    """40 tensors, each with its own parameter and gradient arrays (a first
    step), reach about 90 arrays: more than a dispatch's free buffer slots,
    so the step is several dispatches of bound batches, and still gives the
    CPU's bits (also with the smallest batches, 7 slots: one tensor's buffers)."""
    dts = [mx.float32, mx.float16, mx.bfloat16]
    shapes = {f"t{i:02d}" + ("d" if i % 7 == 0 else ""): ((3 + i, 5) if i % 3 else (4096 + 8 * i,), dts[i % 3])
              for i in range(40)}
    strided = tuple(k for i, k in enumerate(shapes) if i % 3 and i % 4 == 1)
    opt, before, cpu = fused_case(kind, shapes, strided=strided, seed=11)
    got = emulate(emu, kind, opt, before, strided=strided, slots=slots)
    assert got["dispatches"] >= (4 if slots == 25 else 14)
    assert_same_step(opt, before, cpu, got)


def test_fused_step_plan_refuses_an_unbound_tensor(emu):
    """A tensor whose data lies in none of the step's arrays cannot be bound:
    the plan refuses it instead of dispatching."""
    opt, before, _ = fused_case("Adam", {"a": ((9,), mx.float32)})
    with pytest.raises(AssertionError, match="emu_fused failed: -2"):
        emulate(emu, "Adam", opt, before, drop=1)
