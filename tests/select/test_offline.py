"""uniform and odpo against independent computations."""

from __future__ import annotations

import numpy as np

from duelbandit.select import ODPOSelector, SelectionState, UniformSelector
from tests.conftest import random_pool


def test_uniform_draws_prompts_uniformly_then_pairs_uniformly():
    # 2 prompts: K = 2 (1 pair) and K = 4 (6 pairs); uniform over prompts gives 1/2 to the lone pair
    # and 1/12 to each pair of the other prompt (not 1/7 each, which uniform-over-pairs would give).
    from duelbandit.types import Features, Pool

    pool = Pool.from_lists(["a", "b"], [["x", "y"], ["1", "2", "3", "4"]])
    feats = Features(np.random.default_rng(0).normal(size=(6, 3)) / 3)
    T = 60_000
    batch = UniformSelector().select(SelectionState(pool, feats), T, 11)
    freq = np.zeros(pool.n_pairs)
    freq[batch.pairs] = batch.counts / T
    expected = np.array([1 / 2] + [1 / 12] * 6)
    # binomial standard error at T = 60000 is at most 0.002
    assert np.max(np.abs(freq - expected)) < 0.01


def test_odpo_batch_meets_the_rounding_bound():
    """max_b ||b||^2_{V^-1} <= g_max(w) / (T - p) for V = sum counts b b^T (spec §3), V built here."""
    pool, feats = random_pool(40, (3, 6), 6, seed=4)
    state = SelectionState(pool, feats)
    T = 200
    batch = ODPOSelector().select(state, T, 0)
    cert = batch.info["certificate"]
    B = pool.pairs().differences(feats.X)
    V = (B[batch.pairs] * batch.counts[:, None]).T @ B[batch.pairs]
    lev = np.einsum("ij,jk,ik->i", B, np.linalg.inv(V), B)
    d = feats.dim
    p = cert["support_size"]
    assert batch.size == T
    assert lev.max() <= cert["max_leverage_over_d"] * d / (T - p) * (1 + 1e-9)
    # and the design it rounds is nearly D-optimal: its efficiency certificate is at least 1/(1+eps)
    assert cert["efficiency_lower_bound"] >= 1 / (1 + 1e-3) - 1e-9


def test_odpo_beats_uniform_on_worst_case_prediction_width():
    """On an anisotropic pool the design's max ||b||_{V^-1} is far below uniform's (same T)."""
    rng = np.random.default_rng(2)
    pool, feats = random_pool(60, (3, 5), 6, seed=2)
    X = feats.X * np.array([1, 1, 1, 0.1, 0.05, 0.02])  # decaying spectrum: rare directions
    from duelbandit.types import Features

    feats = Features(X)
    state = SelectionState(pool, feats)
    B = pool.pairs().differences(X)
    T = 300

    def width(batch):
        V = 1e-8 * np.eye(6) + (B[batch.pairs] * batch.counts[:, None]).T @ B[batch.pairs]
        return np.einsum("ij,jk,ik->i", B, np.linalg.inv(V), B).max()

    w_odpo = width(ODPOSelector().select(state, T, rng))
    w_unif = np.median([width(UniformSelector().select(state, T, s)) for s in range(5)])
    assert w_odpo < 0.5 * w_unif
