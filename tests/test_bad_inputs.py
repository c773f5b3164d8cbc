"""A matrix of bad arguments: every factory x every argument x wrong type,
bool, NaN, +-inf, zero, negative, huge, non-integer counts, empty and nested
sequences, mismatched batches. Each must raise TypeError or ValueError naming
the argument. The matrix runs in a child process, so a crash (not only a
wrong answer) fails the test."""

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    r'''
    import json, math
    import mlx.core as mx
    import mlx_sched as ms

    REAL = {"init": 1.0, "end": 0.0, "decay_rate": 0.5}
    COUNT = {"decay_steps": 10, "steps": 10, "step_size": 10}
    FACTORIES = {
        "cosine_decay": ["init", "decay_steps", "end"],
        "exponential_decay": ["init", "decay_rate"],
        "linear_schedule": ["init", "end", "steps"],
        "step_decay": ["init", "decay_rate", "step_size"],
    }
    BAD_REAL = {"str": "x", "bool": True, "nan": math.nan, "inf": math.inf, "-inf": -math.inf,
                "none": None, "nested": [[1.0]], "empty": [], "2d_array": mx.zeros((2, 2))}
    BAD_COUNT = dict(BAD_REAL, zero=0, negative=-3, huge=2**63, fraction=2.5, float_nan=float("nan"))
    results = []

    def check(label, arg, fn):
        try:
            fn()
            results.append([label, arg, "no exception", ""])
        except (TypeError, ValueError) as e:
            results.append([label, arg, type(e).__name__, str(e)])
        except Exception as e:
            results.append([label, arg, "other:" + type(e).__name__, str(e)])

    for name, args in FACTORIES.items():
        for arg in args:
            bad = BAD_COUNT if arg in COUNT else BAD_REAL
            for label, value in bad.items():
                kw = {a: (COUNT.get(a, REAL.get(a))) for a in args}
                kw[arg] = value
                check(f"{name}:{label}", arg, lambda: getattr(ms, name)(**kw))
            kw = {a: (COUNT.get(a, REAL.get(a))) for a in args}
            kw[arg] = [kw[arg]] * 2
            other = [a for a in args if a != arg][0]
            kw[other] = [kw[other]] * 3
            check(f"{name}:mismatched", arg + "|" + other, lambda: getattr(ms, name)(**kw))

    c = ms.cosine_decay(1.0, 10)
    check("join:not a list", "schedules", lambda: ms.join_schedules(c, []))
    check("join:boundaries not a list", "boundaries", lambda: ms.join_schedules([c, c], 5))
    check("join:callable", "schedules", lambda: ms.join_schedules([c, lambda s: s], [3]))
    check("join:bool boundary", "boundaries", lambda: ms.join_schedules([c, c], [True]))
    check("join:huge boundary", "boundaries", lambda: ms.join_schedules([c, c], [2**70]))
    check("join:fraction", "boundaries", lambda: ms.join_schedules([c, c], [2.5]))
    check("join:count", "boundaries", lambda: ms.join_schedules([c, c], [1, 2]))
    check("join:empty", "schedule", lambda: ms.join_schedules([], []))
    for label, step in {"bool": mx.array([True]), "complex": mx.array([1j]), "str": "3",
                        "py bool": True, "too big": 2**64}.items():
        check(f"call:{label}", "step", lambda: c(step))
    check("values:negative", "n", lambda: c.values(-1))
    check("values:float", "n", lambda: c.values(2.0))
    check("values:start", "start", lambda: c.values(5, start=2**63))
    print(json.dumps(results))
    '''
)


def test_bad_input_matrix():
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"the child crashed (rc {proc.returncode}):\n{proc.stderr[-2000:]}"
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(rows) > 100
    bad = []
    for label, arg, kind, msg in rows:
        names = arg.split("|")
        if kind not in ("TypeError", "ValueError") or not any(n in msg for n in names):
            bad.append((label, arg, kind, msg))
    assert bad == [], "\n".join(map(str, bad))
