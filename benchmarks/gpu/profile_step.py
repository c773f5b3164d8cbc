"""Where the time of one fused AdamW step goes (host graph building,
mx.eval, waiting for the device), for N tensors of 256x256, eager and
under mx.compile. Usage: python benchmarks/gpu/profile_step.py [N ...]"""

import sys
import time
from functools import partial

import mlx.core as mx

from mlx_sched.optimizers import AdamW


def main(counts):
    for n in counts:
        params = {f"p{i}": mx.random.normal((256, 256)) for i in range(n)}
        grads = {f"p{i}": mx.random.normal((256, 256)) * 1e-3 for i in range(n)}
        opt = AdamW(1e-3)
        opt.init(params)
        mx.eval(params, grads, opt.state)
        state = [opt.state]
        compiled = partial(mx.compile, inputs=state, outputs=state)(lambda g, p: opt.apply_gradients(g, p))
        for label, fn in (("eager", opt.apply_gradients), ("mx.compile", compiled)):
            build = ev = sync = 0.0
            reps = 200
            for r in range(reps + 20):
                t0 = time.perf_counter()
                params = fn(grads, params)
                t1 = time.perf_counter()
                mx.eval(params, opt.state)
                t2 = time.perf_counter()
                mx.synchronize()
                t3 = time.perf_counter()
                if r >= 20:
                    build, ev, sync = build + t1 - t0, ev + t2 - t1, sync + t3 - t2
            us = 1e6 / reps
            print(f"{n:4d} tensors {label:<10}: build {build * us:7.1f} us, eval {ev * us:7.1f} us, "
                  f"sync {sync * us:7.1f} us, total {(build + ev + sync) * us:7.1f} us")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [32, 291])
