"""Independent float64 references for the schedule families, written from each
reference's documented formula (optax, torch.optim.lr_scheduler, HF transformers),
plus the cases every family test runs on.

Steps are Python ints; integer parts (clamps, cycles, floors) are exact, the
rest is float64. Steps before 0 give the value at step 0 (mlx-sched's rule
for the families; the references raise or are undefined there).
"""

import math
from fractions import Fraction

import mlx_sched as ms


def _neg0(f):
    return lambda s: f(max(s, 0))


def _lin(init, end, n, s):
    if n == 0:
        return end
    return init + (end - init) * min(max(s, 0), n) / n


def optax_exponential(init, rate, n, stair, begin, end):
    def f(s):
        d = s - begin
        if d <= 0:
            v = init
        else:
            p = d // n if stair else d / n
            lm = p * math.log(rate)
            v = init * (math.exp(lm) if lm < 709 else math.inf)
        if end is not None:
            v = max(v, end) if rate < 1 else min(v, end)
        return v

    return f


def polynomial(init, end, power, steps, begin=0):
    def f(s):
        c = min(max(s - begin, 0), steps)
        return (init - end) * (1 - c / steps) ** power + end

    return f


def piecewise_constant(init, pairs):
    def f(s):
        v = init
        for b, k in sorted(pairs.items()):
            if s >= b:
                v *= k
        return v

    return f


def multistep(init, milestones, gamma):
    return lambda s: init * gamma ** sum(1 for m in milestones if m <= s)


def interpolate(kind, init, pairs):
    bounds = [0] + sorted(pairs)
    values = [init]
    for b in sorted(pairs):
        values.append(values[-1] * pairs[b])

    def f(s):
        if s >= bounds[-1]:
            return values[-1]
        for i in range(len(bounds) - 1):
            if bounds[i] <= s < bounds[i + 1]:
                pct = (s - bounds[i]) / max(bounds[i + 1] - bounds[i], 1)
                a, b = values[i], values[i + 1]
                if kind == "linear":
                    return (b - a) * pct + a
                return b + (a - b) / 2 * (math.cos(math.pi * pct) + 1)
        raise AssertionError

    return _neg0(f)


def warmup_cosine(init, peak, w, d, end=0.0, exponent=1.0):
    alpha = 0.0 if peak == 0 else end / peak

    def f(s):
        if s < w:
            return _lin(init, peak, w, s)
        t = min(s - w, d - w)
        c = 0.5 * (1 + math.cos(math.pi * t / (d - w)))
        return peak * ((1 - alpha) * c**exponent + alpha)

    return f


def warmup_exponential(init, peak, w, n, rate, begin=0, stair=False, end=None):
    e = optax_exponential(peak, rate, n, stair, begin, end)
    return lambda s: _lin(init, peak, w, s) if s < w else e(s - w)


def restarts(init, T0, tm, end):
    def f(s):
        start, length = 0, T0
        if tm == 1:
            start = s - s % T0
        else:
            while s >= start + length:
                start, length = start + length, length * tm
        return end + (init - end) * (1 + math.cos(math.pi * (s - start) / length)) / 2

    return _neg0(f)


def sgdr(kwargs):
    pieces = [warmup_cosine(k["init"], k["peak"], k["warmup_steps"], k["decay_steps"], k.get("end", 0.0)) for k in kwargs]
    starts = [0]
    for k in kwargs[:-1]:
        starts.append(starts[-1] + k["decay_steps"])

    def f(s):
        i = max(j for j, b in enumerate(starts) if j == 0 or s >= b)
        return pieces[i](s - starts[i])

    return f


def torch_onecycle(T, max_lr, pct=0.3, anneal="cos", div=25.0, fdiv=1e4, three=False):
    lo = max_lr / div
    if three:
        phases = [(pct * T - 1, lo, max_lr), (2 * pct * T - 2, max_lr, lo), (T - 1, lo, lo / fdiv)]
    else:
        phases = [(pct * T - 1, lo, max_lr), (T - 1, max_lr, lo / fdiv)]

    def f(s):
        s = min(max(s, 0), T - 1)
        start = 0
        for i, (e, a, b) in enumerate(phases):
            if s <= e or i == len(phases) - 1:
                p = (s - start) / (e - start)
                if anneal == "cos":
                    return b + (a - b) / 2 * (math.cos(math.pi * p) + 1)
                return (b - a) * p + a
            start = e
        raise AssertionError

    return f


