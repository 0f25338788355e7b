"""The shared running model: pooled BT fit, V / H, and the in-batch Sherman–Morrison inverse."""

from __future__ import annotations

import numpy as np
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from duelbandit.annotate import Labels
from duelbandit.select import SelectionState
from duelbandit.select.model import RunningInverse, fit_theta, information, labels_in_use
from tests.conftest import random_pool


def test_pooled_fit_equals_scikit_learn_on_the_expanded_labels():
    pool, feats = random_pool(20, (3, 5), 4, seed=2)
    state = SelectionState(pool, feats)
    rng = np.random.default_rng(0)
    pairs = rng.integers(0, pool.n_pairs, size=300)  # many repeats, pooled by the fit
    B = pool.pairs().differences(feats.X)
    y = (rng.random(300) < expit(3 * B[pairs] @ np.array([1.0, -2.0, 0.5, 1.0]))).astype(float)
    theta = fit_theta(state, Labels(pairs, y), B)
    lr = LogisticRegression(fit_intercept=False, C=1 / state.lam, tol=1e-12, max_iter=10_000)
    lr.fit(B[pairs], y)
    np.testing.assert_allclose(theta, lr.coef_[0], atol=1e-6)
    assert np.array_equal(fit_theta(state, None, B), np.zeros(4))


def test_information_matrices_from_their_definitions():
    pool, feats = random_pool(10, (2, 4), 3, seed=5)
    state = SelectionState(pool, feats, lam=0.3)
    B = pool.pairs().differences(feats.X)
    labels = Labels(np.array([0, 2, 2, 5]), np.array([1.0, 0.0, 1.0, 0.5]))
    theta = np.array([0.5, -1.0, 2.0])
    V = 0.3 * np.eye(3) + sum(np.outer(B[p], B[p]) for p in labels.pairs)
    s = expit(B @ theta) * expit(-(B @ theta))
    H = 0.3 * np.eye(3) + sum(s[p] * np.outer(B[p], B[p]) for p in labels.pairs)
    np.testing.assert_allclose(information(state, labels, B), V, atol=1e-12)
    np.testing.assert_allclose(information(state, labels, B, theta), H, atol=1e-12)


def test_running_inverse_tracks_the_exact_inverse_and_leverages():
    rng = np.random.default_rng(1)
    Phi = rng.normal(size=(200, 6))
    A = 0.5 * np.eye(6)
    run = RunningInverse(A, Phi, refresh=7)
    for _ in range(20):
        j, c = int(rng.integers(200)), float(rng.random())
        run.add(j, c)
        A = A + c * np.outer(Phi[j], Phi[j])
        Ainv = np.linalg.inv(A)
        np.testing.assert_allclose(run.A_inv, Ainv, atol=1e-10)
        np.testing.assert_allclose(run.h, np.einsum("ij,jk,ik->i", Phi, Ainv, Phi), atol=1e-10)


def test_state_labels_take_precedence_over_received_ones():
    pool, feats = random_pool(5, (2, 3), 2, seed=0)
    a, b = Labels(np.array([0]), np.array([1.0])), Labels(np.array([1, 1]), np.array([0.0, 1.0]))
    assert labels_in_use(SelectionState(pool, feats, labels=a), [b]) is a
    got = labels_in_use(SelectionState(pool, feats), [b, b])
    assert got.pairs.tolist() == [1, 1, 1, 1]
    assert labels_in_use(SelectionState(pool, feats), []) is None
