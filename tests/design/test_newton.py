"""Active-set Newton: the nonnegative QP against scipy's NNLS, KKT at the stop, closed forms and cvxpy."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

from duelbandit.design import optimal_design
from duelbandit.design.newton import newton_design, newton_weights, qp_nonneg
from tests.design.design_oracles import np_leverages, np_logdet, random_candidates


@pytest.mark.parametrize("seed", range(6))
def test_qp_nonneg_matches_nnls(seed):
    rng = np.random.default_rng(seed)
    p = 30
    A = rng.normal(size=(p + 5, p))
    y = rng.normal(size=p + 5)
    # max c.x - x'Hx/2 over x >= 0 with H = A'A, c = A'y  <=>  min ||A x - y|| over x >= 0
    H, c = A.T @ A, A.T @ y
    expected, _ = scipy.optimize.nnls(A, y)
    x0 = np.where(rng.random(p) < 0.5, rng.random(p), 0.0)
    x, solves = qp_nonneg(H, c, x0)
    np.testing.assert_allclose(x, expected, atol=1e-8)
    assert solves >= 1


def test_qp_nonneg_ascends_when_stopped_early():
    rng = np.random.default_rng(7)
    A = rng.normal(size=(60, 50))
    H, c = A.T @ A, A.T @ rng.normal(size=60)
    x0 = np.full(50, 0.1)

    def q(x):
        return c @ x - 0.5 * x @ H @ x

    for k in (1, 2, 3):
        x, _ = qp_nonneg(H, c, x0, max_solves=k)
        assert (x >= 0).all() and q(x) >= q(x0) - 1e-12


def test_newton_weights_reach_kkt_on_a_fixed_support():
    B = random_candidates(0, 12, 3)
    v, C, _kkt = newton_weights(B, np.ones(12), iters=30, tol=1e-12)
    h = np_leverages(B, v)  # h_i = b_i^T M(v)^{-1} b_i for the unnormalised v
    assert (v >= 0).all() and np.allclose(C @ C.T, B.T @ (v[:, None] * B))
    assert np.abs(h[v > 0] - 1).max() < 1e-9 and h.max() < 1 + 1e-9  # KKT: h = 1 on supp, <= 1 off
    assert v.sum() == pytest.approx(3.0)  # the homogeneous optimum has sum v = d


def test_newton_design_closed_form_and_warm_start():
    d = 4
    rng = np.random.default_rng(1)
    B = np.vstack([np.eye(d), -np.eye(d), rng.uniform(-1, 1, size=(30, d)) / d])
    P, w, converged = newton_design(B, eps=1e-12)
    assert converged
    W = np.zeros(len(B))
    W[P] = w
    np.testing.assert_allclose(B.T @ (W[:, None] * B), np.eye(d) / d, atol=1e-10)
    _P2, w2, _ = newton_design(B, eps=1e-12, support=P, weights=3 * w)  # any scale of warm start
    assert np.isclose(w2.sum(), 1.0)


def test_newton_matches_cvxpy_to_high_accuracy(small_instances):
    for B, opt in small_instances:
        design = optimal_design(B, method="newton", eps=1e-10)
        c = design.certificate
        assert c.method == "newton" and design.info["converged"]
        # certified within d * 1e-10 of the optimum: what is left is Clarabel's own tolerance
        assert c.logdet == pytest.approx(opt, rel=1e-6, abs=1e-7)
        assert c.logdet == pytest.approx(np_logdet(B, design.weights), abs=1e-10)
        assert np_leverages(B, design.weights).max() <= B.shape[1] * (1 + 1e-10) * (1 + 1e-9)


def test_newton_handles_exact_duplicates_and_rank_deficiency():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(40, 3))
    B = np.vstack([Z, Z[:10]]) @ np.linalg.qr(rng.normal(size=(6, 3)))[0].T  # rank 3 in 6 dims, 10 repeats
    design = optimal_design(B, method="newton", eps=1e-9)
    assert design.certificate.dim == 3 and design.certificate.efficiency_lower_bound >= 1 / (1 + 1e-9) - 1e-12
