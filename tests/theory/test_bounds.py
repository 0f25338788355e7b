"""The bound functions against hand-computed values (closed forms typed out here, not the code's)."""

from __future__ import annotations

import math

import pytest

from duelbandit import reward
from duelbandit.theory.bounds import (
    applicability,
    confidence_radius,
    corollary1_bound,
    corollary1_expected_bound,
    kappa,
    self_normalized_radius,
    theorem1_bound,
    theorem3_lower_bound,
    upper_lower_ratio,
)
from duelbandit.errors import RewardError


def test_kappa_and_reexport():
    assert kappa(1.0) == pytest.approx(2 + math.e**2 + math.e**-2, rel=1e-12)  # 9.524
    assert kappa(0.0) == pytest.approx(4.0, rel=1e-12)  # sigma'(0) = 1/4
    assert reward.kappa is kappa and reward.confidence_radius is confidence_radius  # one formula, one place


def test_confidence_radius_printed_lemma2():
    # t = 500, d = 8, lam = 1/8, delta = 0.05, S = 1: by hand
    lam = 0.125
    inner = lam ** (7 / 8) + 4 * 500 / (8 * lam ** (1 / 8))
    expected = 20 * (math.sqrt(2 * math.log(20) + 8 * math.log(inner)) + math.sqrt(lam))
    assert confidence_radius(500, 8, lam=lam, delta=0.05) == pytest.approx(expected, rel=1e-12)
    # general S: 2 kappa(S) and sqrt(lam) S
    k = 2 + math.e**1 + math.e**-1
    expected_half = 2 * k * (math.sqrt(2 * math.log(20) + 8 * math.log(inner)) + math.sqrt(lam) * 0.5)
    assert confidence_radius(500, 8, lam=lam, delta=0.05, S=0.5) == pytest.approx(expected_half, rel=1e-12)


def test_self_normalized_radius_and_printed_dominates_it():
    lam, t, d = 0.25, 100, 4
    k1 = 2 + math.e**2 + math.e**-2
    root = math.sqrt(2 * math.log(20) + 4 * math.log(1 + 400 / (4 * lam)))
    expected = 2 * k1 * (0.5 * root + math.sqrt(lam))
    assert self_normalized_radius(t, d, lam=lam, delta=0.05) == pytest.approx(expected, rel=1e-12)
    # the docstring's claim: with lam = 1/d and t >= d(d+1)/2 the printed radius is still valid
    for d in (1, 2, 4, 8, 16, 32, 64):
        for delta in (0.5, 0.05, 1e-6):
            t = d * (d + 1) // 2
            assert confidence_radius(t, d, lam=1 / d, delta=delta) >= self_normalized_radius(
                t, d, lam=1 / d, delta=delta
            )


def test_theorem1_printed_form_and_support():
    T, d, lam, delta, eps = 1000, 4, 0.25, 0.1, 0.2
    bracket = math.sqrt(2 * math.log(10) + 4 * math.log(lam**0.75 + 4000 / (4 * lam**0.25))) + math.sqrt(lam)
    printed = 20 * 1.2 * math.sqrt(4 / 1000) * bracket
    assert theorem1_bound(T, d, lam=lam, delta=delta, eps=eps) == pytest.approx(printed, rel=1e-12)
    # exact-budget rounding with support p: sqrt(d / (T - p)) instead of sqrt(d / T)
    assert theorem1_bound(T, d, lam=lam, delta=delta, eps=eps, support=10) == pytest.approx(
        printed * math.sqrt(1000 / 990), rel=1e-12
    )
    with pytest.raises(RewardError, match="T > p"):
        theorem1_bound(10, d, lam=lam, delta=delta, eps=eps, support=10)
    with pytest.raises(RewardError, match="delta"):
        theorem1_bound(T, d, lam=lam, delta=1.0, eps=eps)
    with pytest.raises(RewardError, match="eps"):
        theorem1_bound(T, d, lam=lam, delta=delta, eps=-0.1)


def test_corollary1_printed_forms():
    T, d, delta = 4096, 16, 0.05
    hp = 30 * math.sqrt(d / T) * (
        math.sqrt(2 * math.log(1 / delta) + d * math.log((1 + 4 * T) / d ** (1 - 1 / d))) + 1 / math.sqrt(d)
    )
    assert corollary1_bound(T, d, delta=delta) == pytest.approx(hp, rel=1e-12)
    ex = 30 * (d + 2) / math.sqrt(T) * math.sqrt(math.log((4 * T + 1) / d ** (1 - 1 / d))) + 31 / math.sqrt(T)
    assert corollary1_expected_bound(T, d) == pytest.approx(ex, rel=1e-12)


def test_theorem3_and_the_ratio():
    # d = 16, T = 256: 16 e^-5 / (4 * 16) = e^-5 / 4
    assert theorem3_lower_bound(256, 16) == pytest.approx(math.exp(-5) / 4, rel=1e-12)
    assert theorem3_lower_bound(4 * 256, 16) == pytest.approx(math.exp(-5) / 8, rel=1e-12)  # T^-1/2
    # spec §6: upper/lower ~ 1.8e4 x sqrt(log T)
    r = upper_lower_ratio(4096, 16)
    assert 1.5e4 < r / math.sqrt(math.log(4096)) < 2.1e4


def _app(**kw):
    base = {"d": 4, "T": 100, "S": 1.0, "max_feature_norm": 1.0, "theta_norm": 1.0, "design_eps": 0.01,
            "support": 10}
    base.update(kw)
    return applicability(**base)


def test_applicability_everything_holds_on_a_clean_run():
    a = _app()
    assert a["lemma2"].applies and a["theorem1"].applies and a["corollary1"].applies
    assert not a["theorem3"].applies  # not the hypercube instance, d < 16


def test_applicability_names_each_broken_assumption():
    a = _app(max_feature_norm=1.5)
    assert not a["lemma2"].applies and not a["theorem1"].applies
    assert any("||psi|| = 1.5 > 1" in r for r in a["theorem1"].reasons)
    a = _app(theta_norm=1.8, theta_norm_source="estimated")
    assert not a["lemma2"].applies
    assert any("estimated" in r and "1.8 > S = 1" in r for r in a["lemma2"].reasons)
    a = _app(T=10)
    assert a["lemma2"].applies and not a["theorem1"].applies
    assert any("T = 10 <= support size p = 10" in r for r in a["theorem1"].reasons)
    a = _app(design_eps=None, support=None)
    assert not a["theorem1"].applies and any("no design certificate" in r for r in a["theorem1"].reasons)
    a = _app(design_eps=0.7)
    assert a["theorem1"].applies and not a["corollary1"].applies
    a = _app(lam=0.5)
    assert a["theorem1"].applies and any("lam = 0.5" in r for r in a["corollary1"].reasons)
    a = applicability(d=16, T=255, S=1.0, max_feature_norm=1.0, theta_norm=1.0, hard_instance=True,
                      offline=False)
    reasons = " | ".join(a["theorem3"].reasons)
    assert "T = 255 < d^2 = 256" in reasons and "adaptive" in reasons
    a = applicability(d=16, T=256, S=1.0, max_feature_norm=1.0, theta_norm=1.0, hard_instance=True)
    assert a["theorem3"].applies
    with pytest.raises(RewardError, match="theta_norm_source"):
        _app(theta_norm_source="guess")
