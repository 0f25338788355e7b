"""Bayesian D-optimal design: its equivalence-theorem certificate against an independent cvxpy optimum."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from duelbandit.design.bayes import regularised_certificate, regularised_design
from duelbandit.errors import DesignError


def cvx_bayes_d(B: np.ndarray, ridge: float) -> np.ndarray:
    """argmax_w log det(ridge I + sum_i w_i b_i b_i^T) on the simplex, affine form (spec §2), Clarabel."""
    L, d = B.shape
    A = np.stack([np.outer(b, b).ravel() for b in B], axis=1)  # (d*d, L)
    w = cp.Variable(L, nonneg=True)
    M = cp.reshape(A @ w, (d, d), order="C") + ridge * np.eye(d)
    cp.Problem(cp.Maximize(cp.log_det((M + M.T) / 2)), [cp.sum(w) == 1]).solve(solver="CLARABEL")
    return np.clip(np.asarray(w.value), 0, None) / np.clip(np.asarray(w.value), 0, None).sum()


def numpy_logdet_and_g(B, w, ridge):
    A = ridge * np.eye(B.shape[1]) + (B * w[:, None]).T @ B
    Ai = np.linalg.inv(A)
    return np.linalg.slogdet(A)[1], np.array([b @ Ai @ b for b in B])


@pytest.mark.parametrize("ridge", [0.02, 0.3])
def test_certificate_bounds_the_distance_to_the_cvxpy_optimum(ridge):
    B = np.random.default_rng(4).normal(size=(40, 5)) * np.array([1.0, 0.7, 0.4, 0.2, 0.05])
    design = regularised_design(B, ridge, eps=1e-6)
    cert = design.info["certificate"]
    w_ref = cvx_bayes_d(B, ridge)
    f_ref, g_ref = numpy_logdet_and_g(B, w_ref, ridge)
    f, g = numpy_logdet_and_g(B, design.weights, ridge)
    # the reported numbers are those of the weights (recomputed here with plain numpy)
    assert cert["logdet"] == pytest.approx(f, abs=1e-9)
    assert cert["max_g"] == pytest.approx(g.max(), abs=1e-9)
    assert cert["center"] == pytest.approx(design.weights @ g, abs=1e-9)
    # concavity bound: f* - f(w) <= gap; and the solve reached the optimum
    assert f_ref - f <= cert["gap"] + 1e-6
    assert abs(f_ref - f) < 1e-4
    assert cert["gap"] <= 1e-6 * 5 + 1e-9
    # the equivalence theorem at the oracle's optimum: max g <= sum w g
    assert g_ref.max() <= (w_ref @ g_ref) * (1 + 1e-3)  # up to the conic solver's accuracy


def test_gap_is_positive_away_from_the_optimum_and_bounds_the_loss():
    B = np.random.default_rng(2).normal(size=(30, 4))
    ridge = 0.1
    w = np.zeros(30)
    w[:4] = 0.25  # a poor design
    cert = regularised_certificate(B, w, ridge)
    f_ref, _ = numpy_logdet_and_g(B, cvx_bayes_d(B, ridge), ridge)
    assert cert["gap"] > 0.05
    assert f_ref - cert["logdet"] <= cert["gap"] + 1e-6


def test_large_ridge_spreads_and_small_ridge_recovers_d_optimal():
    B = np.random.default_rng(7).normal(size=(60, 3)) * np.array([1.0, 0.5, 0.1])
    small = regularised_design(B, 1e-8, eps=1e-7).weights
    # D-optimal reference: the unregularised cvxpy optimum, by log det M(w)
    w_d = cvx_bayes_d(B, 0.0)
    ld = lambda w: np.linalg.slogdet((B * w[:, None]).T @ B)[1]  # noqa: E731
    assert ld(small) >= ld(w_d) - 1e-4
    big = regularised_design(B, 1e3, eps=1e-9).weights
    # a ridge far above M(w) turns log det into d log ridge + tr(M(w)) / ridge + O(ridge^-2): the mass goes
    # to the longest rows (tr M(w) = sum_i w_i ||b_i||^2)
    sq = np.einsum("ij,ij->i", B, B)
    assert big @ sq >= 0.99 * sq.max()


def test_bad_ridge_is_refused():
    with pytest.raises(DesignError, match="ridge"):
        regularised_design(np.eye(3), 0.0)
