"""MkDocs hooks (mkdocs.yml): before the build, draw one picture per schedule
family into docs/figures/ (one ``values(1000)`` call each) and put the CLI's
``--help`` texts into docs/cli.md; report public API docstrings without
Args/Returns sections (a warning, so an error with --strict; only a note with
MLX_SCHED_DOCS_REQUIRE_SECTIONS=0)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

log = logging.getLogger("mkdocs.hooks.mlx_sched")
DOCS = Path(__file__).resolve().parent
N = 1000


def _figures():
    import mlx_sched as ms

    s = ms.stack
    return {
        "cosine_decay": s([ms.cosine_decay(1.0, 800, 0.1), ms.cosine_decay(1.0, 800, 0.1, exponent=3)]),
        "exponential_decay": s([ms.exponential_decay(1.0, 0.997),
                                ms.exponential_decay(1.0, 0.5, transition_steps=150, staircase=True, begin=100, end=0.05)]),
        "linear_schedule": ms.linear_schedule(0.0, 1.0, 600),
        "step_decay": ms.step_decay(1.0, 0.7, 150),
        "join_schedules": ms.join_schedules([ms.linear_schedule(0.0, 1.0, 100), ms.cosine_decay(1.0, 900, 0.05)], [100]),
        "multiply": ms.multiply(ms.cosine_decay(1.0, 1000), ms.multistep_decay(1.0, [300, 600], 0.5)),
        "constant": ms.constant(0.5),
        "polynomial_decay": s([ms.polynomial_decay(1.0, 0.0, p, 800, 100) for p in (0.5, 1.0, 2.0)]),
        "piecewise_constant": ms.piecewise_constant(1.0, {300: 0.5, 600: 0.2}),
        "multistep_decay": ms.multistep_decay(1.0, [200, 500, 800], 0.5),
        "piecewise_interpolate": s([ms.piecewise_interpolate(k, 1.0, {300: 0.2, 700: 3.0}) for k in ("linear", "cosine")]),
        "warmup_constant": ms.warmup_constant(0.0, 1.0, 200),
        "warmup_cosine_decay": s([ms.warmup_cosine_decay(0.0, 1.0, 100, 900, 0.1, e) for e in (1.0, 3.0)]),
        "warmup_exponential_decay": ms.warmup_exponential_decay(0.0, 1.0, 100, 100, 0.6, 50, False, 0.1),
        "cosine_restarts": s([ms.cosine_restarts(1.0, 150, t, 0.05) for t in (1, 2)]),
        "sgdr": ms.sgdr([dict(init=0.0, peak=1.0, warmup_steps=50, decay_steps=300),
                         dict(init=0.0, peak=0.6, warmup_steps=50, decay_steps=700)]),
        "linear_onecycle": ms.linear_onecycle(N, 1.0),
        "cosine_onecycle": ms.cosine_onecycle(N, 1.0),
        "onecycle": s([ms.onecycle(N, 1.0), ms.onecycle(N, 1.0, anneal="linear", three_phase=True)]),
        "onecycle_momentum": s([ms.onecycle_momentum(N), ms.onecycle_momentum(N, anneal="linear", three_phase=True)]),
        "cyclic": s([ms.cyclic(0.1, 1.0, 100), ms.cyclic(0.1, 1.0, 100, mode="triangular2"),
                     ms.cyclic(0.1, 1.0, 100, mode="exp_range", gamma=0.998)]),
        "cyclic_momentum": s([ms.cyclic_momentum(0.8, 0.9, 100), ms.cyclic_momentum(0.8, 0.9, 100, mode="triangular2"),
                              ms.cyclic_momentum(0.8, 0.9, 100, mode="exp_range", gamma=0.998)]),
        "inverse_sqrt": ms.inverse_sqrt(1.0, 100),
        "warmup_stable_decay": s([ms.warmup_stable_decay(1.0, 100, 500, 300, 0.1, "linear", d) for d in ("linear", "cosine", "1-sqrt")]),
        "cosine_with_min_lr": ms.cosine_with_min_lr(1.0, 100, 900, 0.1),
        "cosine_with_warmup": s([ms.cosine_with_warmup(1.0, 100, 1000, c) for c in (0.5, 1.5)]),
        "cosine_hard_restarts": ms.cosine_hard_restarts(1.0, 100, 900, 3),
        "cosine_warmup_with_min_lr": ms.cosine_warmup_with_min_lr(1.0, 100, 900, min_lr_rate=0.1),
    }


def _draw(out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(exist_ok=True)
    for name, sched in _figures().items():
        fig, ax = plt.subplots(figsize=(6, 2.4), dpi=80)
        vals = sched.values(N)  # one dispatch (a stack is one program)
        ax.plot(vals.T.tolist() if sched.batched else vals.tolist(), linewidth=1.4)
        ax.set_title(repr(sched) if len(repr(sched)) < 90 else name, fontsize=7)
        ax.set_xlabel("step", fontsize=7)
        ax.tick_params(labelsize=7)
        fig.tight_layout()
        fig.savefig(out / f"{name}.png")
        plt.close(fig)


_SECTION = re.compile(r"^(Args|Returns|Raises|Example|Examples|Note|Yields):\s*$", re.M)


def _sections(doc: str) -> dict:
    """A Google-style docstring's sections by name (their text)."""
    heads = list(_SECTION.finditer(doc))
    return {m.group(1): doc[m.end():heads[i + 1].start() if i + 1 < len(heads) else len(doc)]
            for i, m in enumerate(heads)}


