"""UCBVI plans by backward induction on the empirical model plus bonus; Greedy-UCBVI does one-step
lookahead on stored values. Checked against plain loops."""

import numpy as np

from duelbandit.rl.mdp import Episode
from duelbandit.rl.ucbvi import UCBVI
from duelbandit.rl.ucbvi import UCBVIConfig
from duelbandit.rl.ucbvi import ucbvi_bonus


def feed(agent, rng, S, A, H, T):
    trans = []
    for _ in range(T):
        ep = Episode(rng.integers(S, size=(1, H + 1)), rng.integers(A, size=(1, H)), rng.random((1, H)).round(1))
        agent.policy()
        agent.update(ep)
        trans += [(ep.states[0, h], ep.actions[0, h], ep.rewards[0, h], ep.states[0, h + 1]) for h in range(H)]
    return trans


def empirical(trans, S, A):
    n, N, Rs = np.zeros((S, A)), np.zeros((S, A, S)), np.zeros((S, A))
    for s, a, r, s2 in trans:
        n[s, a] += 1
        N[s, a, s2] += 1
        Rs[s, a] += r
    return n, N, Rs


def test_bonus_formula():
    b = ucbvi_bonus(np.array([[0.0, 1.0, 4.0]]), np.array([3.0, 1.0]), 1.0)  # (H, S=1, A=3)
    np.testing.assert_allclose(b[:, 0], [[3.0, 3.0, 0.5 + 0.75], [1.0, 1.0, 0.5 + 0.25]])


def test_ucbvi_plans_on_empirical_model_plus_bonus():
    rng = np.random.default_rng(0)
    S, A, H = 3, 2, 4
    agent = UCBVI().reset(S, A, H, 1, rng)
    trans = feed(agent, rng, S, A, H, 4)
    n, N, Rs = empirical(trans, S, A)
    agent.policy()
    V = np.zeros(S)
    for h in range(H - 1, -1, -1):
        vmax = H - h
        Q = np.zeros((S, A))
        for s in range(S):
            for a in range(A):
                if n[s, a] == 0:
                    Q[s, a] = vmax + V.mean()  # uniform P_hat, zero reward, bonus v_max
                else:
                    b = min(np.sqrt(1 / n[s, a]) + vmax / n[s, a], vmax)
                    Q[s, a] = Rs[s, a] / n[s, a] + b + N[s, a] @ V / n[s, a]
        np.testing.assert_allclose(agent.Q_[0, h], Q, rtol=1e-12)
        V = np.minimum(vmax, Q.max(1))


def test_greedy_ucbvi_updates_only_visited_values():
    rng = np.random.default_rng(1)
    S, A, H = 3, 2, 3
    agent = UCBVI(UCBVIConfig(real_time_dp=True)).reset(S, A, H, 1, rng)
    feed(agent, rng, S, A, H, 3)
    V_before = agent.V_.copy()
    pi = agent.policy()
    Q = agent.Q_[0].copy()
    ep = Episode(np.array([[0, 1, 2, 0]]), np.array([[1, 0, 1]]), np.array([[0.5, 0.0, 1.0]]))
    agent.update(ep)
    for h, s in enumerate([0, 1, 2]):
        assert agent.V_[0, h, s] == min(V_before[0, h, s], H - h, Q[h, s].max())
    changed = np.argwhere(agent.V_[0] != V_before[0])
    assert all((h, s) in {(0, 0), (1, 1), (2, 2)} for h, s in changed)
    assert np.all(agent.V_ <= V_before) and pi.shape == (1, H, S, A)
