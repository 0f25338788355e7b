"""All solvers against an independent cvxpy optimum (built in design_oracles, naive form, Clarabel)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from duelbandit.design import certificate, optimal_design
from duelbandit.errors import DesignError
from tests.design.design_oracles import cvx_optimum, np_leverages, np_logdet, random_candidates


def test_fw_matches_cvxpy_logdet(small_instances):
    for B, opt in small_instances:
        design = optimal_design(B, eps=1e-6)
        assert design.certificate.logdet == pytest.approx(opt, rel=1e-4)
        assert design.certificate.logdet >= opt - 1e-6 * abs(opt) - 1e-7  # and not below it by more


def test_cvxpy_method_affine_form_matches_naive_form(small_instances):
    for B, opt in small_instances:
        for solver, rel in (("clarabel", 1e-6), ("scs", 1e-3)):
            design = optimal_design(B, method="cvxpy", solver=solver)
            assert design.certificate.method == f"cvxpy/{solver}"
            assert design.certificate.logdet == pytest.approx(opt, rel=rel)
            w = design.weights
            assert w.shape == (B.shape[0],) and (w >= 0).all() and w.sum() == pytest.approx(1.0)


def test_multiplicative_converges_towards_the_same_logdet(small_instances):
    for B, opt in small_instances:
        d = B.shape[1]
        design = optimal_design(B, method="mult", eps=1e-4)
        # Kiefer–Wolfowitz: log det* - log det(w) <= d log(max g / d) <= d log(1 + eps)
        assert opt - d * np.log1p(1e-4) - 1e-7 <= design.certificate.logdet <= opt + 1e-6
        assert np_leverages(B, design.weights).max() <= d * (1 + 1e-4) * (1 + 1e-9)


def test_certificate_never_overstates_efficiency(small_instances):
    rng = np.random.default_rng(0)
    for B, opt in small_instances:
        d = B.shape[1]
        designs = [optimal_design(B, eps=eps).weights for eps in (0.5, 0.05, 1e-3)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            designs.append(optimal_design(B, method="mult", max_iter=3).weights)
        designs += [rng.dirichlet(np.ones(B.shape[0])) for _ in range(3)]
        for w in designs:
            true_efficiency = np.exp((np_logdet(B, w) - opt) / d)
            assert certificate(B, w).efficiency_lower_bound <= true_efficiency * (1 + 1e-6)


def test_rank_deficient_projection_matches_cvxpy_in_the_span():
    rng = np.random.default_rng(11)
    Z = rng.normal(size=(50, 3)) * [1.0, 0.3, 0.1]
    R = np.linalg.qr(rng.normal(size=(6, 3)))[0]
    B = Z @ R.T
    opt = cvx_optimum(Z)[0]  # log det in an orthonormal basis of the span
    for method in ("fw", "cvxpy"):
        design = optimal_design(B, method=method, eps=1e-7)
        assert design.certificate.dim == 3
        assert design.certificate.logdet == pytest.approx(opt, rel=1e-4)


def test_ridge_matches_cvxpy_with_ridge():
    B = random_candidates(12, 40, 3, decay=1.0)
    lam = 0.2
    opt = cvx_optimum(B, reg=lam)[0]
    for method, eps in (("fw", 1e-7), ("cvxpy", 1e-3), ("mult", 1e-5)):
        design = optimal_design(B, method=method, reg=lam, eps=eps)
        assert design.certificate.logdet == pytest.approx(opt, rel=1e-4)
        true_efficiency = np.exp((np_logdet(B, design.weights, reg=lam) - opt) / 3)
        assert design.certificate.efficiency_lower_bound <= true_efficiency * (1 + 1e-6)


def test_unknown_cvxpy_solver():
    with pytest.raises(DesignError, match="solver"):
        optimal_design(np.eye(2), method="cvxpy", solver="mosek?")
