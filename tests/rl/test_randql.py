"""RandQL: the Beta draws have the stated moments, and the batched end-of-episode update equals the
paper's online per-step update (written here as plain loops)."""

import numpy as np
import pytest

from duelbandit.rl.mdp import Episode
from duelbandit.rl.randql import RandQL
from duelbandit.rl.randql import RandQLConfig
from duelbandit.rl.randql import learning_rates
from duelbandit.rl.randql import prior_weights


def beta_moments(a, b):
    return a / (a + b), a * b / ((a + b) ** 2 * (a + b + 1))


@pytest.mark.parametrize("n, H, kappa", [(1.01, 5, 1.0), (30.01, 10, 1.0), (7.5, 4, 2.0)])
def test_learning_rate_draws_have_beta_moments(n, H, kappa):
    rng = np.random.default_rng(0)
    N = 200_000
    w = learning_rates(np.array([n]), H, kappa, N, rng)[0]
    mean, var = beta_moments((H + 1) / kappa, n / kappa)
    assert abs(w.mean() - mean) < 4 * np.sqrt(var / N)
    assert w.var() == pytest.approx(var, rel=0.03)
    # kappa = 1: the mean learning rate is OptQL's (H + 1) / (H + n) with the pseudo-count n
    if kappa == 1.0:
        assert mean == pytest.approx((H + 1) / (H + 1 + n))


@pytest.mark.parametrize("n, n0", [(1.01, 0.01), (5.0, 1.0), (100.0, 0.5)])
def test_prior_weight_draws_have_beta_moments(n, n0):
    rng = np.random.default_rng(1)
    N = 200_000
    u = prior_weights(np.array([n]), n0, N, rng)[0]
    mean, var = beta_moments(n, n0)
    assert abs(u.mean() - mean) < 4 * np.sqrt(var / N)
    assert u.var() == pytest.approx(var, rel=0.05)


def f(a, b, j):
    """A deterministic stand-in for a Beta(a, b) draw of member j: the mean, spread over members."""
    m = a / (a + b)
    return np.clip(m * (0.7 + 0.05 * j), 1e-6, 1 - 1e-6)


class StubRng:
    """Generator stand-in: beta() returns f(a, b, j) for member j = last axis, so any implementation that
    asks for Beta(a, b) with the right parameters gets the same numbers."""

    def beta(self, a, b, size):
        J = size[-1]
        return f(np.asarray(a, float), np.asarray(b, float), np.arange(J)) * np.ones(size)


def online_randql(episodes, S, A, H, J, n0, kappa):
    """The paper's pseudo-code, one step at a time, scalar loops over the members."""
    vmax = [H - h for h in range(H)]
    n = np.full((H, S, A), n0 * kappa)
    Q = np.array([[[[vmax[h]] * J for _ in range(A)] for _ in range(S)] for h in range(H)], dtype=float)
    Qbar = np.array([[[vmax[h]] * A for _ in range(S)] for h in range(H)], dtype=float)
    V = np.zeros((H + 1, S))
    V[:H] = np.array(vmax)[:, None]
    for states, actions, rewards in episodes:
        for h in range(H):
            s, a, r, s2 = states[h], actions[h], rewards[h], states[h + 1]
            n[h, s, a] += 1
            nn = n[h, s, a]
            for j in range(J):
                u = f(nn, n0, j)
                w = f((H + 1) / kappa, nn / kappa, j)
                target = u * (r + V[h + 1, s2]) + (1 - u) * vmax[h]
                Q[h, s, a, j] = (1 - w) * Q[h, s, a, j] + w * target
            Qbar[h, s, a] = min(Qbar[h, s, a], Q[h, s, a].max())
            V[h, s] = min(vmax[h], Qbar[h, s].max())
    return Q, Qbar, V


@pytest.mark.parametrize("kappa", [1.0, 2.0])
def test_batched_update_equals_online_pseudo_code(kappa):
    rng = np.random.default_rng(5)
    S, A, H, J, K, T = 4, 3, 5, 6, 2, 40
    cfg = RandQLConfig(n_ensemble=J, kappa=kappa)
    agent = RandQL(cfg).reset(S, A, H, K, StubRng())
    # arbitrary trajectories (the update does not need them to follow any dynamics)
    data = [[] for _ in range(K)]
    for _ in range(T):
        states = rng.integers(S, size=(K, H + 1))
        actions = rng.integers(A, size=(K, H))
        rewards = rng.random((K, H)).round(2)
        agent.update(Episode(states, actions, rewards))
        for k in range(K):
            data[k].append((states[k], actions[k], rewards[k]))
    for k in range(K):
        Q, Qbar, V = online_randql(data[k], S, A, H, J, 1.0 / S, kappa)
        np.testing.assert_allclose(agent.Q_[k], Q, rtol=1e-12)
        np.testing.assert_allclose(agent.Qbar_[k], Qbar, rtol=1e-12)
        np.testing.assert_allclose(agent.V_[k], V, rtol=1e-12)
        # the played policy is greedy on Qbar
        best = agent.policy()[k] > 0
        np.testing.assert_array_equal(best, Qbar >= Qbar.max(-1, keepdims=True))


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
