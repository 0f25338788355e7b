"""two_stage: odpo on a fraction, then the locally D-optimal design at the fitted theta."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from duelbandit.annotate import Labels, SimulatedBT
from duelbandit.design import optimal_design, round_design
from duelbandit.select import ODPOSelector, SelectionState, TwoStageSelector
from duelbandit.select.local import interleaved
from tests.conftest import random_pool

THETA = np.array([3.0, -2.0, 1.0, 2.0, 0.0])


def counts_of(batch, L):
    c = np.zeros(L, dtype=np.int64)
    c[batch.pairs] = batch.counts
    return c


def test_interleaved_spreads_any_prefix_over_the_support():
    counts = np.array([0, 3, 1, 0, 2, 5])
    order = interleaved(counts)
    assert np.array_equal(np.bincount(order, minlength=6), counts)
    assert sorted(order[:4].tolist()) == [1, 2, 4, 5]  # first copies of all 4 support pairs come first
    assert set(order[4:7].tolist()) == {1, 4, 5}


def test_two_rounds_are_odpo_then_the_local_design():
    pool, feats = random_pool(40, (3, 6), 5, seed=3)
    state = SelectionState(pool, feats)
    L = pool.n_pairs
    B = pool.pairs().differences(feats.X)
    T, frac = 300, 0.4
    n1 = int(np.ceil(frac * T))
    sel = TwoStageSelector(fraction=frac, total=T)
    first = sel.select(state, n1, 0)
    # stage 1 is exactly odpo's batch of n1 labels
    assert np.array_equal(counts_of(first, L), counts_of(ODPOSelector().select(state, n1, 0), L))
    labels = SimulatedBT(THETA, pool, feats, rng=1).label(first)
    second = sel.select(SelectionState(pool, feats, labels=labels), T - n1, 0)
    assert second.size == T - n1
    # stage 2: the D-optimal design of sqrt(sigma'(<theta_hat, b>)) b, theta_hat from scikit-learn
    Bl = B[labels.pairs]
    lr = LogisticRegression(fit_intercept=False, C=1 / state.lam, tol=1e-12, max_iter=10_000).fit(Bl, labels.y)
    z = B @ lr.coef_[0]
    Bt = np.sqrt(expit(z) * expit(-z))[:, None] * B
    expected = round_design(optimal_design(Bt, method=sel.method), T - n1, B=Bt).counts
    assert np.array_equal(counts_of(second, L), expected)
    assert second.info["stage1_labels"] == 0 and first.info["stage2_labels"] == 0


def test_rounds_add_up_to_the_same_stage_one_and_top_up_stage_two():
    pool, feats = random_pool(40, (3, 6), 5, seed=3)
    state = SelectionState(pool, feats)
    L = pool.n_pairs
    T, m = 200, 25
    sel = TwoStageSelector(fraction=0.5, total=T)
    sim = SimulatedBT(THETA, pool, feats, rng=2)
    parts = []
    for _ in range(T // m):
        labels = Labels.concat(parts) if parts else None
        batch = sel.select(SelectionState(pool, feats, labels=labels), m, 0)
        assert batch.size == m
        parts.append(sim.label(batch))
    everything = Labels.concat(parts)
    stage1 = np.bincount(everything.pairs[:100], minlength=L)
    assert np.array_equal(stage1, counts_of(ODPOSelector().select(state, 100, 0), L))
    assert len(everything) == T


def test_one_call_without_labels_is_a_valid_design_batch():
    pool, feats = random_pool(20, (3, 5), 4, seed=0)
    batch = TwoStageSelector().select(SelectionState(pool, feats), 50, 0)
    assert batch.size == 50 and batch.info["design_weight"].shape == batch.pairs.shape
