"""Data-parallel training with MLX's own distributed engine and the fused AdamW.

Every process computes gradients on its own shard of the data;
``mlx.nn.average_gradients`` (``mx.distributed`` all-reduce) averages them;
each process then applies the same fused step (one ``FusedStep`` primitive),
so the parameters stay identical on every rank. Launch two processes on this
machine with the ring backend::

    mlx.launch --backend ring -n 2 python/mlx_sched/examples/data_parallel.py --steps 100

Each rank prints (and with ``--out DIR`` writes ``DIR/rank<r>.json``) its
loss, a checksum of its parameters, whether the gathered parameters of all
ranks are identical, and how far the fused AdamW is from mlx.optimizers'
AdamW fed the same averaged gradients.
"""

from __future__ import annotations

import argparse
import json
import os

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim
from mlx.utils import tree_flatten

import mlx_sched as ms
from mlx_sched.optimizers import AdamW


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(16, 64), nn.GELU(), nn.Linear(64, 64), nn.GELU(), nn.Linear(64, 1))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=32, help="examples per rank and step")
    p.add_argument("--out", default=None, help="directory for rank<r>.json")
    p.add_argument("--device", choices=["default", "cpu"], default="default",
                   help="cpu: train on the CPU (the ring backend reduces CPU arrays; NCCL is for CUDA)")
    a = p.parse_args(argv)
    if a.device == "cpu":
        mx.set_default_device(mx.cpu)

    group = mx.distributed.init()
    rank, size = group.rank(), group.size()
    mx.random.seed(0)  # the same initial parameters on every rank
    model, reference = make_model(), make_model()
    reference.update(model.parameters())
    lr = ms.join_schedules([ms.linear_schedule(0.0, 3e-3, 10), ms.cosine_decay(3e-3, a.steps)], [10])
    opt, ref_opt = AdamW(lr, weight_decay=0.01), optim.AdamW(lr, weight_decay=0.01)

    w_true = mx.random.normal((16, 1), key=mx.random.key(1))
    key = mx.random.key(100 + rank)  # each rank its own data

    def loss_fn(m, x, y):
        return ((m(x) - y) ** 2).mean()

    grad_fn = nn.value_and_grad(model, loss_fn)
    ref_grad_fn = nn.value_and_grad(reference, loss_fn)
    first = last = 0.0
    for step in range(a.steps):
        key, sub = mx.random.split(key)
        x = mx.random.normal((a.batch, 16), key=sub)
        y = mx.sin(x @ w_true)
        loss, grads = grad_fn(model, x, y)
        grads = nn.average_gradients(grads)  # mx.distributed.all_sum / size
        opt.update(model, grads)
        _, ref_grads = ref_grad_fn(reference, x, y)
        ref_opt.update(reference, nn.average_gradients(ref_grads))
        mx.eval(model.parameters(), opt.state, reference.parameters(), ref_opt.state)
        loss = mx.distributed.all_sum(loss) / size
        first = loss.item() if step == 0 else first
        last = loss.item()

    flat = mx.concatenate([v.reshape(-1) for _, v in tree_flatten(model.parameters())])
    everyone = mx.distributed.all_gather(flat[None])  # (size, n)
    identical = bool(mx.all(everyone == everyone[0]).item())
    ref_flat = mx.concatenate([v.reshape(-1) for _, v in tree_flatten(reference.parameters())])
    report = {
        "rank": rank,
        "size": size,
        "steps": a.steps,
        "first_loss": first,
        "last_loss": last,
        "checksum": float(mx.sum(flat * mx.arange(flat.size)).item()),
        "identical_across_ranks": identical,
        "max_abs_diff_vs_mlx_adamw": float(mx.max(mx.abs(flat - ref_flat)).item()),
        "step_counter": int(opt.state["step"].item()),
    }
    print(json.dumps(report))
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, f"rank{rank}.json"), "w") as f:
            json.dump(report, f)
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
