"""Frank–Wolfe with away steps: Kiefer–Wolfowitz at the stop, closed forms, rank handling, validation.

Comparisons with the cvxpy optimum live in test_cvx.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from duelbandit.design import optimal_design
from duelbandit.design.fw import fw_design, greedy_start
from duelbandit.errors import DesignError
from tests.design.design_oracles import np_leverages, np_logdet, random_candidates


@pytest.mark.parametrize("seed, L, d, decay, eps", [(0, 200, 4, 0.0, 1e-3), (1, 500, 8, 1.5, 1e-4),
                                                    (2, 300, 6, 3.0, 1e-2)])
def test_kiefer_wolfowitz_holds_at_the_stop(seed, L, d, decay, eps):
    B = random_candidates(seed, L, d, decay=decay)
    design = optimal_design(B, method="fw", eps=eps)
    w = design.weights
    assert w.shape == (L,) and (w >= 0).all() and w.sum() == pytest.approx(1.0, abs=1e-12)
    g = np_leverages(B, w)  # independent of the solver's own bookkeeping
    assert g.max() <= (1 + eps) * d * (1 + 1e-9)
    assert w @ g == pytest.approx(d, rel=1e-9)  # sum_i w_i g_i = d
    assert np.count_nonzero(w) <= d * (d + 1) // 2  # Carathéodory-size support from the away steps
    c = design.certificate
    assert c.max_leverage_over_d == pytest.approx(g.max() / d, rel=1e-9)
    assert c.efficiency_lower_bound == pytest.approx(d / g.max(), rel=1e-9)
    assert c.logdet == pytest.approx(np_logdet(B, w), abs=1e-9)
    assert c.support_size == np.count_nonzero(w)
    assert (c.dim, c.method, c.rank_handling) == (d, "fw", "full rank")
    assert c.iterations > 0 and c.seconds > 0
    assert design.info["converged"]


def test_closed_form_unit_vectors_and_interior_points():
    # the cross-polytope {+-e_k} plus points inside it: the D-optimum has M = I/d, log det = -d log d
    d = 5
    rng = np.random.default_rng(0)
    inner = rng.uniform(-1, 1, size=(40, d)) / d
    B = np.vstack([np.eye(d), -np.eye(d), inner])
    design = optimal_design(B, method="fw", eps=1e-8)
    M = B.T @ (design.weights[:, None] * B)
    np.testing.assert_allclose(M, np.eye(d) / d, atol=1e-7)
    assert design.certificate.logdet == pytest.approx(-d * np.log(d), abs=1e-6)
    assert design.weights[2 * d:].sum() < 1e-6  # interior points carry no weight


def test_closed_form_circle():
    # directions on the unit circle: any design with M = I/2 is optimal, log det = -2 log 2
    angles = np.linspace(0, np.pi, 37)[:-1]
    B = np.c_[np.cos(angles), np.sin(angles)]
    design = optimal_design(B, method="fw", eps=1e-9)
    assert design.certificate.logdet == pytest.approx(-2 * np.log(2), abs=1e-8)


def test_one_dimension_puts_all_weight_on_the_largest_candidates():
    B = np.array([[0.5], [-2.0], [1.0], [2.0]])
    design = optimal_design(B, method="fw")
    assert design.weights[[0, 2]].sum() == 0
    assert design.certificate.logdet == pytest.approx(np.log(4.0))


def test_away_and_drop_steps_are_taken_and_shrink_support():
    B = random_candidates(3, 2000, 6, decay=1.0)
    design = optimal_design(B, method="fw", eps=1e-6)
    info = design.info
    assert info["toward"] > 0 and info["away"] + info["drop"] > 0
    assert design.certificate.support_size <= 21


def test_affine_invariance():
    # D-optimal designs are invariant under b -> A^T b: same efficiency, log det shifted by 2 log|det A|
    B = random_candidates(4, 150, 4)
    A = np.random.default_rng(1).normal(size=(4, 4))
    c1 = optimal_design(B, method="fw", eps=1e-9).certificate
    c2 = optimal_design(B @ A, method="fw", eps=1e-9).certificate
    assert c2.logdet == pytest.approx(c1.logdet + 2 * np.log(abs(np.linalg.det(A))), abs=1e-6)


def test_rank_deficient_candidates_are_projected():
    rng = np.random.default_rng(5)
    Z = rng.normal(size=(120, 3))
    R = np.linalg.qr(rng.normal(size=(8, 3)))[0]
    B = Z @ R.T  # rank 3 in 8 dims
    design = optimal_design(B, method="fw", eps=1e-6)
    c = design.certificate
    assert c.dim == 3 and c.rank_handling == "projected onto rank 3 span of 8 dims"
    assert design.info["basis"].shape == (8, 3)
    g = np_leverages(Z, design.weights)  # leverages in the span equal those of the generating Z
    assert g.max() <= 3 * (1 + 1e-6) * (1 + 1e-9)
    assert c.logdet == pytest.approx(np_logdet(Z, design.weights), abs=1e-9)


def test_ridge_option_adds_lambda_identity():
    rng = np.random.default_rng(6)
    B = np.c_[rng.normal(size=(60, 2)), np.zeros(60)]  # rank 2 of 3
    lam = 0.05
    design = optimal_design(B, method="fw", reg=lam, eps=1e-6)
    c = design.certificate
    assert c.rank_handling.startswith("regularised") and c.dim == 3
    w = design.weights
    g = np_leverages(B, w, reg=lam)
    A_inv = np.linalg.inv(B.T @ (w[:, None] * B) + lam * np.eye(3))
    # first-order optimality of log det(lambda I + M(w)): max g <= sum w g (1 + tiny) up to eps d
    assert g.max() - w @ g <= 1e-6 * 3 * (1 + 1e-6)
    assert c.efficiency_lower_bound == pytest.approx(3 / (g.max() + lam * np.trace(A_inv)), rel=1e-9)
    assert c.logdet == pytest.approx(np_logdet(B, w, reg=lam), abs=1e-9)


def test_max_iter_returns_a_certified_design_with_a_warning():
    B = random_candidates(7, 300, 6)
    with pytest.warns(RuntimeWarning, match="max_iter"):
        design = optimal_design(B, method="fw", eps=1e-9, max_iter=5)
    assert not design.info["converged"] and design.certificate.iterations == 5
    g = np_leverages(B, design.weights)
    assert design.certificate.efficiency_lower_bound == pytest.approx(6 / g.max(), rel=1e-9)


def test_verbose_progress_bar_and_float32_input():
    B = random_candidates(8, 400, 5).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        design = optimal_design(B, method="fw", verbose=True, refresh=7)
    assert design.certificate.max_leverage_over_d <= 1 + 1e-3 + 1e-9


def test_greedy_start_is_a_nonsingular_saturated_design():
    B = random_candidates(9, 100, 5, decay=2.0)
    picked = greedy_start(B, 5)
    assert picked.size == 5 and np.unique(picked).size == 5
    assert np.linalg.matrix_rank(B[picked]) == 5
    assert picked[0] == np.argmax((B**2).sum(1))


def test_fw_design_refuses_deficient_working_matrix():
    with pytest.raises(DesignError, match="span only 1 of 2"):
        fw_design(np.array([[1.0, 0.0], [2.0, 0.0]]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "rex?"}, "method"),
        ({"eps": 0.0}, "eps"),
        ({"eps": float("nan")}, "eps"),
        ({"reg": -1.0}, "reg"),
        ({"max_iter": -1}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"rank_tol": 2.0}, "rank_tol"),
    ],
)
def test_bad_parameters_raise_design_error(kwargs, match):
    with pytest.raises(DesignError, match=match):
        optimal_design(np.eye(3), **{"method": "fw", **kwargs})


@pytest.mark.parametrize(
    "bad, match",
    [(np.ones(4), "2-d"), (np.zeros((0, 2)), "at least one"), (np.full((3, 2), np.nan), "finite"),
     (np.zeros((3, 2)), "zero")],
)
def test_bad_candidates_raise_design_error(bad, match):
    with pytest.raises(DesignError, match=match):
        optimal_design(bad, method="fw")
