"""Greedy policy and simple regret against Python-loop oracles and hand examples (spec §5)."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.errors import FeatureError, RewardError
from duelbandit.types import Features, Pool
from duelbandit.regret import greedy_policy, simple_regret


def _pool(counts):
    return Pool.from_lists(
        [f"q{n}" for n in range(len(counts))], [[f"r{n}.{k}" for k in range(c)] for n, c in enumerate(counts)]
    )


def _oracle_greedy(scores, pool):
    out = []
    for n in range(pool.n_prompts):
        lo, hi = int(pool.offsets[n]), int(pool.offsets[n + 1])
        best, arg = -np.inf, -1
        for r in range(lo, hi):
            if scores[r] > best:  # strict: the first maximum wins ties
                best, arg = scores[r], r
        out.append(arg)
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_matches_loop_oracle_with_ties(seed):
    rng = np.random.default_rng(seed)
    counts = rng.integers(2, 7, size=40)
    pool = _pool(counts)
    X = rng.integers(-2, 3, size=(pool.n_responses, 3)).astype(float)  # small integers: many exact ties
    theta = np.array([1.0, -1.0, 2.0])
    got = greedy_policy(theta, X, pool)
    np.testing.assert_array_equal(got, _oracle_greedy(X @ theta, pool))
    np.testing.assert_array_equal(greedy_policy(theta, Features(X), pool), got)
    assert got.dtype == np.int64


def test_greedy_all_tied_picks_lowest_index():
    pool = _pool([3, 2, 4])
    got = greedy_policy(np.zeros(2), np.ones((9, 2)), pool)
    np.testing.assert_array_equal(got, pool.offsets[:-1])


def test_greedy_validates_shapes():
    pool = _pool([2, 2])
    with pytest.raises(FeatureError, match="features_X"):
        greedy_policy(np.zeros(2), np.ones((3, 2)), pool)
    with pytest.raises(RewardError, match="theta"):
        greedy_policy(np.zeros(3), np.ones((4, 2)), pool)
    with pytest.raises(RewardError, match="theta"):
        greedy_policy(np.array([np.nan, 0.0]), np.ones((4, 2)), pool)


def test_simple_regret_hand_example():
    pool = _pool([3, 2, 2])
    r = np.array([0.1, 0.5, 0.2, 1.0, -1.0, 0.3, 0.3])
    chosen = np.array([0, 3, 6])  # gaps: 0.4, 0, 0 (tie counts as optimal)
    rep = simple_regret(r, chosen, pool)
    assert rep.max == pytest.approx(0.4)
    assert rep.mean == pytest.approx(0.4 / 3)
    assert rep.frac_optimal == pytest.approx(2 / 3)
    np.testing.assert_allclose(rep.per_prompt, [0.4, 0.0, 0.0])
    assert rep.as_dict() == {"max": rep.max, "mean": rep.mean, "frac_optimal": rep.frac_optimal}


def test_true_theta_has_zero_regret_and_loop_oracle_agrees():
    rng = np.random.default_rng(3)
    pool = _pool(rng.integers(2, 6, size=30))
    X = rng.standard_normal((pool.n_responses, 4))
    theta_star = rng.standard_normal(4)
    r = X @ theta_star
    rep = simple_regret(r, greedy_policy(theta_star, X, pool), pool)
    assert rep.max == 0.0 and rep.frac_optimal == 1.0
    theta_hat = theta_star + rng.standard_normal(4)
    chosen = greedy_policy(theta_hat, X, pool)
    rep = simple_regret(r, chosen, pool)
    gaps = [max(r[pool.offsets[n] : pool.offsets[n + 1]]) - r[chosen[n]] for n in range(pool.n_prompts)]
    assert rep.max == pytest.approx(max(gaps)) and rep.mean == pytest.approx(np.mean(gaps))
    assert rep.frac_optimal == pytest.approx(np.mean(np.array(gaps) <= 1e-12))


def test_simple_regret_validates():
    pool = _pool([2, 3])
    r = np.zeros(5)
    with pytest.raises(RewardError, match=r"chosen\[1\]"):
        simple_regret(r, np.array([0, 1]), pool)  # 1 belongs to prompt 0
    with pytest.raises(RewardError, match="chosen"):
        simple_regret(r, np.array([0.0, 2.0]), pool)
    with pytest.raises(RewardError, match="true_rewards"):
        simple_regret(np.zeros(4), np.array([0, 2]), pool)
    with pytest.raises(RewardError, match="true_rewards"):
        simple_regret(np.array([0, np.nan, 0, 0, 0]), np.array([0, 2]), pool)
