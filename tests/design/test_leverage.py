"""Leverages, span and certificate against closed forms and dense numpy."""

from __future__ import annotations

import numpy as np
import pytest

import duelbandit.design.leverage as lev
from duelbandit.design import certificate, information_matrix, leverages, span_basis
from duelbandit.errors import DesignError
from tests.design.design_oracles import np_leverages, random_candidates


def test_leverages_match_dense_formula_across_chunks(monkeypatch):
    B = random_candidates(0, 103, 4, decay=1.0)
    w = np.random.default_rng(1).random(103)
    w /= w.sum()
    M_inv = np.linalg.inv(B.T @ (w[:, None] * B))
    monkeypatch.setattr(lev, "CHUNK", 10)  # exercise the block boundaries
    g = leverages(B, M_inv)
    np.testing.assert_allclose(g, np.einsum("ij,jk,ik->i", B, M_inv, B), rtol=1e-12)
    # Kiefer–Wolfowitz identity sum_i w_i g_i = tr(M^{-1} M) = d for every nonsingular design
    assert w @ g == pytest.approx(4.0, rel=1e-12)


def test_information_matrix_with_ridge():
    B = random_candidates(2, 20, 3)
    w = np.random.default_rng(0).random(20)
    w[::3] = 0
    np.testing.assert_allclose(information_matrix(B, w, reg=0.5), B.T @ np.diag(w) @ B + 0.5 * np.eye(3))


def test_certificate_closed_form_optimum_and_known_suboptimal():
    d = 4
    B = np.vstack([np.eye(d), 0.5 * np.eye(d)])
    # uniform on the unit vectors is D-optimal: M = I/d, every g = d
    w_opt = np.r_[np.ones(d), np.zeros(d)] / d
    c = certificate(B, w_opt)
    assert c.max_leverage_over_d == pytest.approx(1.0)
    assert c.efficiency_lower_bound == pytest.approx(1.0)
    assert c.logdet == pytest.approx(-d * np.log(d))
    assert (c.support_size, c.dim, c.rank_handling) == (d, d, "full rank")
    # uniform on all rows: M = (1 + 1/4) / (2d) I, g_max = 1.6 d; M is proportional to M*, so the bound is
    # the true efficiency 0.625
    c = certificate(B, np.ones(2 * d))
    assert c.max_leverage_over_d == pytest.approx(1.6)
    assert c.efficiency_lower_bound == pytest.approx(0.625)
    assert c.logdet == pytest.approx(d * np.log(0.625 / d))


def test_certificate_projects_rank_deficient_candidates():
    d, D = 3, 7
    R = np.linalg.qr(np.random.default_rng(3).normal(size=(D, d)))[0]  # orthonormal columns
    B = np.vstack([np.eye(d), 0.5 * np.eye(d)]) @ R.T
    c = certificate(B, np.r_[np.ones(d), np.zeros(d)])
    assert c.dim == d
    assert c.rank_handling == f"projected onto rank {d} span of {D} dims"
    assert c.efficiency_lower_bound == pytest.approx(1.0)
    assert c.logdet == pytest.approx(-d * np.log(d))  # log det is basis-free on the span


def test_certificate_of_singular_design_is_zero_efficiency():
    B = np.eye(3)
    c = certificate(B, np.array([1.0, 1.0, 0.0]))
    assert c.efficiency_lower_bound == 0.0
    assert c.max_leverage_over_d == np.inf
    assert c.logdet == -np.inf


def test_ridge_certificate_formula():
    B = random_candidates(4, 30, 3, decay=1.0)
    w = np.random.default_rng(5).random(30)
    w /= w.sum()
    lam = 0.3
    A = B.T @ (w[:, None] * B) + lam * np.eye(3)
    g = np_leverages(B, w, reg=lam)
    c = certificate(B, w, reg=lam)
    assert c.max_leverage_over_d == pytest.approx(g.max() / 3)
    assert c.efficiency_lower_bound == pytest.approx(3 / (g.max() + lam * np.trace(np.linalg.inv(A))))
    assert c.logdet == pytest.approx(np.linalg.slogdet(A)[1])
    assert c.rank_handling.startswith("regularised")


def test_span_basis_finds_rank_and_orthonormal_basis():
    rng = np.random.default_rng(6)
    B = rng.normal(size=(50, 4)) @ rng.normal(size=(4, 9))
    span = span_basis(B)
    assert span.rank == 4 and span.dim == 9
    np.testing.assert_allclose(span.Q.T @ span.Q, np.eye(4), atol=1e-12)
    np.testing.assert_allclose(B @ span.Q @ span.Q.T, B, atol=1e-9)
    np.testing.assert_allclose(span.s, np.linalg.svd(B, compute_uv=False)[:4], rtol=1e-9)
    Bw = span.whiten(B)
    np.testing.assert_allclose(Bw.T @ Bw / 50, np.eye(4), atol=1e-9)


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([1.0, 2.0]), "2-d"),
        (np.zeros((0, 3)), "at least one candidate"),
        (np.zeros((4, 0)), "at least one candidate"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), r"finite.*row 0, column 1"),
        (np.array([[1.0, 0.0], [np.inf, 1.0]]), r"finite.*row 1, column 0"),
        (np.zeros((5, 2)), "all 5 candidates are zero"),
        ([["a", "b"]], "numeric"),
    ],
)
def test_certificate_rejects_bad_candidates(bad, match):
    with pytest.raises(DesignError, match=match):
        certificate(bad, np.ones(np.shape(bad)[0] if np.ndim(bad) else 1))


@pytest.mark.parametrize("w, match", [(np.array([1.0, -1.0]), "nonnegative"), (np.zeros(2), "positive"),
                                      (np.ones(3), r"shape \(2,\)")])
def test_certificate_rejects_bad_weights(w, match):
    with pytest.raises(DesignError, match=match):
        certificate(np.eye(2), w)


def test_span_rejects_bad_tolerance():
    with pytest.raises(DesignError, match="rank_tol"):
        span_basis(np.eye(2), rank_tol=0.0)
