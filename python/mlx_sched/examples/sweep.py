"""A hyperparameter sweep in one process: G small MLPs, one fused AdamW step.

The grid is learning rate x warmup x weight decay (4 x 4 x 4 = 64 members by
default). Each member is a 16-64-64-1 MLP regressing a fixed synthetic target
(``y = sin(2 x.w) + tanh(3 x.u) / 2 + noise``, generated with ``mx.random``
and fixed keys: nothing is downloaded). Every member sees the same minibatch
at every step (a shared input batch), so the members differ only in their
hyperparameters.

Two ways to train the same grid, from the same initial weights:

* **fused**: the parameters are one dict of stacked arrays (axis 0 = member);
  the forward pass is ``mx.vmap`` over the members, ``mx.value_and_grad`` of
  the sum of the per-member losses gives each member its own gradient (the
  members are independent), and one member-batched
  ``mlx_sched.optimizers.AdamW(learning_rate=<G schedules>,
  weight_decay=[G floats], member_axis=0)`` updates all of them: one
  ``FusedStep`` dispatch per step. The whole step is ``mx.compile``-d
  (``inputs``/``outputs`` = the parameters and the optimizer state).
* **loop**: G separate models, each with its own ``mlx.optimizers.AdamW``
  (that member's unbatched schedule and weight decay), trained one after the
  other at every step (each model's step compiled on its own).

The example checks that the two give the same per-member losses (on the CPU
bit for bit; elsewhere a vmapped matrix product may sum in another order than
G separate ones, so it reports the largest relative difference) and prints
the time of one sweep step (all G members) for each way, after warm-up, best
and median of a few repeats, synchronized with ``mx.eval``::

    python -m mlx_sched.examples.sweep                      # 64 members, 300 steps
    python -m mlx_sched.examples.sweep --small --steps 40   # 2 x 2 x 2 = 8 members
    python -m mlx_sched.examples.sweep --lrs 1e-3,1e-2 --warmups 0,20 --wds 0,0.1 --out results
    python -m mlx_sched.examples.sweep --device cpu --out results   # results/sweep.json, results/sweep.png

``--out DIR`` writes ``DIR/sweep.json`` (every member's hyperparameters,
schedule spec, loss curve and final losses, the timings, the device) and
``DIR/sweep.png`` (final loss over learning rate x weight decay, one panel
per warmup; the loss curves of all members coloured by learning rate; needs
matplotlib: ``pip install "mlx-sched[plot]"``).

``--distributed`` splits the grid across the ranks of
``mx.distributed.init()``: rank r trains a contiguous block of G / size
members with its own member-batched optimizer (one dispatch per step per
rank); the per-member losses are gathered with ``mx.distributed.all_gather``
and rank 0 writes ``sweep.json`` / ``sweep.png`` for the whole grid; each rank
writes ``rank<r>.json`` with its own members::

    mlx.launch --backend ring -n 2 python -m mlx_sched.examples.sweep --distributed --device cpu --out results
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, cast

import mlx.core as mx
import mlx.optimizers as optim

import mlx_sched as ms
from mlx_sched.optimizers import AdamW

Params = Dict[str, mx.array]

D_IN, HIDDEN = 16, 64
BETAS = [0.9, 0.999]
DEFAULT_LRS = [1e-3, 3e-3, 1e-2, 3e-2]
DEFAULT_WARMUPS = [0, 10, 30, 100]
DEFAULT_WDS = [0.0, 0.01, 0.1, 1.0]
SMALL = ([3e-3, 1e-2], [0, 5], [0.0, 0.3])


# -- the grid ------------------------------------------------------------------------------
def make_grid(lrs: Sequence[float], warmups: Sequence[int], wds: Sequence[float]) -> List[Dict[str, Any]]:
    """Every member's hyperparameters: member ``(i * len(warmups) + j) * len(wds) + k``
    has ``lrs[i]``, ``warmups[j]``, ``wds[k]``."""
    return [{"peak_lr": lr, "warmup_steps": w, "weight_decay": wd}
            for lr, w, wd in itertools.product(lrs, warmups, wds)]


def schedules(configs: Sequence[Dict[str, Any]], steps: int) -> ms.Schedule:
    """A batch of ``len(configs)`` warmup-cosine schedules (0 -> peak over the
    warmup, cosine to 0 at ``steps``): member m is ``batch[m]``."""
    return ms.warmup_cosine_decay(init=0.0, peak=[c["peak_lr"] for c in configs],
                                  warmup_steps=[c["warmup_steps"] for c in configs], decay_steps=steps)


def member_schedule(config: Dict[str, Any], steps: int) -> ms.Schedule:
    """One member's schedule on its own (the same values as ``schedules(...)[m]``)."""
    return ms.warmup_cosine_decay(init=0.0, peak=config["peak_lr"], warmup_steps=config["warmup_steps"],
                                  decay_steps=steps)


