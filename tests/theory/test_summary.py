"""Checks that can fail (issue 13, item 10): on a small well-specified experiment the verification passes,
and each planted error — a biased estimator, Theorem 1 scaled by 0.1, a wrong kappa — makes its check
fail. The experiment is the real pipeline; the errors are planted by replacing one function of
:mod:`duelbandit.theory.runs` (monkeypatch), never by flags in the code under test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import chi2

from duelbandit.data.synthetic import make_synthetic_pool
from duelbandit.theory import runs
from duelbandit.theory.summary import nominal_checks, nominal_coverage

DELTA = 0.05


def _checks() -> tuple[dict, list[dict]]:
    inst = make_synthetic_pool(60, 4, 4, rng=3)
    cells = runs.verify_well_specified(inst, seeds=25, grid_points=3, grid_ratio=100.0, delta=DELTA,
                                       theorem1_factors=(1.25, 4.0))
    return nominal_checks(cells, DELTA), cells


@pytest.fixture(scope="module")
def clean():
    return _checks()


def test_the_clean_pipeline_passes_every_check(clean):
    r, cells = clean
    nom = r["nominal_coverage"]
    assert nom["met"], nom
    tested = [c for c in cells if c["T"] >= 10 * c["support"]]  # where the chi^2 law applies
    assert nom["runs"] == sum(len(c["h_err2"]) for c in tested) >= 100
    assert nom["below"]["runs"] == sum(len(c["h_err2"]) for c in cells) - nom["runs"] > 0
    assert r["curvature"]["violations"] == 0 and r["curvature"]["max_ratio"] <= r["curvature"]["kappa"]
    assert not r["theorem1_consistency"]["inconsistent_cells"]
    assert r["theorem1_consistency"]["E_T_violations"] == 0
    # odpo ran where Theorem 1 is below 2, so the regret check there could have failed
    assert r["theorem1_nonvacuous"]["cells"] >= 2 and r["theorem1_nonvacuous"]["violations"] == 0
    # the printed radius is loose: far above the real 95% quantile
    assert r["radius_over_quantile"]["min"] > 3


def test_nominal_coverage_against_a_direct_count():
    rng = np.random.default_rng(0)
    d = np.array([3] * 400 + [5] * 600)
    v = chi2.rvs(d, random_state=rng)
    r = nominal_coverage(list(v), list(d), 0.05)
    assert r["coverage"] == pytest.approx(np.mean(v <= chi2.ppf(0.95, d)))
    assert r["band"][0] < 0.95 < r["band"][1] and r["met"]
    assert not nominal_coverage(list(2.0 * v), list(d), 0.05)["met"]  # an over-dispersed error is caught


def test_planted_bias_fails_the_nominal_coverage(clean, monkeypatch):
    real = runs.fit_projected
    bias = np.array([0.05, 0.0, 0.0, 0.0])  # norm 0.05, as in the audit

    def biased(B, labels, *, lam, S):
        model, V = real(B, labels, lam=lam, S=S)
        model.coef_ = model.coef_ + bias
        model.coef_unprojected_ = model.coef_unprojected_ + bias
        return model, V

    monkeypatch.setattr(runs, "fit_projected", biased)
    r, _ = _checks()
    assert not r["nominal_coverage"]["met"]
    assert r["nominal_coverage"]["coverage"] < clean[0]["nominal_coverage"]["coverage"]


def test_planted_bound_times_a_tenth_is_caught(monkeypatch):
    real = runs.theorem1_bound
    monkeypatch.setattr(runs, "theorem1_bound", lambda *a, **k: 0.1 * real(*a, **k))
    r, _ = _checks()
    assert r["theorem1_consistency"]["inconsistent_cells"]


def test_planted_wrong_kappa_is_caught(monkeypatch):
    monkeypatch.setattr(runs, "kappa", lambda S: 2.0)  # e.g. 1 / sigma'(0) - 2: kappa(1) is 9.52
    r, _ = _checks()
    assert r["curvature"]["violations"] > 0
