"""Rounding to exactly T labels: budgets, the (T - p) leverage bound with an independently built V,
efficient apportionment's characterisation, reproducible iid draws, fallbacks and validation."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.design import Rounding, optimal_design, round_design
from duelbandit.errors import DesignError
from tests.design.design_oracles import np_leverages, random_candidates


def max_leverage_under_counts(B: np.ndarray, counts: np.ndarray) -> float:
    """max_b b^T V^+ b with V = sum_b n_b b b^T, a dense pseudo-inverse (valid on span(B))."""
    V = B.T @ (counts[:, None] * B)
    return float(np.einsum("ij,jk,ik->i", B, np.linalg.pinv(V, rcond=1e-10), B).max())


@pytest.fixture(scope="module")
def instance():
    B = random_candidates(0, 300, 5, decay=1.0)
    return B, optimal_design(B, eps=1e-3)


@pytest.mark.parametrize("extra", [0, 1, 7, 40, 1000])
def test_guarantee_spends_exactly_T_and_keeps_the_bound(instance, extra):
    B, design = instance
    p = design.certificate.support_size
    T = p + extra
    r = round_design(design, T, B=B)
    assert isinstance(r, Rounding) and r.counts.dtype == np.int64
    assert r.counts.sum() == T and (r.counts >= 0).all()
    w = design.weights
    assert (r.counts >= np.ceil((T - p) * w - 1e-9)).all()  # n_b >= (T - p) w_b, so V >= (T - p) M(w)
    if T > p:
        g_max = np_leverages(B, w).max()
        realised = max_leverage_under_counts(B, r.counts)
        assert realised <= g_max / (T - p) * (1 + 1e-9)
        assert r.info["bound"] == pytest.approx(g_max / (T - p), rel=1e-9)
        assert r.info["max_leverage"] == pytest.approx(realised, rel=1e-8)


def test_leftover_goes_greedily_to_the_largest_leverage(instance):
    B, design = instance
    p = design.certificate.support_size
    T = 3 * p + 5
    w = design.weights
    base = np.where(w > 0, np.ceil((T - p) * w), 0)
    r = round_design(design, T, B=B)
    # replay the greedy rule with dense inverses
    n = base.copy()
    for _ in range(T - int(base.sum())):
        V_inv = np.linalg.inv(B.T @ (n[:, None] * B))
        n[np.argmax(np.einsum("ij,jk,ik->i", B, V_inv, B))] += 1
    np.testing.assert_array_equal(r.counts, n)
    assert r.info["leftover"] == T - base.sum()


def test_guarantee_without_B_uses_the_apportionment_increment(instance):
    _, design = instance
    T = design.certificate.support_size * 2 + 3
    r = round_design(design.weights, T)
    assert r.counts.sum() == T and r.info["bound"] is None and "no B" in r.info["leftover_rule"]
    assert set(np.flatnonzero(r.counts)) == set(np.flatnonzero(design.weights))
    # with a Design (not bare weights) the bound comes from its certificate
    p = design.certificate.support_size
    g_max = design.certificate.max_leverage_over_d * design.certificate.dim
    assert round_design(design, T).info["bound"] == pytest.approx(g_max / (T - p))


def test_rank_deficient_bound_holds_in_the_span():
    rng = np.random.default_rng(1)
    Z = rng.normal(size=(150, 3))
    B = Z @ np.linalg.qr(rng.normal(size=(7, 3)))[0].T
    design = optimal_design(B)
    p = design.certificate.support_size
    T = p + 25
    r = round_design(design, T, B=B)
    assert r.counts.sum() == T
    assert max_leverage_under_counts(B, r.counts) <= np_leverages(Z, design.weights).max() / (T - p) * (1 + 1e-9)


@pytest.mark.parametrize("T_offset", [0, 1, 3, 50, 333])
def test_pukelsheim_spends_exactly_T_and_is_an_efficient_apportionment(instance, T_offset):
    _, design = instance
    w = design.weights
    s = np.flatnonzero(w)
    T = s.size + T_offset
    r = round_design(design, T, method="pukelsheim")
    n = r.counts
    assert n.sum() == T and (n[w == 0] == 0).all()
    # Pukelsheim's characterisation: n is efficiently rounded iff max (n_i - 1)/w_i <= min n_j/w_j
    assert ((n[s] - 1) / w[s]).max() <= (n[s] / w[s]).min() * (1 + 1e-12)


def test_iid_is_reproducible_and_spends_T(instance):
    _, design = instance
    a = round_design(design, 500, method="iid", rng=3).counts
    b = round_design(design, 500, method="iid", rng=np.random.default_rng(3)).counts
    c = round_design(design, 500, method="iid", rng=4).counts
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.sum() == 500 and (a[design.weights == 0] == 0).all()


def test_T_below_support_falls_back_to_greedy_logdet(instance):
    B, design = instance
    p = design.certificate.support_size
    T = p - 3
    for method in ("guarantee", "pukelsheim"):
        r = round_design(design, T, B=B, method=method)
        assert r.counts.sum() == T and "greedy log-det" in r.info["fallback"]
    with pytest.raises(DesignError, match="B: the candidates are required"):
        round_design(design, T)


def test_greedy_fallback_matches_a_dense_greedy():
    B = random_candidates(2, 40, 3, decay=1.0)
    w = np.full(40, 1 / 40)  # support 40 > T = 6
    r = round_design(w, 6, B=B)
    # dense replay: argmax b^T V^{-1} b, V = rho B^T B + sum n b b^T; the tiny ridge (a multiple of B^T B,
    # as the whitened coordinates imply) only orders the first d picks
    n = np.zeros(40)
    for _ in range(6):
        V = 1e-10 * B.T @ B + B.T @ (n[:, None] * B)
        n[np.argmax(np.einsum("ij,jk,ik->i", B, np.linalg.inv(V), B))] += 1
    np.testing.assert_array_equal(r.counts, n)
    assert r.info["ridge"] > 0


@pytest.mark.parametrize("method", ["guarantee", "pukelsheim", "iid"])
def test_no_repeats_labels_each_pair_at_most_once(instance, method):
    B, design = instance
    T = design.certificate.support_size + 30
    r = round_design(design, T, B=B, method=method, rng=0, allow_repeats=False)
    assert r.counts.sum() == T and r.counts.max() == 1
    with pytest.raises(DesignError, match="allow_repeats=False needs T <= number of candidates 300"):
        round_design(design, 301, B=B, allow_repeats=False)


def test_design_and_weights_give_the_same_counts(instance):
    B, design = instance
    T = 200
    np.testing.assert_array_equal(round_design(design, T, B=B).counts,
                                  round_design(design.weights, T, B=B).counts)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        ((np.ones(3), 0), {}, "T: expected an integer label budget >= 1, got 0"),
        ((np.ones(3), -2), {}, "T: expected"),
        ((np.ones(3), 2.5), {}, "T: expected"),
        ((np.ones(3), True), {}, "T: expected"),
        ((np.ones(3), 5), {"method": "round"}, "method"),
        ((np.array([1.0, -1.0, 1.0]), 5), {}, "nonnegative"),
        ((np.array([1.0, np.nan, 1.0]), 5), {}, "nonnegative"),
        ((np.ones((3, 1)), 5), {}, "1-d"),
        ((np.ones(3), 5), {"B": np.eye(4)}, "B: expected 3 rows"),
        ((np.ones(3), 5), {"method": "iid"}, "rng"),
    ],
)
def test_bad_inputs_raise_design_error(args, kwargs, match):
    with pytest.raises(DesignError, match=match):
        round_design(*args, **kwargs)