# -- data and model --------------------------------------------------------------------------
def make_data(steps: int, batch: int, seed: int) -> Tuple[mx.array, mx.array, mx.array, mx.array]:
    """Training minibatches ``(steps, batch, D_IN)`` / ``(steps, batch, 1)`` and a
    held-out set of 1024 examples, from fixed keys."""
    kw, ku, kx, kn, kvx, kvn = mx.random.split(mx.random.key(seed), 6)
    w = mx.random.normal((D_IN, 1), key=kw) * D_IN**-0.5  # x @ w and x @ u: standard normal
    u = mx.random.normal((D_IN, 1), key=ku) * D_IN**-0.5

    def target(x: mx.array, noise_key: mx.array) -> mx.array:
        noise = mx.random.normal(x.shape[:-1] + (1,), key=noise_key)
        return mx.sin(2 * (x @ w)) + 0.5 * mx.tanh(3 * (x @ u)) + 0.1 * noise

    xs = mx.random.normal((steps, batch, D_IN), key=kx)
    xv = mx.random.normal((1024, D_IN), key=kvx)
    out = (xs, target(xs, kn), xv, target(xv, kvn))
    mx.eval(*out)
    return out


def init_params(G: int, seed: int) -> Params:
    """G stacked MLPs (axis 0 = member), all with the same initial weights
    (``nn.Linear``'s uniform initialization): the members differ only in their
    hyperparameters."""
    sizes = [(D_IN, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN, 1)]
    keys = mx.random.split(mx.random.key(seed + 1), 2 * len(sizes))
    p: Params = {}
    for i, (n_in, n_out) in enumerate(sizes):
        s = n_in**-0.5
        p[f"w{i}"] = mx.repeat(mx.random.uniform(-s, s, (1, n_in, n_out), key=keys[2 * i]), G, axis=0)
        p[f"b{i}"] = mx.repeat(mx.random.uniform(-s, s, (1, n_out), key=keys[2 * i + 1]), G, axis=0)
    mx.eval(p)
    return p


def forward(p: Params, x: mx.array) -> mx.array:
    """One member's MLP (unstacked parameters)."""
    h = x @ p["w0"] + p["b0"]
    h = mx.maximum(h, 0.0)
    h = h @ p["w1"] + p["b1"]
    h = mx.maximum(h, 0.0)
    return h @ p["w2"] + p["b2"]


def member_loss(p: Params, x: mx.array, y: mx.array) -> mx.array:
    return mx.mean(mx.square(forward(p, x) - y))


# the G members at once: parameters batched on axis 0, the data shared
batched_loss = mx.vmap(member_loss, in_axes=(0, None, None))


def sweep_loss(p: Params, x: mx.array, y: mx.array) -> Tuple[mx.array, mx.array]:
    losses = batched_loss(p, x, y)
    return mx.sum(losses), losses  # d(sum)/d(member g's parameters) = member g's own gradient


# -- the two ways to train --------------------------------------------------------------------
class Fused:
    """The G members as one dict of stacked arrays and one member-batched AdamW."""

    def __init__(self, params: Params, learning_rates: ms.Schedule, weight_decays: Sequence[float], compile: bool):
        self.params = dict(params)
        # member g: learning_rates[g] and weight_decays[g], in one FusedStep for all of them
        self.opt = AdamW(learning_rate=learning_rates, weight_decay=list(weight_decays), betas=BETAS, member_axis=0)
        self.opt.init(self.params)  # the state's tree is complete before mx.compile captures it
        grad_fn = mx.value_and_grad(sweep_loss)

        def step(x: mx.array, y: mx.array) -> mx.array:
            (_, losses), grads = grad_fn(self.params, x, y)
            self.params.update(self.opt.apply_gradients(grads, self.params))
            return losses

        state = [self.params, self.opt.state]
        self.eager = step
        self.compiled = mx.compile(step, inputs=state, outputs=state)
        self.step = self.compiled if compile else self.eager

    def sync(self, losses: mx.array) -> None:
        mx.eval(losses, self.params, self.opt.state)

    def eval_losses(self, x: mx.array, y: mx.array) -> mx.array:
        return batched_loss(self.params, x, y)


