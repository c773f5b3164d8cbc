"""A/B of one fused optimizer step on the CPU (best of 40): run it with two installs of mlx_sched, alternating (benchmarks/ab-session7-cpu.log)."""
import sys, time, math
import mlx.core as mx
import mlx_sched as ms
from mlx_sched.optimizers import AdamW, SGD
sys.path.insert(0, __import__('os').path.dirname(__import__('os').path.abspath(__file__)))
from optim_cases import transformer_shapes
lr = ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000)], [100])
out = []
for label, shapes in [("32x256^2", [(256, 256)] * 32), ("291 tensors ~1M", transformer_shapes(64, 18, 3200))]:
    for cls in (AdamW, SGD):
        for compiled in (False, True):
            params = {f"p{i}": mx.random.normal(s) * 0.02 for i, s in enumerate(shapes)}
            grads = {f"p{i}": mx.random.normal(s) * 1e-3 for i, s in enumerate(shapes)}
            opt = cls(lr) if cls is AdamW else cls(lr, momentum=0.9)
            opt.init(params); mx.eval(params, grads, opt.state)
            fn = opt.apply_gradients
            if compiled:
                st = [opt.state]
                fn = mx.compile(lambda g, p: opt.apply_gradients(g, p), inputs=st, outputs=st)
            best = 1e9
            for r in range(40):
                t = time.perf_counter(); params = fn(grads, params); mx.eval(params, opt.state); best = min(best, time.perf_counter() - t)
            out.append(f"{label} {cls.__name__} {'compiled' if compiled else 'eager'}: {best*1e3:.3f} ms")
print("\n".join(out))
