"""Dyadic partitions: the active node holding x covers x, vectorised lookup equals the scalar one."""

import numpy as np

from duelbandit.rl.partition import DyadicTrees


def covers(i, x):
    lev = int(np.floor(np.log2(i + 1)))
    j = i - (2**lev - 1)
    return j * 2.0**-lev <= x < (j + 1) * 2.0**-lev


def test_leaf_lookup_after_splits():
    t = DyadicTrees(2, 4)
    assert t.leaf(0, 0.7) == 0  # the root covers everything
    c0, c1 = t.split(0, 0)
    assert (c0, c1) == (1, 2)
    assert t.leaf(0, 0.2) == 1 and t.leaf(0, 0.7) == 2
    t.split(0, 2)  # [0.5, 1) -> [0.5, 0.75), [0.75, 1)
    assert t.leaf(0, 0.6) == 5 and t.leaf(0, 0.9) == 6
    assert t.leaf(1, 0.9) == 0  # trees are independent
    xs = np.random.default_rng(0).random(200)
    leaves = t.leaves(0, xs)
    assert all(covers(i, x) for i, x in zip(leaves, xs))
    np.testing.assert_array_equal(leaves, [t.leaf(0, x) for x in xs])


def test_finest_level_cannot_split_and_radii_halve():
    t = DyadicTrees(1, 2)
    assert t.n_nodes == 7
    np.testing.assert_allclose(t.radius, [1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25])
    assert t.can_split(2) and not t.can_split(5)
