"""Screening with a full-set certificate: forced multi-round screening with deletion still certifies on
every candidate, the float32/float64 certificate equals the dense one, and auto says what it picked."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from duelbandit.design import certificate, optimal_design
from duelbandit.design.backends import make_candidate_set
from duelbandit.design.leverage import span_basis
from duelbandit.design.optimal import auto_method
from duelbandit.design.screen import certify
from tests.design.design_oracles import np_leverages, np_logdet, random_candidates


@pytest.fixture(scope="module")
def big():
    return random_candidates(0, 6000, 6, decay=1.5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tiny_working_set_forces_rounds_and_still_certifies_on_all(big, dtype):
    design = optimal_design(big, method="screen", eps=1e-6, working=12, dtype=dtype)
    info, c = design.info, design.certificate
    assert info["converged"] and info["rounds"] >= 2 and info["working_set"] > 12
    g = np_leverages(big, design.weights)  # over ALL 6000 candidates, independently
    assert g.max() <= 6 * (1 + 1e-6) * (1 + 1e-9)
    assert c.max_leverage_over_d == pytest.approx(g.max() / 6, rel=1e-9)
    assert c.logdet == pytest.approx(np_logdet(big, design.weights), abs=1e-9)
    assert info["passes"] >= 2


def test_deletion_shrinks_the_passes_without_changing_the_answer(big):
    with_del = optimal_design(big, method="screen", eps=1e-6, working=12)
    without = optimal_design(big, method="screen", eps=1e-6, working=12, delete=False)
    assert with_del.certificate.logdet == pytest.approx(without.certificate.logdet, abs=1e-6)
    assert without.info["deleted"] == 0 and with_del.info["deleted"] > 1000


def test_certify_matches_the_dense_certificate(big):
    w = np.random.default_rng(0).dirichlet(np.ones(40))
    support = np.arange(0, 4000, 100)
    weights = np.zeros(len(big))
    weights[support] = w
    ref = certificate(big, weights)
    span = span_basis(big)
    for dtype in ("float32", "float64"):
        cs = make_candidate_set(big, dtype=dtype)
        c = certify(cs, span.transform, support, w, logdet_shift=span.logdet_shift)
        assert c.max_leverage_over_d == pytest.approx(ref.max_leverage_over_d, rel=1e-10)
        assert c.logdet == pytest.approx(ref.logdet, abs=1e-9)


def test_auto_picks_by_size_and_says_so(big):
    small = random_candidates(1, 300, 4)
    d1 = optimal_design(small, method="auto")
    assert d1.info["auto"]["method"] == "newton" and "L=300" in d1.info["auto"]["why"]
    assert d1.certificate.method == "auto:newton"
    d2 = optimal_design(big[:, :3], method="auto")
    assert d2.info["auto"]["method"] == "screen" and d2.certificate.method == "auto:screen"
    d3 = optimal_design(small, method="auto", reg=0.1)
    assert d3.info["auto"]["method"] == "fw"
    assert auto_method(10**7, 128, reg=0.0, backend="numpy")[0] == "screen"
    assert auto_method(100, 4, reg=0.0, backend="torch")[0] == "screen"


def test_max_rounds_warns_and_still_certifies(big):
    with pytest.warns(RuntimeWarning, match="max_iter"):
        design = optimal_design(big, method="screen", eps=1e-9, working=12, max_iter=1, delete=False)
    g = np_leverages(big, design.weights)
    assert design.certificate.efficiency_lower_bound == pytest.approx(6 / g.max(), rel=1e-9)


def test_rank_deficient_pool_is_projected(big):
    R = np.linalg.qr(np.random.default_rng(2).normal(size=(9, 6)))[0]
    B = big @ R.T  # rank 6 in 9 dims
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        design = optimal_design(B, method="screen", eps=1e-7)
    ref = optimal_design(big, method="screen", eps=1e-7)
    assert design.certificate.dim == 6 and design.certificate.rank_handling.startswith("projected")
    assert design.certificate.logdet == pytest.approx(ref.certificate.logdet, abs=1e-6)


def test_working_set_that_misses_a_direction_is_completed():
    rng = np.random.default_rng(3)
    # 3000 long rows in the first 3 dims, 3000 short rows along the 4th: the largest rows span 3 dims only
    B = np.vstack([np.c_[rng.normal(size=(3000, 3)) * 10, np.zeros(3000)],
                   np.c_[np.zeros((3000, 3)), rng.normal(size=3000) * 0.1]])
    design = optimal_design(B, method="screen", eps=1e-7, working=8)
    g = np_leverages(B, design.weights)
    assert design.certificate.dim == 4 and g.max() <= 4 * (1 + 1e-7) * (1 + 1e-9)
