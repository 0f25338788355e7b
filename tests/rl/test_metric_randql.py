"""Adaptive RandQL on the continuous chain: splitting rule, inheritance, greedy policy constant on the
environment's cells (so regret is exact), and learning."""

import numpy as np
import pytest

from duelbandit.errors import ConfigError
from duelbandit.rl.envs import continuous_chain
from duelbandit.rl.metric_randql import MetricRandQL
from duelbandit.rl.metric_randql import MetricRandQLConfig
from duelbandit.rl.runner import run_metric_agent


def test_balls_split_after_one_over_radius_squared_visits_and_children_inherit():
    rng = np.random.default_rng(0)
    agent = MetricRandQL(MetricRandQLConfig(max_level=3, staged=False)).reset(2, 2, rng)
    xs = np.array([0.3, 0.3, 0.3])
    agent.update(xs, np.array([1, 1]), np.array([0.5, 0.5]))  # root of (h=0, a=1): 1 visit >= (1/1)^2
    t = 0 * 2 + 1
    assert agent.trees.split_[t, 0]
    np.testing.assert_array_equal(agent.Q_[t, 1], agent.Q_[t, 0])
    assert agent.Qbar_[t, 1] == agent.Qbar_[t, 0] and agent.n_[t, 2] == agent.n_[t, 0]
    for _ in range(3):  # the left half (radius 1/2) splits after 4 visits in total
        agent.update(xs, np.array([1, 1]), np.array([0.5, 0.5]))
    assert agent.trees.split_[t, 1] and not agent.trees.split_[t, 2]
    assert agent.trees.leaf(t, 0.3) == 4  # [0.25, 0.5)


def test_net_variant_is_fully_refined_and_policy_is_constant_on_cells():
    env = continuous_chain(16, horizon=5)
    agent = MetricRandQL(MetricRandQLConfig(max_level=4, adaptive=False, staged=False))
    agent.reset(env.H, env.A, np.random.default_rng(1))
    assert agent.trees.split_[:, agent.trees.level < 4].all()
    rng = np.random.default_rng(2)
    for _ in range(30):
        xs = rng.random(env.H + 1)
        agent.update(xs, rng.integers(2, size=env.H), rng.random(env.H))
    c = env.centres()
    lo, hi = c - 0.49 / 16, c + 0.49 / 16
    np.testing.assert_array_equal(agent.policy_on(lo), agent.policy_on(hi))


def test_too_fine_partition_is_refused_for_exact_regret():
    env = continuous_chain(16, horizon=5)
    with pytest.raises(ConfigError, match="max_level"):
        run_metric_agent(env, MetricRandQL(MetricRandQLConfig(max_level=5)), 2, 1, 0)


def test_adaptive_randql_learns_on_the_continuous_chain():
    env = continuous_chain(16, horizon=10, shift=2, noise=1)
    res = run_metric_agent(env, MetricRandQL(MetricRandQLConfig(max_level=4, staged=False)), 500, 2, 3)
    reg = res.regret.mean(0)
    assert reg[-100:].mean() < 0.6 * reg[:100].mean()
    assert np.all(res.regret >= -1e-9)
    # exact and realised regret agree on average
    assert abs(res.regret.mean() - res.realised_regret.mean()) < 4 * res.realised_regret.std() / np.sqrt(1000)