def cyclic(base, top, up, down=None, mode="triangular", gamma=1.0):
    down = up if down is None else down
    total = up + down

    def f(s):
        cycle, r = divmod(s, total)
        x = r / up if r <= up else (total - r) / down
        scale = {"triangular": 1.0, "triangular2": 0.5**cycle, "exp_range": gamma**s}[mode]
        return base + (top - base) * x * scale

    return _neg0(f)


def torch_onecycle_momentum(T, pct=0.3, anneal="cos", base=0.85, top=0.95, three=False):
    """torch OneCycleLR's momentum (cycle_momentum=True), from its documentation:
    inverse to the lr, max -> base at the lr's peak -> max; three-phase: max ->
    base -> max, then max held while the lr anneals to its minimum."""
    if three:
        phases = [(pct * T - 1, top, base), (2 * pct * T - 2, base, top), (T - 1, top, top)]
    else:
        phases = [(pct * T - 1, top, base), (T - 1, base, top)]

    def f(s):
        s = min(max(s, 0), T - 1)
        lo = 0.0
        for k, (hi, a, b) in enumerate(phases):
            if s <= hi or k == len(phases) - 1:
                p = (s - lo) / (hi - lo)
                if anneal == "linear":
                    return a + (b - a) * p
                return b + 0.5 * (a - b) * (1 + math.cos(math.pi * p))
            lo = hi
        raise AssertionError

    return f


def cyclic_momentum(base, top, up, down=None, mode="triangular", gamma=1.0):
    """torch CyclicLR's momentum (cycle_momentum=True), from its documentation:
    max_momentum - (max_momentum - base_momentum) * triangle * scale."""
    down = up if down is None else down

    def f(s):
        s = max(s, 0)
        k, r = divmod(s, up + down)
        tri = r / up if r <= up else (up + down - r) / down
        scale = 1.0 if mode == "triangular" else 2.0 ** -k if mode == "triangular2" else gamma**s
        return top - (top - base) * tri * scale

    return f


def inverse_sqrt(init, w, tau=None):
    tau = tau if tau is not None else (w or 10_000)

    def f(s):
        if s < w:
            return init * s / max(1, w)
        return init / math.sqrt((s + tau - w) / tau)

    return _neg0(f)


def wsd(init, w, st, d, r=0.0, wt="linear", dt="cosine"):
    def f(s):
        if s < w:
            p = s / max(1, w)
            fac = {"linear": p, "cosine": 0.5 * (1 - math.cos(math.pi * p)), "1-sqrt": 1 - math.sqrt(1 - p)}[wt]
            return init * max(0.0, fac * (1 - r) + r)
        if s < w + st:
            return init
        if s < w + st + d:
            p = (s - w - st) / max(1, d)
            fac = {"linear": 1 - p, "cosine": 0.5 * (1 + math.cos(math.pi * p)), "1-sqrt": 1 - math.sqrt(p)}[dt]
            return init * max(0.0, fac * (1 - r) + r)
        return init * r

    return _neg0(f)


def cosine_min_lr(init, w, T, min_lr):
    rate = min_lr / init

    def f(s):
        if s < w:
            return init * s / max(1, w)
        p = ((s - w) % (2 * (T - w))) / max(1, T - w)  # cos(pi p) has period 2 in p: reduced exactly
        fac = 0.5 * (1 + math.cos(math.pi * p))
        return init * max(0.0, fac * (1 - rate) + rate)

    return _neg0(f)


