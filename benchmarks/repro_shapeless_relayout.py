"""Issue 14: under mx.compile(..., shapeless=True) the fused optimizer's
trace used to be replayed after an eager step laid its states out again
(which parameters get gradients changed) to the same bucket sizes: the
compiled step then updated the wrong slices, silently. Prints, per shapeless
flag, whether ours equals mlx.optimizers:
    False True / True False                        (before: shapeless wrong)
    False True / True True   (now: each layout has its own rank, so MLX traces
        again, and the re-layout inside the trace is made of FlatViews, which
        a shapeless trace can replay)
"""
import mlx.core as mx, mlx.optimizers as optim, numpy as np
from mlx_sched import optimizers as fo
def run(mod, sl):
    rng = np.random.default_rng(0)
    opt = mod.Adam(0.01)
    params = {k: mx.array(rng.normal(size=(2, 3)).astype("float32")) for k in "abc"}
    opt.init(params)
    fn = mx.compile(lambda g, p: opt.apply_gradients(g, p), inputs=[opt.state], outputs=[opt.state], shapeless=sl)
    for frozen, comp in [("b", False), ("b", True), ("b", True), ("c", False), ("b", True)]:
        g = {k: mx.array(rng.normal(size=(2, 3)).astype("float32")) for k in params if k != frozen}
        params.update((fn if comp else opt.apply_gradients)(g, params)); mx.eval(params, opt.state)
    return params
for sl in (False, True):
    try:
        a, b = run(fo, sl), run(optim, sl)
        print(sl, all(np.array_equal(a[k], b[k]) for k in a))
    except Exception as e: print(sl, "raised", e)
