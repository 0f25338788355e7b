"""MaxInP and CoLSTIM against their papers (issue 13, item 13): MaxInP's default radius covers theta* at
its nominal rate; CoLSTIM's perturbation is scaled by ||a_i||_{V^{-1}} and so shrinks as V grows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression

from duelbandit.annotate import Labels
from duelbandit.select import CoLSTIMSelector, MaxInPSelector, SelectionState
from duelbandit.select.dueling import colstim_perturbation, maxinp_radius
from tests.conftest import random_pool

THETA = np.array([2.0, -1.0, 1.0, 0.5])


def test_maxinp_radius_covers_theta_star_at_its_nominal_rate():
    # ||theta_hat - theta*||_V <= beta_t with frequency >= 1 - delta, theta_hat from scikit-learn (independent
    # of our fit), at the size where the radius without 1/kappa failed (d = 32, t = 200: it covered 45%)
    d, t, delta = 32, 200, 0.1
    lam = 1 / d
    rng = np.random.default_rng(0)
    beta = maxinp_radius(t, d, lam=lam, delta=delta)
    # the closed form: kappa(1) = 2 + e^2 + e^-2
    k1 = 2 + math.e**2 + math.e**-2
    assert beta == pytest.approx(k1 * math.sqrt(2 * math.log(10) + d * math.log(1 + t / (d * lam))), rel=1e-12)
    covered = []
    for _ in range(40):
        A = rng.standard_normal((400, d))
        A /= np.linalg.norm(A, axis=1, keepdims=True)  # ||a|| = 1, ||theta*|| = 1: the paper's setting
        theta = rng.standard_normal(d)
        theta /= np.linalg.norm(theta)
        i = rng.integers(0, 400, t)
        j = (i + 1 + rng.integers(0, 399, t)) % 400
        B = A[i] - A[j]
        y = (rng.random(t) < expit(B @ theta)).astype(float)
        th = LogisticRegression(fit_intercept=False, C=1 / lam, tol=1e-10, max_iter=10_000).fit(B, y).coef_[0]
        e = th - theta
        covered.append(math.sqrt(e @ (lam * np.eye(d) + B.T @ B) @ e) <= beta)
    assert np.mean(covered) >= 1 - delta


def test_maxinp_reports_what_its_radius_eliminates():
    pool, feats = random_pool(30, (3, 6), 4, seed=11)
    B = pool.pairs().differences(feats.X)
    rng = np.random.default_rng(4)
    pairs = rng.integers(0, pool.n_pairs, size=80)
    y = (rng.random(80) < expit(B[pairs] @ THETA)).astype(float)
    state = SelectionState(pool, feats, labels=Labels(pairs, y))
    default = MaxInPSelector().select(state, 5, 0)
    # with the 1/kappa radius nothing is confidently beaten after 80 labels in d = 4 ...
    assert default.info["beta_t"] == pytest.approx(maxinp_radius(80, 4, lam=state.lam, delta=0.1))
    assert default.info["eliminated"] == 0
    # ... while a tiny width eliminates responses (the count is live, not a constant)
    assert MaxInPSelector(beta=0.05).select(state, 5, 0).info["eliminated"] > 0


def test_colstim_perturbation_is_eps_times_the_V_inverse_norm():
    rng = np.random.default_rng(1)
    arms, eps = rng.standard_normal((5, 3)), rng.gumbel(size=5)
    M = rng.standard_normal((3, 3))
    V = M @ M.T + np.eye(3)
    got = colstim_perturbation(eps, arms, np.linalg.inv(V))
    expected = [e * math.sqrt(a @ np.linalg.solve(V, a)) for e, a in zip(eps, arms)]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    # V -> 100 V: the perturbation shrinks 10-fold
    np.testing.assert_allclose(colstim_perturbation(eps, arms, np.linalg.inv(100 * V)), got / 10, rtol=1e-12)


def _greedy_first_fraction(repeats: int) -> float:
    """Fraction of CoLSTIM's first arms that are the greedy argmax_i <theta_hat, a_i> of their prompt,
    with every label repeated ``repeats`` times (V grows ~linearly in repeats), theta_hat from sklearn."""
    pool, feats = random_pool(40, (4, 6), 4, seed=11)
    B = pool.pairs().differences(feats.X)
    rng = np.random.default_rng(4)
    pairs = rng.integers(0, pool.n_pairs, size=60)
    y = (rng.random(60) < expit(B[pairs] @ THETA)).astype(float)
    state = SelectionState(pool, feats, labels=Labels(np.repeat(pairs, repeats), np.repeat(y, repeats)))
    lr = LogisticRegression(fit_intercept=False, C=1 / state.lam, tol=1e-12, max_iter=10_000)
    theta = lr.fit(B[pairs], y, sample_weight=np.full(60, float(repeats))).coef_[0]
    batch = CoLSTIMSelector(threshold=5.0).select(state, 20, 7)  # < 40 prompts: best arms keep free pairs
    u = feats.X @ theta
    best = {n: int(pool.offsets[n] + np.argmax(u[pool.offsets[n]:pool.offsets[n + 1]])) for n in range(40)}
    prompt_of = np.repeat(np.arange(40), np.diff(pool.offsets))
    firsts = batch.info["first_arms"]
    return float(np.mean([best[int(prompt_of[f])] == f for f in firsts]))


def test_colstim_perturbation_shrinks_as_V_grows():
    few, many = _greedy_first_fraction(1), _greedy_first_fraction(20_000)
    # 60 labels in d = 4: the perturbation eps ||a||_{V^-1} often reorders the responses; with each label
    # repeated 20,000 times it is ~140x smaller and the first arm is the greedy one (unscaled Gumbel noise,
    # the old rule, would reorder them just as often in both cases)
    assert few < 0.9  # measured 0.8
    assert many == 1.0


def test_colstim_defaults_follow_the_paper():
    pool, feats = random_pool(20, (3, 5), 4, seed=3)
    batch = CoLSTIMSelector().select(SelectionState(pool, feats), 10, 0)
    scale = math.sqrt(4 * math.log(10))  # T = 0 labels + 10 in this batch
    assert batch.info["threshold_used"] == pytest.approx(scale)
    assert batch.info["c_used"] == pytest.approx(scale)
    big = CoLSTIMSelector(horizon=10_000).select(SelectionState(pool, feats), 10, 0)
    assert big.info["c_used"] == pytest.approx(math.sqrt(4 * math.log(10_000)))


def test_colstim_self_duel_spends_no_label():
    # with c = 0 and no noise no challenger is optimistic: every draw is a self-duel until the prompts run
    # out, then the best challenger is forced; the batch still holds `budget` distinct pairs
    pool, feats = random_pool(10, (3, 4), 4, seed=5)
    B = pool.pairs().differences(feats.X)
    state = SelectionState(pool, feats, labels=Labels(np.arange(pool.n_pairs), (B @ THETA > 0).astype(float)))
    batch = CoLSTIMSelector(c=0.0, threshold=0.0).select(state, 6, 2)
    assert len(np.unique(batch.pairs)) == 6
    assert batch.info["self_duels"] == 10 and batch.info["forced"] == 6


@pytest.fixture
def labelled():
    pool, feats = random_pool(30, (3, 6), 4, seed=11)
    B = pool.pairs().differences(feats.X)
    rng = np.random.default_rng(4)
    pairs = rng.integers(0, pool.n_pairs, size=80)
    y = (rng.random(80) < expit(B[pairs] @ THETA)).astype(float)
    state = SelectionState(pool, feats, labels=Labels(pairs, y))
    lr = LogisticRegression(fit_intercept=False, C=1 / state.lam, tol=1e-12, max_iter=10_000).fit(B[pairs], y)
    return state, B, lr.coef_[0]


def V_of(state, B):
    p = state.labels.pairs
    return state.lam * np.eye(B.shape[1]) + B[p].T @ B[p]


def test_maxinp_plays_the_widest_pair_among_survivors(labelled):
    state, B, theta = labelled
    pool = state.pool
    cand = pool.pairs()
    beta = 0.8
    batch = MaxInPSelector(beta=beta).select(state, 6, 0)
    # naive: per pick, eliminate by brute force over all ordered pairs of each prompt
    V = V_of(state, B)
    taken = []
    for _ in range(6):
        Vinv = np.linalg.inv(V)
        out = set()
        for k in range(len(cand)):
            i, j = int(cand.i[k]), int(cand.j[k])
            gap, width = B[k] @ theta, np.sqrt(B[k] @ Vinv @ B[k])
            if gap > beta * width:
                out.add(j)
            if -gap > beta * width:
                out.add(i)
        width = np.einsum("ij,jk,ik->i", B, Vinv, B)
        ok = [k for k in range(len(cand))
              if int(cand.i[k]) not in out and int(cand.j[k]) not in out and k not in taken]
        if not ok:
            ok = [k for k in range(len(cand)) if k not in taken]
        j = max(ok, key=lambda k: width[k])
        taken.append(j)
        V = V + np.outer(B[j], B[j])
    assert batch.expanded().tolist() == taken


def test_colstim_without_noise_or_bonus_duels_the_two_best_responses(labelled):
    state, _, theta = labelled
    pool, X = state.pool, state.features.X
    batch = CoLSTIMSelector(c=0.0, threshold=0.0, allow_repeats=True).select(state, 25, 3)
    cand = pool.pairs()
    for k in batch.pairs:
        n = int(cand.prompt[k])
        u = X[pool.offsets[n]:pool.offsets[n + 1]] @ theta
        top2 = set((pool.offsets[n] + np.argsort(-u)[:2]).tolist())
        assert {int(cand.i[k]), int(cand.j[k])} == top2