# id -> (mlx_sched schedule, float64 oracle, scale of the values)
CASES = {
    "constant": (lambda: ms.constant(3e-4), lambda s: 3e-4, 3e-4),
    "exp_optax": (lambda: ms.exponential_decay(1.0, 0.5, transition_steps=100, begin=20), optax_exponential(1.0, 0.5, 100, False, 20, None), 1.0),
    "exp_optax_stair_floor": (lambda: ms.exponential_decay(2.0, 0.7, transition_steps=37, staircase=True, begin=5, end=0.01),
                              optax_exponential(2.0, 0.7, 37, True, 5, 0.01), 2.0),
    "exp_optax_ceiling": (lambda: ms.exponential_decay(0.1, 1.01, transition_steps=3, end=0.5), optax_exponential(0.1, 1.01, 3, False, 0, 0.5), 0.5),
    "exp_optax_clip_first": (lambda: ms.exponential_decay(1.0, 0.9, begin=10, end=2.0), optax_exponential(1.0, 0.9, 1, False, 10, 2.0), 2.0),
    "polynomial": (lambda: ms.polynomial_decay(1.0, 0.01, 2, 1000, begin=5), polynomial(1.0, 0.01, 2, 1000, 5), 1.0),
    "polynomial_sqrt_giant": (lambda: ms.polynomial_decay(1e-3, 0.0, 0.5, 2**50), polynomial(1e-3, 0.0, 0.5, 2**50), 1e-3),
    "polynomial_linear": (lambda: ms.polynomial_decay(0.0, 1.0, 1.0, 300), polynomial(0.0, 1.0, 1.0, 300), 1.0),
    "piecewise_constant": (lambda: ms.piecewise_constant(1.0, {100: 0.1, 200: 0.5, -7: 2.0}),
                           piecewise_constant(1.0, {100: 0.1, 200: 0.5, -7: 2.0}), 2.0),
    "multistep": (lambda: ms.multistep_decay(0.1, [30, 80, 80, 0]), multistep(0.1, [30, 80, 80, 0], 0.1), 0.1),
    "interp_linear": (lambda: ms.piecewise_interpolate("linear", 1.0, {4: 0.1, 8: 0.01, 1000: 3.0}),
                      interpolate("linear", 1.0, {4: 0.1, 8: 0.01, 1000: 3.0}), 1.0),
    "interp_cosine_zero": (lambda: ms.piecewise_interpolate("cosine", 2.0, {0: 0.5, 333: 0.1}), interpolate("cosine", 2.0, {0: 0.5, 333: 0.1}), 2.0),
    "warmup_constant": (lambda: ms.warmup_constant(0.0, 1e-3, 100), lambda s: _lin(0.0, 1e-3, 100, s), 1e-3),
    "warmup_cosine": (lambda: ms.warmup_cosine_decay(0.0, 1e-3, 100, 5000, 1e-5), warmup_cosine(0.0, 1e-3, 100, 5000, 1e-5), 1e-3),
    "warmup_cosine_exp": (lambda: ms.warmup_cosine_decay(1e-4, 1e-3, 0, 3001, 1e-5, 2.5), warmup_cosine(1e-4, 1e-3, 0, 3001, 1e-5, 2.5), 1e-3),
    "warmup_exponential": (lambda: ms.warmup_exponential_decay(0.0, 1.0, 50, 100, 0.5, 30, True, 0.05),
                           warmup_exponential(0.0, 1.0, 50, 100, 0.5, 30, True, 0.05), 1.0),
    "restarts": (lambda: ms.cosine_restarts(1.0, 100, 1, 0.01), restarts(1.0, 100, 1, 0.01), 1.0),
    "restarts_mult": (lambda: ms.cosine_restarts(0.5, 10, 3, 0.0), restarts(0.5, 10, 3, 0.0), 0.5),
    "sgdr": (lambda: ms.sgdr([dict(init=0.0, peak=1.0, warmup_steps=10, decay_steps=500), dict(init=0.1, peak=0.5, warmup_steps=0, decay_steps=800, end=0.01)]),
             sgdr([dict(init=0.0, peak=1.0, warmup_steps=10, decay_steps=500), dict(init=0.1, peak=0.5, warmup_steps=0, decay_steps=800, end=0.01)]), 1.0),
    "linear_onecycle": (lambda: ms.linear_onecycle(1000, 1.0), interpolate("linear", 1 / 25, {300: 25.0, 850: 1 / 25, 1000: 1e-4}), 1.0),
    "cosine_onecycle": (lambda: ms.cosine_onecycle(777, 2.0, 0.25), interpolate("cosine", 2 / 25, {int(0.25 * 777): 25.0, 777: 1 / (25 * 1e4)}), 2.0),
    "onecycle_cos": (lambda: ms.onecycle(1000, 1.0), torch_onecycle(1000, 1.0), 1.0),
    "onecycle_frac": (lambda: ms.onecycle(107, 0.5, pct_start=0.31), torch_onecycle(107, 0.5, 0.31), 0.5),
    "onecycle_linear3": (lambda: ms.onecycle(997, 1.0, 0.2, "linear", 10.0, 100.0, True), torch_onecycle(997, 1.0, 0.2, "linear", 10.0, 100.0, True), 1.0),
    "onecycle_cos3": (lambda: ms.onecycle(503, 1.0, 0.37, "cos", three_phase=True), torch_onecycle(503, 1.0, 0.37, "cos", three=True), 1.0),
    "cyclic": (lambda: ms.cyclic(0.001, 0.006, 200), cyclic(0.001, 0.006, 200), 0.006),
    "cyclic2": (lambda: ms.cyclic(0.001, 0.006, 30, 70, "triangular2"), cyclic(0.001, 0.006, 30, 70, "triangular2"), 0.006),
    "cyclic_exp": (lambda: ms.cyclic(0.001, 0.006, 25, mode="exp_range", gamma=0.9995), cyclic(0.001, 0.006, 25, mode="exp_range", gamma=0.9995), 0.006),
    "onecycle_momentum": (lambda: ms.onecycle_momentum(1000), torch_onecycle_momentum(1000), 0.95),
    "onecycle_momentum_frac": (lambda: ms.onecycle_momentum(107, 0.31, base_momentum=0.5, max_momentum=0.99),
                               torch_onecycle_momentum(107, 0.31, base=0.5, top=0.99), 0.99),
    "onecycle_momentum_linear3": (lambda: ms.onecycle_momentum(997, 0.2, "linear", 0.8, 0.9, True),
                                  torch_onecycle_momentum(997, 0.2, "linear", 0.8, 0.9, True), 0.9),
    "onecycle_momentum_cos3": (lambda: ms.onecycle_momentum(503, 0.37, three_phase=True), torch_onecycle_momentum(503, 0.37, three=True), 0.95),
    "onecycle_momentum_epochs": (lambda: ms.onecycle_momentum(epochs=7, steps_per_epoch=13, pct_start=0.31, anneal="linear"),
                                 torch_onecycle_momentum(91, 0.31, "linear"), 0.95),
    "onecycle_cos3_late_peak": (lambda: ms.onecycle(100, 1.0, 0.6, three_phase=True), torch_onecycle(100, 1.0, 0.6, three=True), 1.0),
    "onecycle_momentum_late_peak": (lambda: ms.onecycle_momentum(100, 0.6, "linear", three_phase=True),
                                    torch_onecycle_momentum(100, 0.6, "linear", three=True), 0.95),
    "onecycle_momentum_long": (lambda: ms.onecycle_momentum(3 * 10**6, 0.25, base_momentum=0.85, max_momentum=0.99),
                               torch_onecycle_momentum(3 * 10**6, 0.25, base=0.85, top=0.99), 0.99),
    "cyclic_momentum": (lambda: ms.cyclic_momentum(0.8, 0.9, 200), cyclic_momentum(0.8, 0.9, 200), 0.9),
    "cyclic_momentum2": (lambda: ms.cyclic_momentum(0.85, 0.95, 30, 70, "triangular2"), cyclic_momentum(0.85, 0.95, 30, 70, "triangular2"), 0.95),
    "cyclic_momentum_exp": (lambda: ms.cyclic_momentum(0.8, 0.9, 25, mode="exp_range", gamma=0.9995),
                            cyclic_momentum(0.8, 0.9, 25, mode="exp_range", gamma=0.9995), 0.9),
    "cyclic_momentum_beta1": (lambda: ms.cyclic_momentum(0.5, 0.99, 1000, 3000), cyclic_momentum(0.5, 0.99, 1000, 3000), 0.99),
    "inverse_sqrt": (lambda: ms.inverse_sqrt(1e-3, 400), inverse_sqrt(1e-3, 400), 1e-3),
    "inverse_sqrt_tau": (lambda: ms.inverse_sqrt(1.0, 0, 77), inverse_sqrt(1.0, 0, 77), 1.0),
    "wsd": (lambda: ms.warmup_stable_decay(1e-3, 100, 1000, 500, 0.1), wsd(1e-3, 100, 1000, 500, 0.1), 1e-3),
    "wsd_sqrt": (lambda: ms.warmup_stable_decay(1.0, 64, 0, 300, 0.0, "1-sqrt", "1-sqrt"), wsd(1.0, 64, 0, 300, 0.0, "1-sqrt", "1-sqrt"), 1.0),
    "wsd_cos_lin": (lambda: ms.warmup_stable_decay(2.0, 33, 10, 77, 0.25, "cosine", "linear"), wsd(2.0, 33, 10, 77, 0.25, "cosine", "linear"), 2.0),
    "cosine_min_lr": (lambda: ms.cosine_with_min_lr(1e-3, 100, 2000, 1e-5), cosine_min_lr(1e-3, 100, 2000, 1e-5), 1e-3),
}


