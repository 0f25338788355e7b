"""The misspecification check separates a linear pool from a strongly non-linear one (synthetic truth)."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.annotate import JudgeAnnotator
from duelbandit.errors import SelectorError
from duelbandit.select import SelectionState, UniformSelector
from duelbandit.select.diagnose import Diagnosis, explain, misspecification
from tests.conftest import random_pool


def labelled(rewards_of, n_labels=1500, seed=0):
    pool, feats = random_pool(250, (4, 4), 5, seed=seed)
    X = feats.X
    rewards = rewards_of(X)
    state = SelectionState(pool, feats)
    batch = UniformSelector().select(state, n_labels, seed)
    labels = JudgeAnnotator(rewards, pool, rng=seed + 1, temperature=0.3).label(batch)
    return state, labels


def test_linear_pool_is_not_flagged():
    theta = np.array([1.0, -0.8, 0.5, 0.3, -0.2]) * 2.0
    state, labels = labelled(lambda X: X @ theta)
    diag = misspecification(state, labels, rng=0)
    assert diag.verdict != "misspecified"
    assert diag.lo <= 0.0
    assert diag.n_labels == 1500


def test_strongly_non_linear_pool_is_flagged():
    # a bump: reward high near the centre of the cloud, low at both ends of every direction;
    # no linear function ranks that (it is even in x)
    state, labels = labelled(lambda X: -6.0 * np.sum((X / np.abs(X).max()) ** 2, axis=1))
    diag = misspecification(state, labels, rng=0)
    assert diag.verdict == "misspecified"
    assert diag.lo > 0.0
    # the linear model is then no better than a coin on held-out labels (log 0.5 = -0.693)
    assert diag.loglik_linear < -0.6


def test_interval_is_mean_plus_minus_1_96_se():
    theta = np.ones(5)
    state, labels = labelled(lambda X: X @ theta, n_labels=400)
    d = misspecification(state, labels, rng=1)
    assert d.lo == pytest.approx(d.delta - 1.96 * d.se) and d.hi == pytest.approx(d.delta + 1.96 * d.se)


def test_explain_names_the_choice():
    base = {"delta": 0.05, "se": 0.01, "lo": 0.03, "hi": 0.07, "loglik_linear": -0.6, "n_labels": 100}
    assert "robust" in explain(Diagnosis(**base, verdict="misspecified"))
    assert "odpo" in explain(Diagnosis(**{**base, "lo": -0.01, "hi": 0.001}, verdict="linear fits"))
    text = explain(Diagnosis(**base, verdict="inconclusive"))
    assert "\n" not in text and "+0.0500" in text


def test_too_few_pairs_is_refused():
    state, labels = labelled(lambda X: X[:, 0], n_labels=6)
    with pytest.raises(SelectorError, match="distinct labelled pairs"):
        misspecification(state, labels)


def test_unlabelled_paragraph_names_what_each_selector_does():
    from duelbandit.select.diagnose import explain_unlabelled

    assert "two leading responses" in explain_unlabelled("contenders")
    assert "35% on the design" in explain_unlabelled("robust")
    assert "extreme pairs" in explain_unlabelled("odpo")
    assert "does not adapt" in explain_unlabelled("uniform")
