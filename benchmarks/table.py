"""Render benchmark JSON files as the README's markdown table.

    python benchmarks/table.py benchmarks/results/cpu.json [more.json ...]
"""

import json
import sys


def render(path):
    d = json.load(open(path))
    info = d["info"]
    lines = [
        f"**{info['device']}** — mlx {info['mlx']}, best of {info['repeat']}, malloc tuned: {info['malloc_tuned']}",
        "",
        "| case | contestant | time (ms) | vs. fastest |",
        "|---|---|---:|---:|",
    ]
    for c in d["cases"]:
        res = c["results"]
        fastest = min(v["ms"] for v in res.values())
        for k, (label, v) in enumerate(res.items()):
            lines.append(f"| {c['case'] if k == 0 else ''} | {label} | {v['ms']:.3f} | {v['ms'] / fastest:.1f}× |")
    lines += ["", "| goal | measured | met |", "|---|---:|:---:|"]
    for c in d["cases"]:
        for g in c["goals"]:
            lines.append(f"| {c['case']}: {g['fast']} ≥ {g['goal']}× {g['slow']} | {g['ratio']:.1f}× | {'yes' if g['met'] else 'no'} |")
    if "range_vs_fill_speed" in info:
        v, need = info["range_vs_fill_speed"], info.get("range_vs_fill_goal", 0.5)
        lines.append(f"| cosine range mode ≥ {need:.0%} of the fill's speed | {v:.2f}× the fill's speed | {'yes' if v >= need else 'no'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print("\n\n".join(render(p) for p in sys.argv[1:]))
