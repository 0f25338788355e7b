"""PSRL's posterior draws: Dirichlet rows with the right mean, greedy policy on the sampled MDP."""

import numpy as np

from duelbandit.rl.mdp import Episode
from duelbandit.rl.psrl import PSRL
from duelbandit.rl.psrl import sample_dirichlet_rows


def test_dirichlet_rows_have_the_posterior_mean_and_variance():
    rng = np.random.default_rng(0)
    counts = np.broadcast_to(np.array([3.0, 0.0, 1.0, 0.0]), (60_000, 4))
    P = sample_dirichlet_rows(counts, 0.5, rng)
    alpha = np.array([3.5, 0.5, 1.5, 0.5])
    a0 = alpha.sum()
    np.testing.assert_allclose(P.sum(1), 1.0)
    np.testing.assert_allclose(P.mean(0), alpha / a0, atol=0.005)
    np.testing.assert_allclose(P.var(0), alpha * (a0 - alpha) / (a0**2 * (a0 + 1)), rtol=0.05)


def test_psrl_policy_is_greedy_and_posterior_counts_update():
    rng = np.random.default_rng(1)
    S, A, H, K = 3, 2, 4, 2
    agent = PSRL().reset(S, A, H, K, rng)
    pi = agent.policy()
    assert pi.shape == (K, H, S, A) and np.allclose(pi.sum(-1), 1)
    agent.update(Episode(np.zeros((K, H + 1), int), np.zeros((K, H), int), np.ones((K, H))))
    assert agent.N_[:, 0, 0, 0].tolist() == [H, H]
    assert agent.success_[:, 0, 0].tolist() == [H, H]  # reward 1 is a sure success
