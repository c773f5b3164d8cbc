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
