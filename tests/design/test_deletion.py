"""Harman–Pronzato deletion: closed forms, and (hypothesis) it never removes a support point of the
optimum, which is taken from an independent cvxpy solve (points with weight and g = d)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duelbandit.design import optimal_design
from duelbandit.design.deletion import deletable, deletion_threshold
from tests.design.design_oracles import cvx_optimum, np_leverages, random_candidates


def test_threshold_closed_forms():
    assert deletion_threshold(0.0, 7) == pytest.approx(7.0)  # at the optimum only g = d can carry weight
    d, eps = 64, 0.064  # max g / d = 1.001
    expected = d * (1 + eps / 2 - np.sqrt(eps * (4 + eps - 4 / d)) / 2)
    assert deletion_threshold(eps, d) == pytest.approx(expected)
    assert 0.77 * d < expected < 0.79 * d
    hs = [deletion_threshold(e, 10) for e in (0.0, 1e-4, 1e-2, 1.0, 10.0)]
    assert all(a > b for a, b in itertools.pairwise(hs))  # a worse design deletes less
    assert deletion_threshold(1e6, 10) == pytest.approx(1.0, abs=1e-4)  # far from the optimum: g < 1 only
    assert deletion_threshold(-1e-12, 3) == pytest.approx(3.0)  # round-off below d is clipped


def test_deletable_mask_uses_the_global_maximum():
    g = np.array([1.2, 2.9, 3.0])
    assert deletable(g, 3).tolist() == [True, True, False]
    assert not deletable(g, 3, g_max=30.0).any()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), L=st.integers(12, 40), d=st.integers(2, 5),
       decay=st.sampled_from([0.0, 1.0, 2.0]), mix=st.floats(0.0, 1.0))
def test_deletion_never_removes_an_optimal_support_point(seed, L, d, decay, mix):
    B = random_candidates(seed, L, d, decay=decay)
    _, w_opt = cvx_optimum(B)
    support = np.flatnonzero(w_opt > 1e-4 * w_opt.max())
    g_opt = np_leverages(B, w_opt / w_opt.sum())
    assert np.allclose(g_opt[support], d, rtol=1e-3)  # the oracle really is an optimum
    rng = np.random.default_rng(seed)
    # designs from far to close: random, mixtures with the optimum, and a coarse Frank–Wolfe solve
    designs = [rng.dirichlet(np.ones(L)), (1 - mix) * rng.dirichlet(np.ones(L)) + mix * w_opt / w_opt.sum(),
               optimal_design(B, eps=0.05).weights, optimal_design(B, eps=1e-3).weights]
    for w in designs:
        g = np_leverages(B, w)
        assert not deletable(g, d)[support].any()


def test_deletion_bites_near_the_optimum():
    B = random_candidates(0, 400, 4, decay=1.0)
    w = optimal_design(B, eps=1e-4).weights
    dropped = deletable(np_leverages(B, w), 4)
    assert dropped.mean() > 0.5