# ------------------------------------------------- issue 15: the new factories

def cosine_exponent(init, n, end, e):
    def f(s):
        r = min(s, n) % (2 * n)  # cos(pi x / n) has period 2n: reduced exactly
        return end + (init - end) * (0.5 * (1 + math.cos(math.pi * r / n))) ** e

    return f


def hf_cosine(init, w, T, cycles=0.5, m=0.0, shift=0, warm=None):
    """HF's cosine schedules (unclamped), times init; warm: None (s / W),
    "plus1" ((s + 1) / W) or a warmup_lr_rate."""
    L = max(1, T - w)
    # 2 pi c p mod 2 pi in exact rationals: c as the caller meant it (a
    # Fraction, or a float's decimal: 0.3 is 3/10, not its binary neighbour),
    # the step exactly (int or float).
    two_c = 2 * (cycles if isinstance(cycles, Fraction) else Fraction(repr(float(cycles))))

    def f(s):
        if s < w:
            if warm is None:
                return init * s / max(1, w)
            if warm == "plus1":
                return init * (s + 1) / max(1, w)
            return init * (warm + (1 - warm) * s / max(1, w - 1))
        r = (two_c * (Fraction(s) - w + shift) / L) % 2
        return init * (m + (1 - m) * 0.5 * (1 + math.cos(math.pi * float(r))))

    return _neg0(f)


