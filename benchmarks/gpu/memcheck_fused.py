"""compute-sanitizer target: fused steps of every kind over float32/float16/
bfloat16 tensors, strided gradients, groups, and more tensors than the CUDA
kernel's argument holds (a table in a buffer). Usage: compute-sanitizer --tool memcheck python3 benchmarks/gpu/memcheck_fused.py"""

import mlx.core as mx
import numpy as np

import mlx_sched as ms
from mlx_sched import optimizers as fo

rng = np.random.default_rng(0)
for kind, kw in (("SGD", dict(momentum=0.9)), ("SGD", {}), ("Adam", dict(bias_correction=True)), ("AdamW", {}),
                 ("RMSprop", dict(alpha=ms.linear_schedule(0.9, 0.99, 10))), ("Adagrad", {}),
                 ("AdaDelta", dict(rho=ms.cosine_decay(0.95, 10, 0.8))), ("Adamax", dict(betas=[ms.constant(0.8), 0.99])),
                 ("Lion", dict(weight_decay=ms.linear_schedule(0.0, 0.1, 10)))):
    for n in (5, 400):
        params, grads = {}, {}
        for i in range(n):
            dt = (mx.float32, mx.float16, mx.bfloat16)[i % 3]
            shape = (3, 4097) if i == 1 else (2, 3 + i % 5)
            params[f"t{i}"] = mx.array(rng.normal(size=shape).astype(np.float32)).astype(dt)
            g = mx.array(rng.normal(size=shape[::-1]).astype(np.float32)).astype(dt)
            grads[f"t{i}"] = g.T if i % 9 == 0 else mx.contiguous(g.T)
        opt = getattr(fo, kind)(ms.cosine_decay(1e-2, 10), groups=[(lambda k, p: p.dtype == mx.float16, {"learning_rate": 1e-3})], **kw)
        for _ in range(3):
            params = opt.apply_gradients(grads, params)
            mx.eval(params, opt.state)
        print(kind, n, "ok", opt.state["step"].item())
