"""Fresh-process patterns that once hung or crashed the CUDA backend (issue 13).

Each value is the body of a script run alone in a fresh Python process (the
hang was about a process's first GPU evaluations). Used by
tests/test_gpu_hangs.py (a few trials each, skipped without CUDA) and by
benchmarks/gpu/stress_hang.py (50 trials each on the GPU machine).

The cause (benchmarks/gpu/LOG.md): on a CUDA build, array::data() moves a
device buffer into unified memory without a lock, and the CPU backend's
worker threads called it at once for one step array. OURS are our patterns
(every one must pass); MLX_ALONE shows the same race with MLX's own ops on
two CPU streams (MLX's, reported, not ours to pass).
"""

PRELUDE = r"""
import sys
import mlx.core as mx
import numpy as np
"""

# name -> the body of one trial. Every pattern reads what it computed (so a
# never-signalled event shows up as a hang) and checks a value.
OURS = {
    # the script: GPU result read first, a CPU evaluation of the same
    # inputs built but pending
    "gpu_first_cpu_pending": r"""
import mlx_sched as ms
steps = mx.arange(-300, 20_000, dtype=mx.int32)
mx.eval(steps)
s = ms.cosine_decay(1e-3, 10_000, 1e-5)
a, b = s(steps, stream=mx.gpu), s(steps, stream=mx.cpu)
x, y = np.asarray(a), np.asarray(b)
assert np.allclose(x, y, rtol=1e-6, atol=0), "gpu != cpu"
""",
    "gpu_first_cpu_pending_lazy_steps": r"""
import mlx_sched as ms
steps = mx.arange(-300, 20_000, dtype=mx.int32)
s = ms.cosine_decay(1e-3, 10_000, 1e-5)
a, b = s(steps, stream=mx.gpu), s(steps, stream=mx.cpu)
x, y = np.asarray(a), np.asarray(b)
assert np.allclose(x, y, rtol=1e-6, atol=0), "gpu != cpu"
""",
    "gpu_alone": r"""
import mlx_sched as ms
steps = mx.arange(-300, 20_000, dtype=mx.int32)
a = ms.cosine_decay(1e-3, 10_000, 1e-5)(steps, stream=mx.gpu)
assert abs(float(np.asarray(a)[300]) - 1e-3) < 1e-9
""",
    "range_gpu_then_cpu": r"""
import mlx_sched as ms
s = ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000, 1e-5)], [100])
a, b = s.values(20_000, stream=mx.gpu), s.values(20_000, stream=mx.cpu)
x, y = np.asarray(a), np.asarray(b)
assert np.allclose(x, y, rtol=1e-6, atol=0)
""",
    "eval_both": r"""
import mlx_sched as ms
steps = mx.arange(-300, 20_000, dtype=mx.int32)
s = ms.cosine_decay(1e-3, 10_000, 1e-5)
a, b = s(steps, stream=mx.gpu), s(steps, stream=mx.cpu)
mx.eval(a, b)
assert np.allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=0)
""",
    "cpu_first": r"""
import mlx_sched as ms
steps = mx.arange(-300, 20_000, dtype=mx.int32)
s = ms.cosine_decay(1e-3, 10_000, 1e-5)
a, b = s(steps, stream=mx.gpu), s(steps, stream=mx.cpu)
y, x = np.asarray(b), np.asarray(a)
assert np.allclose(x, y, rtol=1e-6, atol=0)
""",
    # a GPU result feeding a CPU op, and a CPU result feeding a GPU op
    "cross_streams": r"""
import mlx_sched as ms
s = ms.cosine_decay(1e-3, 10_000, 1e-5)
steps = mx.arange(0, 5000, dtype=mx.int32)
g = s(steps, stream=mx.gpu)
c = mx.multiply(g, 2.0, stream=mx.cpu)
c2 = s(mx.add(steps, 1, stream=mx.cpu), stream=mx.gpu)
x, y = np.asarray(c), np.asarray(c2)
assert abs(float(x[0]) - 2e-3) < 1e-9 and abs(float(y[-1]) - float(np.asarray(s(5000)))) < 1e-9
""",
    # fused optimizer steps on the GPU while the learning rate is read on the CPU stream
    "fused_lr_on_cpu": r"""
import mlx_sched as ms
from mlx_sched import optimizers as fo
s = ms.cosine_decay(1e-2, 100, 1e-4)
opt = fo.AdamW(learning_rate=s, weight_decay=0.01)
params = {"w": mx.ones((64, 64)), "b": mx.zeros((64,))}
grads = {"w": mx.full((64, 64), 0.5), "b": mx.full((64,), 0.25)}
for i in range(5):
    params = opt.apply_gradients(grads, params)
    lr_cpu = s(opt.state["step"], stream=mx.cpu)           # the schedule on the CPU stream
    lr_gpu = mx.multiply(opt.learning_rate, 1.0, stream=mx.cpu)
    assert abs(float(np.asarray(lr_cpu)) - float(np.asarray(s(i + 1)))) < 1e-9
    np.asarray(params["w"]); np.asarray(lr_gpu)
assert int(np.asarray(opt.state["step"])) == 5
""",
    # mx.compile'd steps: the schedule inside a compiled function, and a compiled fused step
    "compiled": r"""
import mlx_sched as ms
from mlx_sched import optimizers as fo
s = ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 10), ms.cosine_decay(1e-3, 100)], [10])
f = mx.compile(lambda t: s(t) * 2.0)
for i in range(3):
    v = f(mx.array(i, mx.uint64))
    c = s(mx.array(i, mx.uint64), stream=mx.cpu)
    assert abs(float(np.asarray(v)) - 2 * float(np.asarray(c))) < 1e-9
from functools import partial
opt = fo.SGD(learning_rate=s, momentum=0.9)
params = {"w": mx.ones((32, 32))}
opt.init(params)
state = [opt.state]
@partial(mx.compile, inputs=state, outputs=state)
def step(p, g):
    return opt.apply_gradients({"w": g}, p)
for i in range(4):
    params = step(params, mx.full((32, 32), 0.1))
    np.asarray(params["w"]); np.asarray(s(i, stream=mx.cpu))
assert int(np.asarray(opt.state["step"])) == 4
""",
    # the control: MLX's own ops in the pattern
    "mlx_only": r"""
steps = mx.arange(-300, 20_000, dtype=mx.int32)
mx.eval(steps)
a, b = mx.cos(steps.astype(mx.float32), stream=mx.gpu), mx.cos(steps.astype(mx.float32), stream=mx.cpu)
x, y = np.asarray(a), np.asarray(b)
assert np.allclose(x, y, atol=1e-6)
""",
}

# Our op on several CPU streams at once, all reading one GPU-resident array:
# our tasks take data() under one lock (csrc/cpu/host_data.h).
OURS["cpu_streams_share_gpu_input"] = r"""
import mlx_sched as ms
x = mx.arange(0, 4_000_000, dtype=mx.int32)
mx.eval(x)
s = ms.cosine_decay(1e-3, 10_000, 1e-5)
outs = [s(x, stream=mx.new_stream(mx.cpu)) for _ in range(8)]
mx.eval(*outs)
ref = np.asarray(s(x, stream=mx.cpu))
assert all(np.array_equal(np.asarray(o), ref) for o in outs)
"""

# MLX alone: eight CPU streams read one GPU-resident array (each stream's
# thread calls data(), which moves the buffer to unified memory unlocked).
MLX_ALONE = {
    "mlx_cpu_streams_share_gpu_input": r"""
x = mx.arange(0, 4_000_000, dtype=mx.int32)
mx.eval(x)
outs = [mx.abs(x, stream=mx.new_stream(mx.cpu)) for _ in range(8)]
mx.eval(*outs)
assert all(int(np.asarray(o)[-1]) == 3_999_999 for o in outs)
""",
}

PATTERNS = {**OURS, **MLX_ALONE}
