"""Batches: broadcast hyperparameters, stack, joins of batches, indexing."""

import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
import pytest

import mlx_sched as ms


def test_issue_example_shapes():
    lr = ms.join_schedules([ms.linear_schedule(0.0, 1e-3, 100), ms.cosine_decay(1e-3, 10_000, 1e-5)], [100])
    assert lr(mx.array(123, mx.uint64)).shape == ()
    assert lr(mx.arange(1_000_000)).shape == (1_000_000,)
    np.testing.assert_array_equal(np.array(lr.values(1_000_000, start=0)), np.array(lr(mx.arange(1_000_000))))
    sweep = ms.cosine_decay([1e-3, 3e-3, 1e-2], [1000, 2000, 4000], end=1e-5)
    assert sweep(mx.arange(4000)).shape == (3, 4000)
    mixed = ms.stack([lr, ms.step_decay(0.1, 0.5, 300), ms.exponential_decay(0.1, 0.999)])
    assert mixed.values(4000).shape == (3, 4000)


def test_sweep_rows_equal_single_schedules():
    inits, steps, ends = [1e-3, 3e-3, 1e-2], [1000, 2000, 4000], 1e-5
    sweep = ms.cosine_decay(inits, steps, end=ends)
    assert len(sweep) == 3 and sweep.batched
    out = np.array(sweep(mx.arange(5000)))
    for g, (i, n) in enumerate(zip(inits, steps)):
        np.testing.assert_array_equal(out[g], np.array(ms.cosine_decay(i, n, ends)(mx.arange(5000))))
        ref = np.array(optim.cosine_decay(i, n, ends)(mx.arange(5000)))
        np.testing.assert_allclose(out[g], ref, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("kind", ["list", "tuple", "numpy", "mlx"])
def test_sequence_types(kind):
    vals = [0.5, 0.25]
    conv = {"list": list, "tuple": tuple, "numpy": np.array, "mlx": mx.array}[kind]
    b = ms.exponential_decay(conv(vals), 0.9)
    np.testing.assert_allclose(np.array(b(3)), np.array(vals) * 0.9**3, rtol=1e-6)


def test_stack_heterogeneous_matches_members():
    members = [
        ms.join_schedules([ms.linear_schedule(0, 1, 10), ms.cosine_decay(1.0, 100, 0.1)], [10]),
        ms.step_decay(0.1, 0.5, 7),
        ms.exponential_decay([0.1, 0.2], 0.99),  # a batch inside a stack: flattened
        ms.join_schedules([ms.cosine_decay(1, 5), ms.join_schedules([ms.linear_schedule(2, 3, 4), ms.step_decay(1, 0.5, 3)], [6])], [8]),
    ]
    stacked = ms.stack(members)
    assert len(stacked) == 5
    steps = mx.array(np.arange(-20, 300))
    out = np.array(stacked(steps))
    rows = [np.array(members[0](steps)), np.array(members[1](steps)), *np.array(members[2](steps)), np.array(members[3](steps))]
    for g, row in enumerate(rows):
        np.testing.assert_array_equal(out[g], row)
    np.testing.assert_array_equal(np.array(stacked.values(320, start=-20)), out)


def test_indexing_and_iteration():
    b = ms.linear_schedule([0.0, 1.0, 2.0], 5.0, [10, 20, 30])
    for g, member in enumerate(b):
        assert not member.batched
        np.testing.assert_array_equal(np.array(member(mx.arange(40))), np.array(b(mx.arange(40)))[g])
    np.testing.assert_array_equal(np.array(b[-1].values(40)), np.array(b.values(40))[2])
    sub = b[1:]
    assert len(sub) == 2
    np.testing.assert_array_equal(np.array(sub.values(40)), np.array(b.values(40))[1:])


def test_join_of_batches_with_scalar_pieces_and_batched_boundaries():
    warm = ms.linear_schedule(0.0, [1e-3, 2e-3], [10, 20])
    cos = ms.cosine_decay([1e-3, 2e-3], 1000)
    tail = ms.exponential_decay(1e-5, 0.999)  # unbatched: broadcast
    j = ms.join_schedules([warm, cos, tail], [[10, 20], 1010])
    assert len(j) == 2
    steps = mx.arange(1200)
    out = np.array(j(steps))
    for g, (peak, w) in enumerate([(1e-3, 10), (2e-3, 20)]):
        ref = optim.join_schedules(
            [optim.linear_schedule(0.0, peak, w), optim.cosine_decay(peak, 1000), optim.exponential_decay(1e-5, 0.999)],
            [w, 1010],
        )(steps)
        np.testing.assert_allclose(out[g], np.array(ref), rtol=2e-5, atol=1e-10)


def test_batch_of_one_keeps_its_axis():
    b = ms.cosine_decay([1.0], 10)
    assert b(mx.arange(3)).shape == (1, 3)
    assert b(4).shape == (1,)
    assert b.values(0).shape == (1, 0)


def test_batched_output_for_nd_steps():
    b = ms.cosine_decay([1.0, 2.0], 10)
    steps = mx.arange(12).reshape(3, 4)
    out = b(steps)
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(np.array(out[1]), np.array(b[1](steps)))


def test_grid_is_the_cartesian_product():
    b = ms.grid(ms.cosine_decay, init=[1e-3, 3e-3], decay_steps=[100, 200, 400], end=1e-5)
    assert len(b) == 6
    assert b.configs[1] == {"end": 1e-5, "init": 1e-3, "decay_steps": 200}
    steps = mx.arange(500)
    out = np.array(b(steps))
    for g, c in enumerate(b.configs):
        np.testing.assert_array_equal(out[g], np.array(ms.cosine_decay(**c)(steps)))
    with pytest.raises(TypeError, match="factory must be an mlx_sched schedule factory"):
        ms.grid(optim.cosine_decay, init=[1.0], decay_steps=[10])
    with pytest.raises(ValueError, match="init must not be an empty list"):
        ms.grid(ms.cosine_decay, init=[], decay_steps=[10])


def test_members_of_a_large_batch_share_its_description():
    """A member's repr is the batch's call with its index, made when asked:
    10,000 members of one batch do not each hold a copy of the batch's
    description (3.4 GB before, for a batch of 10,000 learning rates)."""
    import numpy as np

    import mlx_sched as ms

    batch = ms.cosine_decay(list(np.linspace(1e-3, 1e-2, 10_000)), 1000)
    members = [batch[m] for m in range(len(batch))]
    assert all(m._desc_parts[0] is batch for m in members)
    assert repr(members[7]) == repr(batch) + "[7]" and repr(batch[2:4]) == repr(batch) + "[2:4:None]"
    assert members[7](5).item() == batch(5)[7].item()
