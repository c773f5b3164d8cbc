"""Optimizer-step benchmarks for benchmarks/run.py (``--suite optimizers``).

One AdamW step (warmup + cosine learning rate) over three parameter sets
(and one step of each other fused optimizer over the first set, against its
mlx.optimizers form eager and compiled):
32 tensors of 256x256; the ~300 tensors of a ~100M-parameter transformer;
1B parameters in 64 tensors (GPU only). Contestants: mlx_sched's fused AdamW,
called eagerly and under mx.compile (state in, state out),
mlx.optimizers.AdamW eager and under mx.compile, and
torch.optim.AdamW fused and foreach on the same GPU (where torch has CUDA).
Every contestant owns its parameters, gradients and states (float32); a
timed call is one step, finished (mx.eval + synchronize, or cuda sync).
The 1B case also reports the fused step's bandwidth: 28 bytes per parameter
(read p, g, m, v; write p, m, v) against a measured device copy.
"""

from __future__ import annotations

import math
from functools import partial


def transformer_shapes(d=640, layers=18, vocab=32000, mlp=4):
    """A GPT-style stack: per layer q, k, v, o (+ biases), MLP in/out (+ biases), two layer norms."""
    shapes = [(vocab, d)]
    for _ in range(layers):
        shapes += [(d, d)] * 4 + [(d,)] * 4 + [(mlp * d, d), (mlp * d,), (d, mlp * d), (d,)] + [(d,)] * 4
    return shapes + [(d,), (d,)]


def param_sets(on_gpu, quick):
    if quick:
        return [("32 x 256x256", [(256, 256)] * 32)]
    sets = [("32 tensors of 256x256", [(256, 256)] * 32)]
    if on_gpu:
        sets.append(("transformer ~100M, %d tensors" % len(transformer_shapes()), transformer_shapes()))
        sets.append(("1B parameters, 64 tensors", [(4096, 4096)] * 64))
    else:  # a 2-core CPU: the same tensor count, a tenth of the width
        sets.append(("transformer ~1M, %d tensors" % len(transformer_shapes(64, 18, 3200)),
                     transformer_shapes(64, 18, 3200)))
    return sets


def mlx_contestants(mx, shapes, holder):
    """A maker of (setup, step) pairs for MLX optimizers over fresh parameters
    and gradients of ``shapes``, called eagerly or under
    mx.compile(inputs=state, outputs=state); a step replaces the parameters
    (for a fused optimizer the old ones are then donated)."""

    def fresh():
        params = {f"p{i}": mx.random.normal(s) * 0.02 for i, s in enumerate(shapes)}
        grads = {f"p{i}": mx.random.normal(s) * 1e-3 for i, s in enumerate(shapes)}
        mx.eval(params, grads)
        return params, grads

    def make(key, make_opt, compiled):
        def setup():
            params, grads = fresh()
            opt = make_opt()
            opt.init(params)
            mx.eval(opt.state)
            fn = opt.apply_gradients
            if compiled:
                state = [opt.state]
                fn = partial(mx.compile, inputs=state, outputs=state)(lambda g, p: opt.apply_gradients(g, p))
            holder[key] = [params, grads, opt, fn]

        def step():
            h = holder[key]
            h[0] = h[3](h[1], h[0])
            mx.eval(h[0], h[2].state)
            mx.synchronize()

        return setup, step

    return make


