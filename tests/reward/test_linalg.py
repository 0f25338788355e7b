"""The blocked Gram matrices against plain numpy products, and the fit on more rows than one block
against scikit-learn (issue 13, item 12)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from duelbandit.reward import BradleyTerry, design_matrix, logistic_hessian, weighted_gram
from duelbandit.reward.linalg import GRAM_BLOCK


@pytest.mark.parametrize("n", [0, 1, GRAM_BLOCK - 1, GRAM_BLOCK, 2 * GRAM_BLOCK + 17])
def test_weighted_gram_equals_the_plain_product(n):
    rng = np.random.default_rng(n)
    X = rng.standard_normal((n, 7))
    c = rng.uniform(0.0, 3.0, n)
    ref = 0.3 * np.eye(7) + np.einsum("s,si,sj->ij", c, X, X)
    np.testing.assert_allclose(weighted_gram(X, c, 0.3), ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(weighted_gram(X, None, 0.3), 0.3 * np.eye(7) + X.T @ X, rtol=1e-12, atol=1e-12)
    # float32 blocks: ~1e-7 relative, and still exactly symmetric
    G32 = weighted_gram(X, c, 0.3, single=True)
    np.testing.assert_allclose(G32, ref, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(ref).max()))
    np.testing.assert_array_equal(G32, G32.T)


def test_signed_weights_take_the_general_product():
    rng = np.random.default_rng(1)
    X, c = rng.standard_normal((50, 3)), rng.standard_normal(50)
    np.testing.assert_allclose(weighted_gram(X, c, 1.0), np.eye(3) + (X * c[:, None]).T @ X, atol=1e-12)


def test_hessian_and_design_matrix_against_numpy():
    rng = np.random.default_rng(2)
    X, th, w = rng.standard_normal((3 * GRAM_BLOCK, 5)), rng.standard_normal(5), rng.uniform(0, 2, 3 * GRAM_BLOCK)
    z = X @ th
    sp = np.exp(-z) / (1 + np.exp(-z)) ** 2
    np.testing.assert_allclose(
        logistic_hessian(th, X, 0.5, w), 0.5 * np.eye(5) + (X * (w * sp)[:, None]).T @ X, rtol=1e-11
    )
    np.testing.assert_allclose(design_matrix(X, 0.5, w), 0.5 * np.eye(5) + (X * w[:, None]).T @ X, rtol=1e-11)


@pytest.mark.parametrize("threads", [None, 1])
def test_fit_on_many_blocks_matches_sklearn(threads):
    # several row blocks, a strong signal (||theta*|| = 3), both BLAS thread settings
    rng = np.random.default_rng(3)
    n, d, lam = 3 * GRAM_BLOCK + 5, 12, 0.5
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    theta = 3.0 * rng.standard_normal(d) / np.sqrt(d)
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ theta))).astype(float)
    with threadpool_limits(limits=threads, user_api="blas"):
        ours = BradleyTerry(lam=lam).fit(X, y)
    ref = LogisticRegression(fit_intercept=False, C=1 / lam, tol=1e-12, max_iter=1000, solver="newton-cholesky")
    ref.fit(X, y)
    assert ours.converged
    np.testing.assert_allclose(ours.coef_, ref.coef_.ravel(), atol=1e-8)


def test_ill_conditioned_fit_still_reaches_the_optimum():
    # cond(H) ~ 1e9: a float32 Hessian alone cannot give Newton steps; the fit must still converge
    rng = np.random.default_rng(4)
    n, d, lam = 2 * GRAM_BLOCK, 6, 1e-6
    X = rng.standard_normal((n, d)) * np.logspace(0, -4, d)
    theta = rng.standard_normal(d)
    theta[-1] = 50.0
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ theta))).astype(float)
    ours = BradleyTerry(lam=lam, max_iter=200).fit(X, y)
    z = X @ ours.coef_
    grad = lam * ours.coef_ - X.T @ (y - 1 / (1 + np.exp(-z)))
    H = lam * np.eye(d) + (X * (np.exp(-z) / (1 + np.exp(-z)) ** 2)[:, None]).T @ X
    assert ours.converged
    # the Newton decrement at the returned point, computed independently in float64
    assert grad @ np.linalg.solve(H, grad) < 1e-8
