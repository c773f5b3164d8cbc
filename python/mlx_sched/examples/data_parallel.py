"""Data-parallel training with MLX's own distributed engine and the fused AdamW.

Every process computes gradients on its own shard of the data;
``mlx.nn.average_gradients`` (``mx.distributed`` all-reduce) averages them;
each process then applies the same fused step (one ``FusedStep`` primitive),
so the parameters stay identical on every rank. Launch two processes on this
machine with the ring backend::

    mlx.launch --backend ring -n 2 python/mlx_sched/examples/data_parallel.py --steps 100

On a machine with two NVIDIA GPUs, MLX's CUDA build reduces through NCCL,
one GPU per process::

    mlx.launch --backend nccl -n 2 python/mlx_sched/examples/data_parallel.py --steps 100

Each rank prints (and with ``--out DIR`` writes ``DIR/rank<r>.json``) its
loss, a checksum of its parameters, whether the gathered parameters of all
ranks are identical, how far the fused AdamW is from mlx.optimizers'
AdamW fed the same averaged gradients (``--no-reference``: not computed), and
the median time of a training step after ``--warmup`` steps (``--width``,
``--depth``: a model large enough for the GPUs to matter).
"""

from __future__ import annotations

import argparse
import json
import os
import time

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_flatten

import mlx_sched as ms
from mlx_sched.optimizers import AdamW


def make_model(width: int = 64, depth: int = 2) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(16, width), nn.GELU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.GELU()]
    return nn.Sequential(*layers, nn.Linear(width, 1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=32, help="examples per rank and step")
    p.add_argument("--out", default=None, help="directory for rank<r>.json")
    p.add_argument("--device", choices=["default", "cpu"], default="default",
                   help="cpu: train on the CPU (the ring backend reduces CPU arrays; NCCL is for CUDA)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (warmup, then cosine)")
    p.add_argument("--width", type=int, default=64, help="hidden width of the MLP")
    p.add_argument("--depth", type=int, default=2, help="hidden layers of the MLP")
    p.add_argument("--warmup", type=int, default=10, help="steps left out of the step time")
    p.add_argument("--no-reference", dest="reference", action="store_false",
                   help="skip the mlx.optimizers AdamW run beside it (timing)")
    a = p.parse_args(argv)
    if a.steps <= a.warmup:
        p.error(f"--steps must be more than --warmup ({a.warmup}), but got {a.steps}.")
    if a.device == "cpu":
        mx.set_default_device(mx.cpu)

    group = mx.distributed.init()
    rank, size = group.rank(), group.size()
    mx.random.seed(0)  # the same initial parameters on every rank
    model, reference = make_model(a.width, a.depth), make_model(a.width, a.depth)
    reference.update(model.parameters())
    lr = ms.join_schedules([ms.linear_schedule(0.0, a.lr, 10), ms.cosine_decay(a.lr, a.steps)], [10])
    opt, ref_opt = AdamW(lr, weight_decay=0.01), optim.AdamW(lr, weight_decay=0.01)

    w_true = mx.random.normal((16, 1), key=mx.random.key(1))
    key = mx.random.key(100 + rank)  # each rank its own data

    def loss_fn(m, x, y):
        return ((m(x) - y) ** 2).mean()

    grad_fn = nn.value_and_grad(model, loss_fn)
    ref_grad_fn = nn.value_and_grad(reference, loss_fn)
    first = last = 0.0
    times = []
    for step in range(a.steps):
        key, sub = mx.random.split(key)
        x = mx.random.normal((a.batch, 16), key=sub)
        y = mx.sin(x @ w_true)
        mx.eval(x, y)
        t0 = time.perf_counter()
        loss, grads = grad_fn(model, x, y)
        grads = nn.average_gradients(grads)  # mx.distributed.all_sum / size
        opt.update(model, grads)
        loss = mx.distributed.all_sum(loss) / size
        mx.eval(model.parameters(), opt.state, loss)
        times.append(time.perf_counter() - t0)
        if a.reference:
            _, ref_grads = ref_grad_fn(reference, x, y)
            ref_opt.update(reference, nn.average_gradients(ref_grads))
            mx.eval(reference.parameters(), ref_opt.state)
        first = loss.item() if step == 0 else first
        last = loss.item()

    flat = mx.concatenate([v.reshape(-1) for _, v in tree_flatten(model.parameters())])
    everyone = mx.distributed.all_gather(flat[None])  # (size, n)
    identical = bool(mx.all(everyone == everyone[0]).item())
    ref_flat = mx.concatenate([v.reshape(-1) for _, v in tree_flatten(reference.parameters())])
    timed = sorted(times[a.warmup:])
    report = {
        "rank": rank,
        "size": size,
        "steps": a.steps,
        "first_loss": first,
        "last_loss": last,
        "checksum": float(mx.sum(flat * mx.arange(flat.size)).item()),
        "identical_across_ranks": identical,
        "max_abs_diff_vs_mlx_adamw": float(mx.max(mx.abs(flat - ref_flat)).item()) if a.reference else None,
        "step_counter": int(opt.state["step"].item()),
        "parameters": int(flat.size),
        "batch_per_rank": a.batch,
        "device": str(mx.default_device()),
        "step_ms_median": 1e3 * timed[len(timed) // 2],
        "step_ms_best": 1e3 * timed[0],
    }
    print(json.dumps(report))
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, f"rank{rank}.json"), "w") as f:
            json.dump(report, f)
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