def run(case, mx, torch, on_gpu, quick, schedule_pair):
    """Adds one case per parameter set through ``case(name, contestants, goals)``."""
    import mlx.optimizers as optim

    from mlx_sched.optimizers import AdamW

    ours_lr, mlx_lr = schedule_pair
    extra = {}
    for name, shapes in param_sets(on_gpu, quick):
        n_params = sum(math.prod(s) for s in shapes)

        holder = {}
        mlx_contestant = mlx_contestants(mx, shapes, holder)

        setup_fused, fused_step = mlx_contestant("fused", lambda: AdamW(ours_lr), False)
        setup_fused_compiled, fused_compiled_step = mlx_contestant("fused_compiled", lambda: AdamW(ours_lr), True)
        setup_eager, eager_step = mlx_contestant("eager", lambda: optim.AdamW(mlx_lr), False)
        setup_compiled, compiled_step = mlx_contestant("compiled", lambda: optim.AdamW(mlx_lr), True)

        def torch_setup(kw):
            def setup():
                ps = [torch.nn.Parameter(torch.randn(s, device="cuda") * 0.02) for s in shapes]
                for p in ps:
                    p.grad = torch.randn_like(p) * 1e-3
                opt = torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.01, **kw)
                opt.step()  # allocates the state
                torch.cuda.synchronize()
                holder["torch"] = (ps, opt)
            return setup

        def torch_step():
            holder["torch"][1].step()
            torch.cuda.synchronize()

        contestants = [
            ("mlx_sched AdamW (fused)", fused_step, setup_fused, "fused"),
            ("mlx_sched AdamW (fused) mx.compile", fused_compiled_step, setup_fused_compiled, "fused_compiled"),
            ("mlx.optimizers AdamW eager", eager_step, setup_eager, "eager"),
            ("mlx.optimizers AdamW mx.compile", compiled_step, setup_compiled, "compiled"),
        ]
        if torch is not None:
            contestants += [
                ("torch AdamW fused", torch_step, torch_setup({"fused": True}), "torch"),
                ("torch AdamW foreach", torch_step, torch_setup({"foreach": True}), "torch"),
            ]
        goals = []
        for ours in ("mlx_sched AdamW (fused)", "mlx_sched AdamW (fused) mx.compile"):
            if name.startswith("32"):
                goals += [(ours, "mlx.optimizers AdamW eager", 20), (ours, "mlx.optimizers AdamW mx.compile", 1.5)]
            if torch is not None:
                goals.append((ours, "torch AdamW fused", 1 / 1.2))
        case(f"AdamW step, {name} ({n_params / 1e6:.1f}M float32)", contestants, goals, holder)
        if on_gpu and name.startswith("1B"):
            extra["adamw_1b_params"] = n_params
    # Issue 20: every other fused optimizer against its mlx.optimizers form,
    # eager and compiled, on the 32-tensor set (one step, same schedule).
    import mlx_sched.optimizers as fo

    name, shapes = param_sets(on_gpu, quick)[0]
    n_params = sum(math.prod(s) for s in shapes)
    others = [("SGD momentum", dict(momentum=0.9)), ("RMSprop", {}), ("Adagrad", {}), ("AdaDelta", {}),
              ("Adamax", {}), ("Lion", dict(weight_decay=0.1))]
    for label, kw in others:
        cls = label.split()[0]

        holder = {}
        contestant = mlx_contestants(mx, shapes, holder)
        rows = []
        for who, mod, lr in (("mlx_sched", fo, ours_lr), ("mlx.optimizers", optim, mlx_lr)):
            for compiled in (False, True):
                key = f"{who}-{compiled}"
                setup, step = contestant(key, lambda mod=mod, lr=lr: getattr(mod, cls)(lr, **kw), compiled)
                rows.append((f"{who} {cls} {'mx.compile' if compiled else 'eager' if who != 'mlx_sched' else '(fused)'}",
                             step, setup, key))
        goals = [(rows[0][0], rows[2][0], 1.0), (rows[1][0], rows[3][0], 1.0)]
        case(f"{label} step, {name} ({n_params / 1e6:.1f}M float32)", rows, goals, holder)
    if on_gpu and not quick:
        # the device's copy bandwidth: a 4 GiB float32 copy (read + write)
        n = 1 << 30
        src = mx.random.normal((n,))
        mx.eval(src)
        if torch is not None:
            a_t = torch.empty(n, device="cuda")
            b_t = torch.empty(n, device="cuda")
            copy = (lambda: (b_t.copy_(a_t), torch.cuda.synchronize()))
        else:
            copy = (lambda: (mx.eval(src + 0), mx.synchronize()))
        case("physical limit: device copy, 4 GiB float32", [("copy (read + write)", copy, None, None)], [], holder)
        extra["copy_bytes"] = 8 * n
    return extra
