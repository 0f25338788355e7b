"""Adaptive Q-learning (Sinclair et al. 2019): the OptQL update on the active ball, with a Lipschitz term."""

import numpy as np

from duelbandit.rl.adaptive_ql import AdaptiveQL
from duelbandit.rl.adaptive_ql import AdaptiveQLConfig


def test_one_update_by_hand():
    agent = AdaptiveQL(AdaptiveQLConfig(bonus_scale=1.0, lipschitz=0.5, max_level=2)).reset(2, 2, np.random.default_rng(0))
    # h = 1 first (its update reads V_2 = 0): n = 1, alpha = 1, bonus = min(1 + 1, 1) + 0.5 * 1
    agent.update(np.array([0.1, 0.6, 0.2]), np.array([0, 1]), np.array([0.0, 0.25]))
    t1 = 1 * 2 + 1
    assert agent.Q_[t1, 0] == 0.25 + 1.0 + 0.5
    # h = 0 read V_1(0.6) before the episode: min(v_max_1 = 1, max_a Q) = 1; bonus = min(1 + 2, 2) + 0.5
    assert agent.Q_[0, 0] == 0.0 + 2.5 + 1.0
    assert agent.trees.split_[0, 0] and agent.trees.split_[t1, 0]  # 1 visit >= (1/1)^2: split
    assert agent.Q_[0, 1] == agent.Q_[0, 0] and agent.n_[0, 2] == 1
