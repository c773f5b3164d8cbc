"""compute-sanitizer target and GPU check of member-batched steps
(member_axis=0): every kind, G = 8 (the group table in the kernel's argument)
and G = 100 with two groups (200 groups: the table in a buffer), strided and
broadcast gradients, three dtypes; each step's parameters compared with the
same step on the CPU stream. Usage:
compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_sweep.py"""

import mlx.core as mx
import numpy as np

import mlx_sched as ms
from mlx_sched import optimizers as fo

rng = np.random.default_rng(0)
worst = 0.0
for kind in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "AdaDelta", "Adamax", "Lion"):
    for G in (8, 100):
        params, grads = {}, {}
        for i in range(7):
            dt = (mx.float32, mx.float16, mx.bfloat16)[i % 3]
            shape = (G, 3, 4097) if i == 1 else (G, 2, 3 + i % 5)
            params[f"t{i}"] = mx.array(rng.normal(size=shape).astype(np.float32)).astype(dt)
            g = mx.array(rng.normal(size=shape[::-1]).astype(np.float32)).astype(dt)
            grads[f"t{i}"] = g.T if i % 3 == 0 else mx.contiguous(g.T)  # members not outermost in memory
        grads["t4"] = mx.broadcast_to(grads["t4"][:1], grads["t4"].shape)
        lr = ms.cosine_decay(list(np.linspace(1e-3, 1e-2, G)), 10)
        kw = {"learning_rate": lr, "member_axis": 0,
              "groups": [(lambda k, p: p.dtype == mx.float16, {"learning_rate": list(np.linspace(1e-4, 1e-3, G))})]}
        outs = []
        for stream in ((mx.gpu if mx.is_available(mx.gpu) else mx.cpu), mx.cpu):
            with mx.stream(stream):
                opt = getattr(fo, kind)(**kw)
                p = params
                for _ in range(3):
                    p = opt.apply_gradients(grads, p)
                    mx.eval(p, opt.state)
                outs.append({k: np.array(v.astype(mx.float32)) for k, v in p.items()})
        diff = max(float(np.max(np.abs(outs[0][k] - outs[1][k]))) for k in outs[0])
        worst = max(worst, diff)
        print(kind, G, "groups", len(opt._groups), "max |gpu - cpu|", diff, "step", opt.state["step"].item())
print("worst", worst)
