"""One PNG with every schedule family of mlx-sched (README picture).

    python benchmarks/plot_families.py [-o benchmarks/results/families.png]
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import mlx_sched as ms  # noqa: E402

N = 1000
PANELS = [
    ("cosine_decay (MLX)", ms.cosine_decay(1.0, 800, 0.1)),
    ("exponential_decay, optax keywords", ms.exponential_decay(1.0, 0.5, transition_steps=150, staircase=True, begin=100, end=0.05)),
    ("linear_schedule (MLX)", ms.linear_schedule(0.0, 1.0, 600)),
    ("step_decay (MLX)", ms.step_decay(1.0, 0.7, 150)),
    ("constant", ms.constant(0.5)),
    ("polynomial_decay, power 0.5 / 2", ms.stack([ms.polynomial_decay(1.0, 0.0, p, 800, 100) for p in (0.5, 2.0)])),
    ("piecewise_constant", ms.piecewise_constant(1.0, {300: 0.5, 600: 0.2})),
    ("multistep_decay", ms.multistep_decay(1.0, [200, 500, 800], 0.5)),
    ("piecewise_interpolate linear / cosine", ms.stack([ms.piecewise_interpolate(k, 1.0, {300: 0.2, 700: 3.0}) for k in ("linear", "cosine")])),
    ("warmup_constant", ms.warmup_constant(0.0, 1.0, 200)),
    ("warmup_cosine_decay, exponent 1 / 3", ms.stack([ms.warmup_cosine_decay(0.0, 1.0, 100, 900, 0.1, e) for e in (1.0, 3.0)])),
    ("warmup_exponential_decay", ms.warmup_exponential_decay(0.0, 1.0, 100, 100, 0.6, 50, False, 0.1)),
    ("cosine_restarts, t_mult 1 / 2", ms.stack([ms.cosine_restarts(1.0, 150, t, 0.05) for t in (1, 2)])),
    ("sgdr", ms.sgdr([dict(init=0.0, peak=1.0, warmup_steps=50, decay_steps=300), dict(init=0.0, peak=0.6, warmup_steps=50, decay_steps=700)])),
    ("linear_onecycle / cosine_onecycle", ms.stack([ms.linear_onecycle(N, 1.0), ms.cosine_onecycle(N, 1.0)])),
    ("onecycle (torch): cos, linear 3-phase", ms.stack([ms.onecycle(N, 1.0), ms.onecycle(N, 1.0, anneal="linear", three_phase=True)])),
    ("cyclic: triangular / 2 / exp_range", ms.stack([ms.cyclic(0.1, 1.0, 100), ms.cyclic(0.1, 1.0, 100, mode="triangular2"),
                                                      ms.cyclic(0.1, 1.0, 100, mode="exp_range", gamma=0.998)])),
    ("inverse_sqrt (HF)", ms.inverse_sqrt(1.0, 100)),
    ("warmup_stable_decay (HF): cosine / 1-sqrt", ms.stack([ms.warmup_stable_decay(1.0, 100, 500, 300, 0.1, "linear", d) for d in ("cosine", "1-sqrt")])),
    ("cosine_with_min_lr (HF)", ms.cosine_with_min_lr(1.0, 100, 900, 0.1)),
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--output", default=os.path.join(os.path.dirname(__file__), "results", "families.png"))
    a = p.parse_args()
    cols = 4
    rows = (len(PANELS) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(16, 2.6 * rows), dpi=90, sharex=True)
    for ax, (title, sched) in zip(axes.flat, PANELS):
        vals = sched.values(N)  # one dispatch per panel (a stack is one program)
        ax.plot(vals.T.tolist() if sched.batched else vals.tolist(), linewidth=1.4)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(PANELS):]:
        ax.axis("off")
    fig.suptitle(f"mlx-sched schedule families, steps 0..{N - 1}", fontsize=11)
    fig.tight_layout()
    fig.savefig(a.output)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
