"""Hypothesis strategies for schedule specs (see oracle.py)."""

import numpy as np
from hypothesis import strategies as st

# Hyperparameters exactly representable in float32, so that mlx.optimizers
# (which rounds them to float32) and the float64 oracle see the same numbers.
f32 = st.floats(-10.0, 10.0, width=32)
pos32 = st.floats(0.0009765625, 10.0, width=32)
rate32 = st.floats(0.5, 1.0, width=32)
counts = st.integers(1, 5000)


def leaf():
    return st.one_of(
        st.tuples(st.just("cosine"), pos32, counts, f32),
        st.tuples(st.just("linear"), f32, f32, counts),
        st.tuples(st.just("exp"), pos32, rate32),
        st.tuples(st.just("step"), pos32, rate32, st.integers(1, 500)),
    )


def spec(max_depth=2):
    def join(children):
        return st.integers(1, 3).flatmap(
            lambda k: st.tuples(
                st.just("join"),
                st.lists(children, min_size=k + 1, max_size=k + 1),
                st.lists(st.integers(-50, 3000), min_size=k, max_size=k),
            )
        )

    return st.recursive(leaf(), join, max_leaves=6)


def product_spec():
    """Specs with products and optax's cosine exponent (mlx_sched only): joins of
    products, products of joins. Factors are bounded (no exponential growth),
    so that a product stays finite wherever the float64 reference does."""
    bounded = st.one_of(
        st.tuples(st.just("cosine"), pos32, counts, f32),
        st.tuples(st.just("linear"), f32, f32, counts),
        st.tuples(st.just("cosine_e"), pos32, counts, st.floats(0.0, 2.0, width=32), st.floats(0.25, 4.0, width=32)),
    )

    def grow(children):
        mul = st.lists(children, min_size=2, max_size=3).map(lambda ps: ("mul", ps))
        join = st.integers(1, 2).flatmap(lambda k: st.tuples(
            st.just("join"), st.lists(children, min_size=k + 1, max_size=k + 1),
            st.lists(st.integers(-50, 3000), min_size=k, max_size=k)))
        return st.one_of(mul, join)

    return st.recursive(bounded, grow, max_leaves=6).filter(lambda s: _factors(s) <= 8)


def _factors(spec):
    if spec[0] == "mul":
        return sum(_factors(p) for p in spec[1])
    if spec[0] == "join":
        return max(_factors(p) for p in spec[1])
    return 1
