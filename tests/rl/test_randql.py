"""RandQL: the compiled end-of-episode update equals the paper's online per-step update (plain loops here,
fed the same random stream: numba's Generator draws reproduce numpy's), and the tie-breaking options."""

import numpy as np
import pytest

from duelbandit.rl.mdp import Episode
from duelbandit.rl.randql import RandQL
from duelbandit.rl.randql import RandQLConfig


def online_randql(episodes, K, S, A, H, J, n0, kappa, rng, sampled=False):
    """The paper's pseudo-code, one step at a time, scalar loops over the members, runs in turn within
    each episode (the order the agent consumes its Generator): per member u ~ Beta(n, n0) then
    w ~ Beta((H + 1) / kappa, n / kappa)."""
    vmax = [H - h for h in range(H)]
    n = np.full((K, H, S, A), n0 * kappa)
    Q = np.array([[[[vmax[h]] * J for _ in range(A)] for _ in range(S)] for h in range(H)], dtype=float)
    Q = np.stack([Q] * K)
    Qbar = np.stack([np.array([[[vmax[h]] * A for _ in range(S)] for h in range(H)], dtype=float)] * K)
    V = np.zeros((K, H + 1, S))
    V[:, :H] = np.array(vmax)[:, None]
    for states, actions, rewards in episodes:
        for k in range(K):
            for h in range(H):
                s, a, r, s2 = states[k, h], actions[k, h], rewards[k, h], states[k, h + 1]
                n[k, h, s, a] += 1
                nn = n[k, h, s, a]
                for j in range(J):
                    u = rng.beta(nn, n0)
                    w = rng.beta((H + 1) / kappa, nn / kappa)
                    if sampled:
                        nv = max(Q[k, h + 1, s2, b, j] for b in range(A)) if h + 1 < H else 0.0
                    else:
                        nv = V[k, h + 1, s2]
                    target = u * (r + nv) + (1 - u) * vmax[h]
                    Q[k, h, s, a, j] = (1 - w) * Q[k, h, s, a, j] + w * target
                Qbar[k, h, s, a] = min(Qbar[k, h, s, a], max(Q[k, h, s, a, j] for j in range(J)))
                V[k, h, s] = min(vmax[h], max(Qbar[k, h, s, b] for b in range(A)))
    return Q, Qbar, V


@pytest.mark.parametrize("kappa, sampled", [(1.0, False), (2.0, False), (1.0, True)])
def test_compiled_update_equals_online_pseudo_code(kappa, sampled):
    rng = np.random.default_rng(5)
    S, A, H, J, K, T = 4, 3, 5, 6, 2, 40
    cfg = RandQLConfig(n_ensemble=J, kappa=kappa, sampled=sampled)
    agent = RandQL(cfg).reset(S, A, H, K, np.random.default_rng(11))
    # arbitrary trajectories (the update does not need them to follow any dynamics)
    episodes = []
    for _ in range(T):
        ep = (rng.integers(S, size=(K, H + 1)), rng.integers(A, size=(K, H)), rng.random((K, H)).round(2))
        agent.update(Episode(*ep))
        episodes.append(ep)
    Q, Qbar, V = online_randql(episodes, K, S, A, H, J, 1.0 / S, kappa, np.random.default_rng(11), sampled)
    np.testing.assert_allclose(agent.Q_, Q, rtol=1e-12)
    np.testing.assert_allclose(agent.Qbar_, Qbar, rtol=1e-12)
    np.testing.assert_allclose(agent.V_, V, rtol=1e-12)
    if not sampled:  # the played policy is greedy on Qbar, ties split
        best = agent.policy() > 0
        np.testing.assert_array_equal(best, Qbar >= Qbar.max(-1, keepdims=True))


def test_tie_break_first_takes_numpys_argmax():
    agent = RandQL(RandQLConfig(tie_break="first")).reset(5, 4, 3, 2, np.random.default_rng(0))
    pi = agent.policy()
    assert np.all(pi[..., 0] == 1.0) and np.all(pi[..., 1:] == 0.0)
    rng = np.random.default_rng(1)
    for _ in range(30):
        agent.update(Episode(rng.integers(5, size=(2, 4)), rng.integers(4, size=(2, 3)), rng.random((2, 3))))
    np.testing.assert_array_equal(agent.policy().argmax(-1), agent.Qbar_.argmax(-1))


def test_initial_policy_breaks_ties_uniformly():
    agent = RandQL().reset(5, 4, 3, 2, np.random.default_rng(0))
    np.testing.assert_allclose(agent.policy(), 0.25)


def test_values_stay_optimistic_bounded():
    rng = np.random.default_rng(2)
    S, A, H, K = 3, 2, 4, 3
    agent = RandQL().reset(S, A, H, K, rng)
    for _ in range(50):
        agent.update(Episode(rng.integers(S, size=(K, H + 1)), rng.integers(A, size=(K, H)), rng.random((K, H))))
    vmax = (H - np.arange(H))[None, :, None, None]
    assert np.all(agent.Qbar_ <= vmax + 1e-12) and np.all(agent.Q_ <= vmax[..., None] + 1e-12)
    assert np.all(agent.V_[:, H] == 0)


def test_sampled_variant_acts_on_one_member():
    rng = np.random.default_rng(3)
    S, A, H, K, J = 3, 2, 3, 4, 5
    agent = RandQL(RandQLConfig(n_ensemble=J, sampled=True)).reset(S, A, H, K, rng)
    for _ in range(20):
        agent.update(Episode(rng.integers(S, size=(K, H + 1)), rng.integers(A, size=(K, H)), rng.random((K, H))))
    pi = agent.policy()
    for k in range(K):
        Qj = agent.Q_[k, ..., agent._member[k]]
        np.testing.assert_array_equal(pi[k] > 0, Qj >= Qj.max(-1, keepdims=True))
