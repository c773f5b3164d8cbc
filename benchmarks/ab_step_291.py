"""A/B of the host and whole-step time of AdamW over 291 small tensors (300 steps): run it with two installs, alternating."""
import sys, time
import mlx.core as mx
import mlx_sched as ms
from mlx_sched.optimizers import AdamW
sys.path.insert(0, __import__('os').path.dirname(__import__('os').path.abspath(__file__)))
from optim_cases import transformer_shapes
lr = ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000)], [100])
shapes = transformer_shapes(64, 18, 3200)
params = {f"p{i}": mx.random.normal(s) * 0.02 for i, s in enumerate(shapes)}
grads = {f"p{i}": mx.random.normal(s) * 1e-3 for i, s in enumerate(shapes)}
opt = AdamW(lr); opt.init(params); mx.eval(params, grads, opt.state)
ts = []
for r in range(300):
    t = time.perf_counter(); params = opt.apply_gradients(grads, params); mx.eval(params, opt.state); ts.append(time.perf_counter() - t)
ts.sort()
# host part alone: build the graph without evaluating
th = []
for r in range(100):
    t = time.perf_counter(); p2 = opt.apply_gradients(grads, params); th.append(time.perf_counter() - t); mx.eval(p2, opt.state); params = p2
th.sort()
print(f"step best {ts[0]*1e3:.3f} median {ts[len(ts)//2]*1e3:.3f} ms; host (apply_gradients alone) median {th[50]*1e6:.0f} us")