class Loop:
    """G separate models, each with its own ``mlx.optimizers.AdamW``, stepped one after the other."""

    def __init__(self, params: Params, configs: Sequence[Dict[str, Any]], steps: int, compile: bool):
        self.models: List[Params] = [{k: v[m] for k, v in params.items()} for m in range(len(configs))]
        self.opts = [optim.AdamW(learning_rate=member_schedule(c, steps), betas=BETAS,
                                 weight_decay=c["weight_decay"]) for c in configs]
        self.eager_fns, self.compiled_fns = [], []
        grad_fn = mx.value_and_grad(member_loss)
        for model, opt in zip(self.models, self.opts):
            opt.init(model)

            def step(x: mx.array, y: mx.array, model: Params = model, opt: optim.Optimizer = opt) -> mx.array:
                loss, grads = grad_fn(model, x, y)
                model.update(opt.apply_gradients(grads, model))
                return loss

            state = [model, opt.state]
            self.eager_fns.append(step)
            self.compiled_fns.append(mx.compile(step, inputs=state, outputs=state))
        self.compiled_step = lambda x, y: mx.stack([f(x, y) for f in self.compiled_fns])
        self.eager_step = lambda x, y: mx.stack([f(x, y) for f in self.eager_fns])
        self.step = self.compiled_step if compile else self.eager_step

    # the attribute names the timing helper uses, as Fused's
    @property
    def eager(self) -> Callable[[mx.array, mx.array], mx.array]:
        return self.eager_step

    @property
    def compiled(self) -> Callable[[mx.array, mx.array], mx.array]:
        return self.compiled_step

    def sync(self, losses: mx.array) -> None:
        mx.eval(losses, self.models, [o.state for o in self.opts])

    def eval_losses(self, x: mx.array, y: mx.array) -> mx.array:
        return mx.stack([member_loss(m, x, y) for m in self.models])


def train(runner: Any, xs: mx.array, ys: mx.array) -> mx.array:
    """``steps`` steps; returns the training losses, shape ``(G, steps)``."""
    curve = []
    for t in range(xs.shape[0]):
        losses = runner.step(xs[t], ys[t])
        runner.sync(losses)
        curve.append(losses)
    return mx.stack(curve, axis=1)


