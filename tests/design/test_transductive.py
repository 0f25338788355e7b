"""Transductive V-optimal design: certificate against cvxpy, the pool mass, systematic rounding."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest

from duelbandit.design.transductive import (
    pool_mass,
    systematic_counts,
    target_moment,
    v_certificate,
    v_optimal_design,
)
from duelbandit.errors import DesignError
from duelbandit.types import Pool


def cvx_v_optimal(B, Sigma, ridge):
    """min_w tr((ridge I + M(w))^{-1} Sigma) = matrix_frac(S, A(w)) with Sigma = S S^T (Clarabel)."""
    L, d = B.shape
    evals, evecs = np.linalg.eigh(Sigma)
    S = evecs * np.sqrt(np.clip(evals, 0, None))
    A = np.stack([np.outer(b, b).ravel() for b in B], axis=1)
    w = cp.Variable(L, nonneg=True)
    M = cp.reshape(A @ w, (d, d), order="C") + ridge * np.eye(d)
    cp.Problem(cp.Minimize(cp.matrix_frac(S, (M + M.T) / 2)), [cp.sum(w) == 1]).solve(solver="CLARABEL")
    v = np.clip(np.asarray(w.value), 0, None)
    return v / v.sum()


def numpy_phi_q(B, w, Sigma, ridge):
    Ai = np.linalg.inv(ridge * np.eye(B.shape[1]) + (B * w[:, None]).T @ B)
    return np.trace(Ai @ Sigma), np.array([b @ Ai @ Sigma @ Ai @ b for b in B])


@pytest.fixture
def instance():
    gen = np.random.default_rng(5)
    B = gen.normal(size=(35, 4)) * np.array([1.0, 0.6, 0.3, 0.1])
    mass = gen.random(35)
    mass /= mass.sum()
    return B, mass


@pytest.mark.parametrize("ridge", [1e-3, 0.2])
def test_v_optimal_matches_cvxpy_and_its_gap_bounds_the_loss(instance, ridge):
    B, mass = instance
    Sigma = (B * mass[:, None]).T @ B
    design = v_optimal_design(B, Sigma, ridge=ridge, w0=mass, eps=1e-6, max_iter=5000)
    w_ref = cvx_v_optimal(B, Sigma, ridge)
    phi_ref, q_ref = numpy_phi_q(B, w_ref, Sigma, ridge)
    phi, q = numpy_phi_q(B, design.weights, Sigma, ridge)
    assert design.value == pytest.approx(phi, rel=1e-9)
    assert design.gap == pytest.approx(q.max() - design.weights @ q, abs=1e-9)
    assert phi - phi_ref <= design.gap + 1e-6  # convexity: phi(w) - phi* <= gap
    assert phi == pytest.approx(phi_ref, rel=1e-3)
    assert q_ref.max() <= w_ref @ q_ref * (1 + 1e-3)  # equivalence theorem at the oracle optimum


def test_v_optimal_beats_the_start_and_the_d_optimal_design(instance):
    B, mass = instance
    Sigma = (B * mass[:, None]).T @ B
    ridge = 0.01
    design = v_optimal_design(B, Sigma, ridge=ridge, w0=mass, eps=1e-4, max_iter=2000)
    w_d = np.full(35, 1.0 / 35)  # uniform over candidates
    for w in (mass, w_d):
        assert design.value <= numpy_phi_q(B, w, Sigma, ridge)[0] + 1e-12
    assert v_certificate(B, mass, Sigma, ridge)["gap"] > design.gap


def test_pool_mass_is_uniform_over_prompts_then_pairs():
    pool = Pool.from_lists(["a", "b"], [["1", "2"], ["1", "2", "3"]])
    m = pool_mass(pool)
    assert np.allclose(m, [0.5, 1 / 6, 1 / 6, 1 / 6])
    B = np.arange(8.0).reshape(4, 2)
    assert np.allclose(target_moment(B, m), sum(mi * np.outer(b, b) for mi, b in zip(m, B)))


def test_systematic_counts_are_exact_and_unbiased():
    w = np.array([0.05, 0.5, 0.001, 0.449])
    T = 37
    draws = np.array([systematic_counts(w, T, np.random.default_rng(s)) for s in range(3000)])
    assert (draws.sum(axis=1) == T).all()
    assert (draws >= np.floor(T * w)).all() and (draws <= np.ceil(T * w)).all()
    assert np.allclose(draws.mean(axis=0), T * w, atol=0.05)


def test_bad_inputs_are_refused(instance):
    B, mass = instance
    with pytest.raises(DesignError, match="Sigma"):
        v_optimal_design(B, np.eye(3), ridge=0.1)
    with pytest.raises(DesignError, match="ridge"):
        v_optimal_design(B, np.eye(4), ridge=0.0)
    with pytest.raises(DesignError, match="w0"):
        v_optimal_design(B, np.eye(4), ridge=0.1, w0=np.ones(35))
