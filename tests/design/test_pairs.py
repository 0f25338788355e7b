"""Pair-shared leverages and Gram matrix against the materialised (L, d) differences (dense numpy)."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.design import optimal_design
from duelbandit.design.pairs import check_pairs, pair_differences, pair_gram, pair_leverages
from duelbandit.errors import DesignError
from duelbandit.types import Features
from duelbandit.data.synthetic import make_synthetic_pool


@pytest.fixture(scope="module")
def pool():
    sp = make_synthetic_pool(60, (2, 6), 5, kind="anisotropic", rng=3)
    return sp.features.X, sp.pool.pairs()


def test_pair_leverages_match_dense_rows_across_blocks(pool):
    X, cand = pool
    B = X[cand.i] - X[cand.j]
    W = np.random.default_rng(0).normal(size=(5, 4))
    dense = np.einsum("ij,ij->i", B @ W, B @ W)
    for chunk in (7, 64, 10_000):  # block boundaries cut prompts in two
        np.testing.assert_allclose(pair_leverages(X, cand.i, cand.j, W, chunk=chunk), dense, rtol=1e-12)
    # b^T P b = q_i + q_j - 2 a_i^T P a_j, the identity the pass implements in factored form
    P = W @ W.T
    q = np.einsum("ij,jk,ik->i", X, P, X)
    cross = np.einsum("ij,jk,ik->i", X[cand.i], P, X[cand.j])
    np.testing.assert_allclose(q[cand.i] + q[cand.j] - 2 * cross, dense, rtol=1e-9, atol=1e-12)


def test_pair_leverages_on_scattered_subsets(pool):
    X, cand = pool
    rng = np.random.default_rng(1)
    index = np.sort(rng.choice(len(cand), size=40, replace=False))
    W = rng.normal(size=(5, 5))
    B = pair_differences(X, cand.i, cand.j, index)
    expected = np.einsum("ij,ij->i", B @ W, B @ W)
    np.testing.assert_allclose(pair_leverages(X, cand.i, cand.j, W, index=index, chunk=8), expected, rtol=1e-12)
    # pairs far apart in the response order take the distinct-responses branch
    i, j = np.array([0, 200, 5]), np.array([220, 1, 210])
    B = X[i] - X[j]
    np.testing.assert_allclose(pair_leverages(X, i, j, W, chunk=2), np.einsum("ij,ij->i", B @ W, B @ W),
                               rtol=1e-12)


def test_pair_gram_matches_dense_even_with_a_large_offset(pool):
    X, cand = pool
    B = X[cand.i] - X[cand.j]
    for block in (7, 1 << 16):  # blocks of responses cut prompts in two
        np.testing.assert_allclose(pair_gram(X, cand.i, cand.j, block=block), B.T @ B, rtol=1e-10, atol=1e-12)
    w = np.random.default_rng(2).random(len(cand))
    np.testing.assert_allclose(pair_gram(X, cand.i, cand.j, w), B.T @ (w[:, None] * B), rtol=1e-10, atol=1e-12)
    # differences are shift invariant; the per-response form must not lose them to cancellation
    np.testing.assert_allclose(pair_gram(X + 1e4, cand.i, cand.j), B.T @ B, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("method", ["fw", "newton", "screen", "rex", "auto"])
def test_optimal_design_on_pairs_equals_design_on_differences(pool, method):
    X, cand = pool
    B = X[cand.i] - X[cand.j]
    from_pairs = optimal_design(X, pairs=cand, method=method, eps=1e-7)
    from_rows = optimal_design(B, method=method, eps=1e-7)
    a, b = from_pairs.certificate, from_rows.certificate
    assert a.logdet == pytest.approx(b.logdet, abs=1e-6)
    assert a.efficiency_lower_bound >= 1 / (1 + 1e-7) - 1e-9
    assert from_pairs.weights.shape == (len(cand),)


def test_pairs_accepts_tuples_arrays_and_features(pool):
    X, cand = pool
    ref = optimal_design(X, pairs=cand, method="screen", eps=1e-6).certificate.logdet
    for pairs in ((cand.i, cand.j), np.c_[cand.i, cand.j]):
        assert optimal_design(X, pairs=pairs, method="screen", eps=1e-6).certificate.logdet == pytest.approx(ref)
    feats = Features(X=X, name="f")
    assert optimal_design(feats, pairs=cand, method="screen", eps=1e-6).certificate.logdet == pytest.approx(ref)


@pytest.mark.parametrize(
    "pairs, match",
    [
        (np.array([[0, 1, 2]]), r"\(L, 2\)"),
        ((np.array([0, 1]), np.array([1])), "equal-length"),
        ((np.array([0.0]), np.array([1.0])), "integer"),
        ((np.array([0]), np.array([99])), r"\[0, 10\)"),
        ((np.array([-1]), np.array([2])), r"\[0, 10\)"),
        ((np.array([3, 4]), np.array([3, 5])), "itself"),
    ],
)
def test_bad_pairs_raise_design_error(pairs, match):
    with pytest.raises(DesignError, match=match):
        check_pairs(pairs, 10)
    with pytest.raises(DesignError, match=match):
        optimal_design(np.eye(10), pairs=pairs)


def test_identical_responses_are_refused():
    X = np.ones((4, 3))
    with pytest.raises(DesignError, match="zero"):
        optimal_design(X, pairs=(np.array([0, 2]), np.array([1, 3])), method="screen")