def hf_hard_restarts(init, w, T, cycles):
    L = max(1, T - w)

    def f(s):
        if s < w:
            return init * s / max(1, w)
        t = s - w
        if t >= L:
            return 0.0
        r = (cycles * t) % L  # (c p) mod 1 = r / L, exactly
        return init * 0.5 * (1 + math.cos(math.pi * r / L))

    return _neg0(f)


def product(*fs):
    def f(s):
        v = 1.0
        for g in fs:
            v *= g(s)
        return v

    return f


CASES.update({
    "cosine_exponent": (lambda: ms.cosine_decay(1e-3, 777, 1e-5, exponent=2.5), cosine_exponent(1e-3, 777, 1e-5, 2.5), 1e-3),
    "hf_cosine": (lambda: ms.cosine_with_warmup(1e-3, 100, 2100), hf_cosine(1e-3, 100, 2100), 1e-3),
    "hf_cosine_cycles": (lambda: ms.cosine_with_warmup(2.0, 10, 810, num_cycles=4), hf_cosine(2.0, 10, 810, 4), 2.0),
    "hf_cosine_frac_cycles": (lambda: ms.cosine_with_warmup(1.0, 3, 13, num_cycles=0.3), hf_cosine(1.0, 3, 13, 0.3), 1.0),
    "hf_cosine_third_cycles": (lambda: ms.cosine_with_min_lr(2.0, 10, 1010, num_cycles=1 / 3, min_lr_rate=0.1),
                               hf_cosine(2.0, 10, 1010, Fraction(1, 3), 0.1), 2.0),
    "hf_cosine_many_cycles": (lambda: ms.cosine_warmup_with_min_lr(1.0, 5, 1005, num_cycles=7.25, min_lr=0.01),
                              hf_cosine(1.0, 5, 1005, 7.25, 0.01, 1, "plus1"), 1.0),
    "hf_hard_restarts": (lambda: ms.cosine_hard_restarts(1.0, 50, 1050, 4), hf_hard_restarts(1.0, 50, 1050, 4), 1.0),
    "hf_hard_restarts_frac": (lambda: ms.cosine_hard_restarts(1.0, 7, 1007, 3), hf_hard_restarts(1.0, 7, 1007, 3), 1.0),
    "hf_min_lr_rate": (lambda: ms.cosine_with_min_lr(1.0, 20, 420, num_cycles=1, min_lr_rate=0.1), hf_cosine(1.0, 20, 420, 1, 0.1), 1.0),
    "hf_warmup_plus1": (lambda: ms.cosine_warmup_with_min_lr(1.0, 30, 630, min_lr=0.05),
                        hf_cosine(1.0, 30, 630, 0.5, 0.05, 1, "plus1"), 1.0),
    "hf_warmup_lr_rate": (lambda: ms.cosine_warmup_with_min_lr(1.0, 30, 630, min_lr_rate=0.05, warmup_lr_rate=0.2),
                          hf_cosine(1.0, 30, 630, 0.5, 0.05, 1, 0.2), 1.0),
    "onecycle_epochs": (lambda: ms.onecycle(max_lr=0.5, epochs=7, steps_per_epoch=13, pct_start=0.31),
                        torch_onecycle(91, 0.5, 0.31), 0.5),
    "multiply": (lambda: ms.multiply(ms.warmup_constant(0.1, 1.0, 100), ms.multistep_decay(0.01, [300, 700, 700])),
                 product(lambda s: _lin(0.1, 1.0, 100, s), multistep(0.01, [300, 700, 700], 0.1)), 0.01),
    "multiply_join": (lambda: ms.join_schedules([ms.constant(0.5), ms.multiply(ms.cosine_restarts(1.0, 100), ms.cyclic(0.5, 1.5, 40))], [10]),
                      (lambda r, c: lambda s: 0.5 if s < 10 else r(s - 10) * c(s - 10))(restarts(1.0, 100, 1, 0.0), cyclic(0.5, 1.5, 40)), 1.5),
})
