"""REX: the pair exchange against a brute-force line search and a dense inverse, the greedy start, and
the whole algorithm against the cvxpy optimum."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.design import optimal_design
from duelbandit.design.backends import make_candidate_set
from duelbandit.design.fw import greedy_start
from duelbandit.design.leverage import span_basis
from duelbandit.design.rex import _exchange_batch, greedy_start_set
from tests.design.design_oracles import np_leverages, np_logdet, random_candidates


def _logdet(B, w):
    return np.linalg.slogdet(B.T @ (w[:, None] * B))[1]


@pytest.mark.parametrize("k, l", [(0, 6), (1, 2), (5, 7), (2, 0)])
def test_pair_exchange_is_the_exact_line_search(k, l):
    rng = np.random.default_rng(k + 10 * l)
    B = rng.normal(size=(8, 4))
    w = np.r_[rng.dirichlet(np.ones(6)), 0.0, 0.0]
    Minv = np.asfortranarray(np.linalg.inv(B.T @ (w[:, None] * B)))
    w_new = w.copy()
    _exchange_batch(B, w_new, Minv, [(k, l)])
    alpha = w[k] - w_new[k]
    assert w_new.sum() == pytest.approx(1.0) and (w_new >= 0).all()
    grid = np.linspace(-w[l], w[k], 4001)  # every feasible move of weight from k to l
    best = max(_logdet(B, np.where(np.arange(8) == k, w[k] - a, np.where(np.arange(8) == l, w[l] + a, w)))
               for a in grid)
    assert _logdet(B, w_new) >= best - 1e-6
    # det ratio formula and the Woodbury update of M^{-1} (upper triangle, as the BLAS kernels keep it)
    M = B.T @ (w[:, None] * B)
    dk, dl, dkl = (np.linalg.solve(M, B[k]) @ B[k], np.linalg.solve(M, B[l]) @ B[l],
                   np.linalg.solve(M, B[l]) @ B[k])
    rho = (1 + alpha * dl) * (1 - alpha * dk) + alpha**2 * dkl**2
    assert _logdet(B, w_new) - _logdet(B, w) == pytest.approx(np.log(rho), abs=1e-10)
    np.testing.assert_allclose(np.triu(Minv), np.triu(np.linalg.inv(B.T @ (w_new[:, None] * B))), atol=1e-9)


def test_parallel_candidates_move_all_weight_to_the_larger():
    B = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    w = np.array([0.5, 0.0, 0.5])
    Minv = np.asfortranarray(np.linalg.inv(B.T @ (w[:, None] * B)))
    _exchange_batch(B, w, Minv, [(0, 1), (1, 1)])  # (1, 1) is a no-op
    np.testing.assert_allclose(w, [0.0, 0.5, 0.5])


def test_greedy_start_on_a_candidate_set_matches_the_dense_one():
    B = random_candidates(1, 300, 6, decay=1.5)
    T = span_basis(B).transform
    Bw = B @ T
    for pairs in (False, True):
        if pairs:
            X = np.vstack([B, np.zeros((1, 6))])
            cs = make_candidate_set(X, (np.arange(300), np.full(300, 300)), dtype="float64")
        else:
            cs = make_candidate_set(B, dtype="float64")
        picked = greedy_start_set(cs, T, np.einsum("ij,ij->i", Bw, Bw))
        np.testing.assert_array_equal(picked, greedy_start(Bw, 6))


def test_rex_matches_cvxpy_and_reports_its_work(small_instances):
    for B, opt in small_instances:
        d = B.shape[1]
        design = optimal_design(B, method="rex", eps=1e-8)
        c = design.certificate
        assert c.method == "rex" and design.info["converged"]
        assert c.logdet == pytest.approx(opt, rel=1e-6, abs=1e-7)  # cvxpy is accurate to ~1e-7 relative
        assert np_leverages(B, design.weights).max() <= d * (1 + 1e-8) * (1 + 1e-9)
        assert design.info["exchanges"] > 0 and design.info["passes"] >= 2


def test_rex_with_deletion_and_rng_is_reproducible():
    B = random_candidates(5, 3000, 6, decay=1.0)
    a = optimal_design(B, method="rex", eps=1e-6, delete=True, rng=3)
    b = optimal_design(B, method="rex", eps=1e-6, delete=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.certificate.logdet == pytest.approx(np_logdet(B, a.weights), abs=1e-9)
    assert a.certificate.efficiency_lower_bound >= 1 / (1 + 1e-6) - 1e-12