def time_steps(runs: Dict[str, Tuple[Any, Callable[[mx.array, mx.array], mx.array]]], x: mx.array, y: mx.array,
               steps: int, repeats: int) -> Dict[str, Dict[str, float]]:
    """Milliseconds per sweep step (every member once) of each ``name: (runner,
    step function)``, each step synchronized with ``mx.eval``, after 2 warm-up
    steps: best and median of ``repeats`` runs of ``steps`` steps. The repeats
    of the different runs are interleaved, so that a change in the machine's
    load affects them alike."""
    for runner, fn in runs.values():
        for _ in range(2):
            runner.sync(fn(x, y))
    per_step: Dict[str, List[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, (runner, fn) in runs.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                runner.sync(fn(x, y))
            per_step[name].append((time.perf_counter() - t0) / steps * 1e3)
    return {name: {"best_ms": min(v), "median_ms": statistics.median(v)} for name, v in per_step.items()}


# -- output -----------------------------------------------------------------------------------
def plot(path: str, configs: Sequence[Dict[str, Any]], lrs: Sequence[float], warmups: Sequence[int],
         wds: Sequence[float], final: Sequence[float], curves: Sequence[Sequence[float]]) -> bool:
    """``path``: final loss over lr x weight decay per warmup (top), every
    member's loss curve coloured by learning rate (bottom). False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm
    except ImportError:
        print("matplotlib is not installed (pip install \"mlx-sched[plot]\"): sweep.png skipped", file=sys.stderr)
        return False
    nw = len(warmups)
    fig = plt.figure(figsize=(max(8.0, 2.6 * nw + 1.5), 8.0), layout="constrained")
    rows = fig.add_gridspec(2, 1, height_ratios=[1.0, 1.2])
    top, bottom = fig.add_subfigure(rows[0]), fig.add_subfigure(rows[1])
    axes = top.subplots(1, nw, squeeze=False, sharey=True)[0]
    grid = [[[0.0] * len(wds) for _ in lrs] for _ in warmups]
    for m, c in enumerate(configs):
        i, j, k = lrs.index(c["peak_lr"]), warmups.index(c["warmup_steps"]), wds.index(c["weight_decay"])
        grid[j][i][k] = final[m]
    positive = [v for v in final if v > 0]
    norm = LogNorm(vmin=min(positive), vmax=max(positive)) if positive else None
    im = None
    for j, ax in enumerate(axes):
        im = ax.imshow(grid[j], origin="lower", cmap="viridis_r", norm=norm, aspect="auto")
        ax.set_xticks(range(len(wds)), [f"{v:g}" for v in wds])
        ax.set_yticks(range(len(lrs)), [f"{v:g}" for v in lrs])
        ax.set_xlabel("weight decay")
        ax.set_title(f"warmup {warmups[j]}")
        for i in range(len(lrs)):
            for k in range(len(wds)):
                v = grid[j][i][k]
                dark = norm is not None and v > 0 and float(norm(v)) > 0.5
                ax.text(k, i, f"{v:.3g}", ha="center", va="center", fontsize=7, color="w" if dark else "k")
    axes[0].set_ylabel("peak learning rate")
    if im is not None:
        top.colorbar(im, ax=list(axes), label="final held-out loss")
    top.suptitle(f"final loss of {len(configs)} members")
    ax = bottom.subplots()
    cmap = plt.get_cmap("plasma", max(len(lrs), 2))
    window = 10
    for m, c in enumerate(configs):
        smooth = [sum(curves[m][max(0, t - window + 1):t + 1]) / (t + 1 - max(0, t - window + 1))
                  for t in range(len(curves[m]))]
        ax.plot(smooth, color=cmap(lrs.index(c["peak_lr"])), lw=0.7, alpha=0.7)
    for i, lr in enumerate(lrs):
        ax.plot([], [], color=cmap(i), label=f"lr {lr:g}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel(f"training loss (mean of the last {window} steps)")
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def rows(a: mx.array) -> List[List[float]]:
    """A 2-D array as lists (typed for mypy: ``tolist`` is a union)."""
    return cast(List[List[float]], a.tolist())


def number(a: mx.array) -> float:
    return float(cast(float, a.item()))


def floats(s: str) -> List[float]:
    return [float(v) for v in s.split(",") if v.strip()]


def ints(s: str) -> List[int]:
    return [int(v) for v in s.split(",") if v.strip()]


def member_reports(configs: Sequence[Dict[str, Any]], steps: int, losses: List[List[float]],
                   first: int) -> List[Dict[str, Any]]:
    """Members ``first, first + 1, ...``: hyperparameters, schedule spec, held-out losses."""
    out = []
    for i, (initial, final, loop) in enumerate(losses):
        c = configs[first + i]
        out.append({"member": first + i, **c, "schedule": member_schedule(c, steps).to_dict(),
                    "initial_loss": initial, "final_loss": final,
                    "final_loss_loop": None if math.isnan(loop) else loop})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m mlx_sched.examples.sweep", description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="default grid: --lrs 1e-3,3e-3,1e-2,3e-2 --warmups 0,10,30,100 --wds 0,0.01,0.1,1 (64 members)\n\n"
               "examples:\n" + "\n".join(line for line in __doc__.splitlines() if "python -m" in line))
    p.add_argument("--steps", type=int, default=300, help="training steps (the cosine decays to 0 at the last)")
    p.add_argument("--batch", type=int, default=64, help="examples per step (shared by every member)")
    p.add_argument("--lrs", type=floats, default=None, help="peak learning rates, comma separated")
    p.add_argument("--warmups", type=ints, default=None, help="warmup steps, comma separated (each < --steps)")
    p.add_argument("--wds", type=floats, default=None, help="weight decays, comma separated")
    p.add_argument("--small", action="store_true",
                   help="the 2 x 2 x 2 grid --lrs 3e-3,1e-2 --warmups 0,5 --wds 0,0.3 (8 members; for tests)")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None, help="default: MLX's default device")
    p.add_argument("--seed", type=int, default=0, help="data and initial weights")
    p.add_argument("--no-compile", action="store_true", help="train (and time) the eager steps only")
    p.add_argument("--no-loop", action="store_true", help="skip the loop baseline (no comparison)")
    p.add_argument("--timing-steps", type=int, default=10, help="steps per timing repeat (0: no timing)")
    p.add_argument("--repeats", type=int, default=5, help="timing repeats (best and median reported)")
    p.add_argument("--out", default=None, help="directory for sweep.json and sweep.png (rank<r>.json too)")
    p.add_argument("--distributed", action="store_true",
                   help="split the members across the ranks of mx.distributed.init() (launch with mlx.launch)")
    a = p.parse_args(argv)

    lrs, warmups, wds = SMALL if a.small else (DEFAULT_LRS, DEFAULT_WARMUPS, DEFAULT_WDS)
    lrs, warmups, wds = a.lrs or lrs, a.warmups or warmups, a.wds or wds
    if a.steps < 1 or a.batch < 1:
        p.error("--steps and --batch must be positive")
    if not all(0 <= w < a.steps for w in warmups):
        p.error(f"argument --warmups: each warmup must be in [0, --steps = {a.steps}), got {warmups}")
    if a.device == "gpu" and not mx.is_available(mx.gpu):
        p.error("argument --device: this MLX has no GPU (mx.is_available(mx.gpu) is False)")
    if a.device is not None:
        mx.set_default_device(mx.gpu if a.device == "gpu" else mx.cpu)
    configs = make_grid(lrs, warmups, wds)
    G = len(configs)

    group = mx.distributed.init() if a.distributed else None
    rank, size = (group.rank(), group.size()) if group is not None else (0, 1)
    if G % size:
        p.error(f"--distributed: the grid's {G} members do not split evenly across {size} ranks")
    lo, hi = rank * G // size, (rank + 1) * G // size
    mine = configs[lo:hi]
    say = print if rank == 0 else (lambda *args, **kw: None)

    xs, ys, xv, yv = make_data(a.steps, a.batch, a.seed)
    params = {k: v[lo:hi] for k, v in init_params(G, a.seed).items()}  # this rank's members
    initial = batched_loss(params, xv, yv)  # held-out loss at initialization, per member
    compile = not a.no_compile
    say(f"{G} members ({len(lrs)} lr x {len(warmups)} warmup x {len(wds)} weight decay), {a.steps} steps, "
        f"batch {a.batch}, device {mx.default_device()}" + (f", {size} ranks of {hi - lo} members" if group else ""))

    makers: Dict[str, Callable[[], Any]] = {
        # this rank's block of the batch of G schedules: members lo .. hi - 1
        "fused": lambda: Fused(params, schedules(configs, a.steps)[lo:hi], [c["weight_decay"] for c in mine], compile),
        "loop": lambda: Loop(params, mine, a.steps, compile),
    }
    runners: Dict[str, Any] = {}
    curves: Dict[str, mx.array] = {}
    finals: Dict[str, mx.array] = {}
    train_s: Dict[str, float] = {}
    for name in ["fused"] + ([] if a.no_loop else ["loop"]):
        t0 = time.perf_counter()
        runners[name] = r = makers[name]()
        curves[name] = train(r, xs, ys)
        finals[name] = r.eval_losses(xv, yv)
        mx.eval(curves[name], finals[name])
        train_s[name] = time.perf_counter() - t0
        say(f"{name:5s}: {a.steps} steps in {train_s[name]:.2f} s (tracing and compiling included)")

    timings: Dict[str, Dict[str, float]] = {}
    if a.timing_steps > 0:
        runs = {f"{name}_{mode}": (r, getattr(r, mode))
                for name, r in runners.items() for mode in (["compiled", "eager"] if compile else ["eager"])}
        timings = time_steps(runs, xs[0], ys[0], a.timing_steps, a.repeats)

    # this rank's members: initial and final held-out losses, fused and loop; training curves
    loop_final = finals.get("loop", mx.full(finals["fused"].shape, mx.nan))
    loop_curve = curves.get("loop", mx.full(curves["fused"].shape, mx.nan))
    local = mx.stack([initial, finals["fused"], loop_final], axis=1)
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, f"rank{rank}.json"), "w") as f:
            json.dump({"rank": rank, "ranks": size, "device": str(mx.default_device()),
                       "members": member_reports(configs, a.steps, rows(local), lo),
                       "timings": timings, "loss_curves": rows(curves["fused"])}, f)
    if size > 1:  # the whole grid on every rank (all_gather concatenates the ranks' blocks in rank order)
        local, fused_curves, loop_curves = (mx.distributed.all_gather(v, group=group)
                                            for v in (local, curves["fused"], loop_curve))
    else:
        fused_curves, loop_curves = curves["fused"], loop_curve
    mx.eval(local, fused_curves, loop_curves)
    final = local[:, 1]
    rel = rel_curves = rel_median = None
    close = 0
    if not a.no_loop:
        per_member = mx.abs(final - local[:, 2]) / mx.abs(local[:, 2])
        rel, rel_median = number(per_member.max()), number(mx.sort(per_member)[per_member.size // 2])
        close = int(number(mx.sum(per_member <= 1e-3)))
        rel_curves = number((mx.abs(fused_curves - loop_curves) / mx.abs(loop_curves)).max())
        say(f"fused vs loop: max relative difference of the final held-out losses {rel:.3g} (median {rel_median:.3g}; "
            f"{close} of {final.size} members within 1e-3), of the training losses at every step {rel_curves:.3g}")
        if rel > 1e-3 and mx.default_device() != mx.cpu:
            say("  (a GPU: MLX multiplies float32 matrices in TF32 unless MLX_ENABLE_TF32=0, and a batched product "
                "rounds otherwise than G separate ones; the members with the largest learning rates amplify it)")
    best = int(number(mx.argmin(final)))
    say(f"best member {best}: {configs[best]}, held-out loss {number(local[best, 0]):.4g} -> {number(final[best]):.4g}")

    prefix = f"rank {rank}: " if size > 1 else ""
    for name, t in timings.items():
        print(f"{prefix}{name:15s} {t['best_ms']:9.3f} ms per sweep step (best of {a.repeats}), "
              f"{t['median_ms']:9.3f} ms (median), {hi - lo} members")
    speedup: Dict[str, float] = {}
    if "fused_eager" in timings and "loop_eager" in timings:
        for mode in ["compiled", "eager"] if compile else ["eager"]:
            speedup[mode] = timings[f"loop_{mode}"]["best_ms"] / timings[f"fused_{mode}"]["best_ms"]
        speedup["best_vs_best"] = (min(t["best_ms"] for n, t in timings.items() if n.startswith("loop"))
                                   / min(t["best_ms"] for n, t in timings.items() if n.startswith("fused")))
        print(prefix + "fused / loop speedup per sweep step: " + ", ".join(f"{k} {v:.2f}x" for k, v in speedup.items()))
    per_rank = [timings]
    if size > 1 and timings:
        mine_ms = mx.array([[t["best_ms"], t["median_ms"]] for t in timings.values()], mx.float32)
        gathered = cast(List[List[List[float]]], mx.distributed.all_gather(mine_ms[None], group=group).tolist())
        per_rank = [{n: {"best_ms": round(b, 4), "median_ms": round(md, 4)} for n, (b, md) in zip(timings, r)}
                    for r in gathered]

    if a.out and rank == 0:
        report = {"device": str(mx.default_device()), "cpu_count": os.cpu_count(), "ranks": size,
                  "members_total": G, "steps": a.steps, "batch": a.batch, "seed": a.seed, "compiled": compile,
                  "grid": {"peak_lr": lrs, "warmup_steps": warmups, "weight_decay": wds},
                  "members": member_reports(configs, a.steps, rows(local), 0),
                  "max_rel_diff_final_loss": rel, "median_rel_diff_final_loss": rel_median,
                  "members_within_1e-3": close, "max_rel_diff_loss_curves": rel_curves,
                  "tf32": os.environ.get("MLX_ENABLE_TF32", "1") != "0",
                  "train_seconds": train_s, "timing_steps": a.timing_steps, "repeats": a.repeats,
                  "timings": timings, "timings_per_rank": per_rank, "speedup": speedup,
                  "loss_curves": rows(fused_curves)}
        with open(os.path.join(a.out, "sweep.json"), "w") as f:
            json.dump(report, f)
        print(f"wrote {os.path.join(a.out, 'sweep.json')}")
        png = os.path.join(a.out, "sweep.png")
        if plot(png, configs, lrs, warmups, wds, [r[1] for r in rows(local)], rows(fused_curves)):
            print(f"wrote {png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
