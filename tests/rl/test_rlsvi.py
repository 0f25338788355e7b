"""RLSVI perturbs the empirical reward with ZERO-mean noise (the reference code counts R_hat twice)."""

import numpy as np

from duelbandit.rl.mdp import Episode
from duelbandit.rl.rlsvi import RLSVI


def test_perturbed_reward_is_centred_on_the_empirical_reward():
    rng = np.random.default_rng(0)
    S, A, H, K = 2, 1, 2, 1
    agent = RLSVI().reset(S, A, H, K, rng)
    for _ in range(100):  # 200 visits of (0, 0) with reward 0.8
        agent.update(Episode(np.zeros((1, H + 1), int), np.zeros((1, H), int), np.full((1, H), 0.8)))
    n = 201  # one prior pseudo-observation with reward 0
    r_hat = 0.8 * 200 / n
    draws = []
    for _ in range(4000):
        agent.policy()
        draws.append(agent.R_tilde_[0, :, 0, 0])
    draws = np.array(draws)  # (4000, H)
    sigma = 1 / np.sqrt(n) + np.array([2.0, 1.0]) / n
    np.testing.assert_allclose(draws.mean(0), r_hat, atol=4 * sigma.max() / np.sqrt(4000))
    np.testing.assert_allclose(draws.std(0), sigma, rtol=0.05)
