"""Does MLX's own compiled step round like its eager step on this device?
For bfloat16 parameters: MLX eager vs MLX compiled, and ours vs each, after
20 steps (max |difference| in units of the value's bfloat16 ulp)."""

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np

from mlx_sched import optimizers as fo

KINDS = {"SGD": dict(momentum=0.9, nesterov=True), "Adam": {}, "Lion": dict(weight_decay=0.1), "Adamax": {},
         "RMSprop": {}, "AdaDelta": {}}


def run(mod, kind, compiled, dtype=mx.bfloat16):
    rng = np.random.default_rng(0)
    p = {"w": mx.array(rng.normal(size=(64, 64)).astype(np.float32)).astype(dtype)}
    gs = [{"w": mx.array(rng.normal(size=(64, 64)).astype(np.float32)).astype(dtype)} for _ in range(20)]
    opt = getattr(mod, kind)(0.01, **KINDS[kind])
    opt.init(p)
    mx.eval(p, opt.state)
    f = opt.apply_gradients
    if compiled:
        st = [opt.state]
        f = mx.compile(lambda g, q: opt.apply_gradients(g, q), inputs=st, outputs=st)
    for g in gs:
        p = f(g, p)
        mx.eval(p, opt.state)
    return np.array(p["w"].astype(mx.float32))


def ulps(a, b):
    spacing = np.spacing(np.maximum(np.abs(a), np.abs(b)).astype(np.float32)) * 2**16  # bf16 ulp
    return float(np.max(np.abs(a - b) / np.maximum(spacing, 1e-30)))


for kind in KINDS:
    me, mc = run(optim, kind, False), run(optim, kind, True)
    oe, oc = run(fo, kind, False), run(fo, kind, True)
    print(f"{kind:8s} device={mx.default_device()} bf16 ulps: mlx eager~compiled {ulps(me, mc):6.1f} | "
          f"ours eager~mlx eager {ulps(oe, me):6.1f} | ours compiled~mlx compiled {ulps(oc, mc):6.1f} | ours eager~compiled {ulps(oe, oc):6.1f}")
