"""Epsilon-greedy Q-learning plays (1 - eps) greedy + eps uniform."""

import numpy as np

from duelbandit.rl.mdp import Episode
from duelbandit.rl.qlearning import QLearning
from duelbandit.rl.qlearning import QLearningConfig


def test_policy_mixes_greedy_and_uniform():
    agent = QLearning(QLearningConfig(epsilon=0.2)).reset(2, 4, 2, 1, np.random.default_rng(0))
    np.testing.assert_allclose(agent.policy(), 0.25)  # all ties at the start
    agent.update(Episode(np.array([[0, 1, 1]]), np.array([[2, 0]]), np.array([[1.0, 0.0]])))
    # Q_0(0, 2) = alpha * (1 + max_a Q_1(1, a)) with alpha = (H + 1) / (H + 1) = 1
    assert agent.Q_[0, 0, 0, 2] == 1.0
    np.testing.assert_allclose(agent.policy()[0, 0, 0], [0.05, 0.05, 0.85, 0.05])