def _lacks(obj, name: str, *, returns: bool, params=None) -> list:
    """What the docstring of ``obj`` lacks: an Args section naming every
    parameter (``params``: those of ``obj``'s signature, less self), a
    Returns section (``returns``)."""
    import inspect

    doc = inspect.getdoc(obj) or ""
    if not doc:
        return [f"{name} (no docstring)"]
    sec = _sections(doc)
    if params is None:
        params = [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]
    out = []
    if params:
        if "Args" not in sec:
            out.append(f"{name} (no Args)")
        else:
            absent = [p for p in params if not re.search(rf"^\s+\**{re.escape(p)}\b", sec["Args"], re.M)]
            if absent:
                out.append(f"{name} (Args lacks {', '.join(absent)})")
    if returns and "Returns" not in sec:
        out.append(f"{name} (no Returns)")
    return out


def _missing_sections() -> list:
    """Public API docstrings without Args (naming every argument) or Returns:
    the functions of ``mlx_sched.__all__``, the fused optimizers (constructor
    arguments in the class docstring) and the public methods of ``Schedule``
    and the optimizers (properties: a docstring)."""
    import inspect

    import mlx_sched as ms
    import mlx_sched.optimizers as mo

    missing = []
    for name in ms.__all__:
        obj = getattr(ms, name)
        if inspect.isfunction(obj):
            missing += _lacks(obj, f"mlx_sched.{name}", returns=True)
    for name in mo.__all__:
        cls = getattr(mo, name)
        init = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
        missing += _lacks(cls, f"mlx_sched.optimizers.{name}", returns=False, params=init)
    from mlx_sched.optimizers._fused import _Fused

    owners = [(ms.Schedule, "mlx_sched.Schedule"), (_Fused, "mlx_sched.optimizers (every optimizer)")]
    for cls, qual in owners:
        for attr, obj in vars(cls).items():
            if attr.startswith("_") and attr not in ("__call__", "__len__", "__getitem__"):
                continue
            if isinstance(obj, property):
                if not (obj.__doc__ or "").strip():
                    missing.append(f"{qual}.{attr} (no docstring)")
            elif inspect.isfunction(obj):
                ret = inspect.signature(obj).return_annotation
                missing += _lacks(obj, f"{qual}.{attr}", returns=ret not in ("None", None))
    return missing


def on_pre_build(config, **kwargs):
    _draw(DOCS / "figures")
    missing = _missing_sections()
    if missing:
        msg = f"{len(missing)} public functions/classes lack Args/Returns sections: {', '.join(missing)}"
        if os.environ.get("MLX_SCHED_DOCS_REQUIRE_SECTIONS", "1") != "0":
            log.warning(msg)  # --strict turns this into a failed build
        else:
            log.info(msg)


def _help(*args: str) -> str:
    r = subprocess.run([sys.executable, "-m", "mlx_sched", *args, "--help"], capture_output=True, text=True,
                       check=True, env=dict(os.environ, COLUMNS="100"))
    return r.stdout.rstrip()


def on_page_markdown(markdown, page, config, files):
    if page.file.src_uri == "cli.md":
        markdown = markdown.replace("{{ cli_help }}", _help()).replace("{{ cli_plot_help }}", _help("plot"))
    return markdown
