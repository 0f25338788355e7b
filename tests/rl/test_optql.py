"""OptQL's batched update equals the per-step pseudo-code of Jin et al. (2018) with the spec's bonus."""

import numpy as np

from duelbandit.rl.mdp import Episode
from duelbandit.rl.optql import OptQL
from duelbandit.rl.optql import OptQLConfig


def online_optql(episodes, S, A, H, c):
    vmax = np.arange(H, 0, -1, dtype=float)
    n = np.zeros((H, S, A))
    Q = np.repeat(vmax[:, None, None], S, 1).repeat(A, 2)
    V = np.zeros((H + 1, S))
    V[:H] = vmax[:, None]
    for states, actions, rewards in episodes:
        for h in range(H):
            s, a, r, s2 = states[h], actions[h], rewards[h], states[h + 1]
            n[h, s, a] += 1
            t = n[h, s, a]
            alpha = (H + 1) / (H + t)
            b = min(c * np.sqrt(1 / t) + vmax[h] / t, vmax[h])
            Q[h, s, a] = (1 - alpha) * Q[h, s, a] + alpha * (r + b + V[h + 1, s2])
            V[h, s] = min(vmax[h], Q[h, s].max())
    return Q, V


def test_batched_update_equals_online_pseudo_code():
    rng = np.random.default_rng(0)
    S, A, H, K = 3, 2, 4, 2
    agent = OptQL(OptQLConfig(bonus_scale=0.5)).reset(S, A, H, K, rng)
    data = [[] for _ in range(K)]
    for _ in range(60):
        ep = Episode(rng.integers(S, size=(K, H + 1)), rng.integers(A, size=(K, H)), rng.random((K, H)))
        agent.update(ep)
        for k in range(K):
            data[k].append((ep.states[k], ep.actions[k], ep.rewards[k]))
    for k in range(K):
        Q, V = online_optql(data[k], S, A, H, 0.5)
        np.testing.assert_allclose(agent.Q_[k], Q, rtol=1e-12)
        np.testing.assert_allclose(agent.V_[k], V, rtol=1e-12)
