"""Sequential selectors against naive re-implementations of their rules (inverse recomputed from scratch
at every pick, theta_hat from scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from duelbandit.annotate import Labels
from duelbandit.errors import SelectorError
from duelbandit.select import (
    CertaintySelector,
    MinMarginSelector,
    GreedyLogDetSelector,
    SelectionState,
    make_selector,
)
from tests.conftest import random_pool

THETA = np.array([2.0, -1.0, 1.0, 0.5])


@pytest.fixture
def labelled():
    pool, feats = random_pool(30, (3, 6), 4, seed=11)
    B = pool.pairs().differences(feats.X)
    rng = np.random.default_rng(4)
    pairs = rng.integers(0, pool.n_pairs, size=80)
    y = (rng.random(80) < expit(B[pairs] @ THETA)).astype(float)
    state = SelectionState(pool, feats, labels=Labels(pairs, y))
    lr = LogisticRegression(fit_intercept=False, C=1 / state.lam, tol=1e-12, max_iter=10_000).fit(B[pairs], y)
    return state, B, lr.coef_[0]


def naive_picks(B, A0, m, curvature=None, weighted=False):
    """Greedy picks with A^{-1} recomputed by numpy at every step."""
    A = A0.copy()
    taken, picks = set(), []
    for _ in range(m):
        h = np.einsum("ij,jk,ik->i", B, np.linalg.inv(A), B)
        score = h * curvature if weighted else h
        score[list(taken)] = -np.inf
        j = int(np.argmax(score))
        picks.append(j)
        taken.add(j)
        c = 1.0 if curvature is None else curvature[j]
        A = A + c * np.outer(B[j], B[j])
    return picks


def V_of(state, B):
    p = state.labels.pairs
    return state.lam * np.eye(B.shape[1]) + B[p].T @ B[p]


def H_of(state, B, theta):
    p = state.labels.pairs
    s = expit(B[p] @ theta) * expit(-(B[p] @ theta))
    return state.lam * np.eye(B.shape[1]) + (B[p] * s[:, None]).T @ B[p]


def test_apo_practical_is_greedy_in_the_V_norm(labelled):
    state, B, _ = labelled
    batch = make_selector("apo_practical").select(state, 12, 0)
    assert batch.expanded().tolist() == naive_picks(B, V_of(state, B), 12)
    assert np.all(batch.counts == 1)


def test_apo_is_greedy_in_the_H_norm_with_in_batch_curvature(labelled):
    state, B, theta = labelled
    s = expit(B @ theta) * expit(-(B @ theta))
    batch = make_selector("apo").select(state, 12, 0)
    assert batch.expanded().tolist() == naive_picks(B, H_of(state, B, theta), 12, curvature=s)


def test_greedy_logdet_maximises_the_log_det_gain(labelled):
    state, B, theta = labelled
    s = expit(B @ theta) * expit(-(B @ theta))
    picks = GreedyLogDetSelector().select(state, 12, 0).expanded().tolist()
    assert picks == naive_picks(B, H_of(state, B, theta), 12, curvature=s, weighted=True)
    # each pick is the largest gain log det(H + v v^T) - log det H among the candidates left
    H = H_of(state, B, theta)
    gains = [np.linalg.slogdet(H + s[k] * np.outer(B[k], B[k]))[1] - np.linalg.slogdet(H)[1]
             for k in range(B.shape[0])]
    assert picks[0] == int(np.argmax(gains))


def test_min_margin_and_certainty_rank_by_the_predicted_gap(labelled):
    state, B, theta = labelled
    gap = np.abs(B @ theta)
    ent = MinMarginSelector().select(state, 10, 0).pairs
    cer = CertaintySelector().select(state, 10, 0).pairs
    assert np.sort(gap[ent]).max() <= np.sort(gap)[9] + 1e-9
    assert np.sort(gap[cer]).min() >= np.sort(gap)[::-1][9] - 1e-9
    # with no labels every gap is 0: a random, seed-determined, duplicate-free batch
    bare = SelectionState(state.pool, state.features)
    a, b = MinMarginSelector().select(bare, 10, 1), MinMarginSelector().select(bare, 10, 2)
    assert not np.array_equal(np.sort(a.pairs), np.sort(b.pairs))


def test_entropy_is_a_deprecated_alias_of_min_margin(labelled):
    state, _, _ = labelled
    with pytest.warns(DeprecationWarning, match="min_margin"):
        old = make_selector("entropy")
    assert np.array_equal(old.select(state, 10, 3).pairs, make_selector("min_margin").select(state, 10, 3).pairs)


@pytest.mark.parametrize("name", ["apo", "apo_practical", "greedy_logdet", "min_margin", "certainty", "maxinp",
                                  "colstim", "dts"])
def test_online_batches_have_no_repeats_and_refuse_more_than_L(name, labelled):
    state, B, _ = labelled
    L = B.shape[0]
    batch = make_selector(name).select(state, L, 0)  # every candidate exactly once
    assert np.array_equal(np.sort(batch.pairs), np.arange(L)) and np.all(batch.counts == 1)
    with pytest.raises(SelectorError, match="at most"):
        make_selector(name).select(state, L + 1, 0)


@pytest.mark.parametrize("name", ["apo", "apo_practical", "greedy_logdet", "min_margin", "certainty", "maxinp",
                                  "colstim", "dts"])
def test_update_and_state_labels_are_the_same_information(name, labelled):
    state, _, _ = labelled
    via_state = make_selector(name).select(state, 15, 9)
    sel = make_selector(name)
    half = len(state.labels) // 2
    for part in (slice(0, half), slice(half, None)):
        sel.update(None, Labels(state.labels.pairs[part], state.labels.y[part]))
    via_update = sel.select(SelectionState(state.pool, state.features), 15, 9)
    assert np.array_equal(via_state.expanded(), via_update.expanded())
