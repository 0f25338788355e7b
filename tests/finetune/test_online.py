"""Exact tabular Nash-MD, online IPO and IPO-MD against the regularised Nash equilibrium and Munos et al.'s
inequality (Theorem 1), on transitive (Bradley–Terry) and intransitive preference matrices."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit, softmax

from duelbandit.errors import OnlineError
from duelbandit.finetune import online as on


def bt_matrix(r):
    return expit(r[:, None] - r[None, :])


def random_matrix(gen, K):
    U = gen.uniform(0, 1, size=(K, K))
    P = np.triu(U, 1)
    P = P + np.tril(1 - P.T, -1)
    np.fill_diagonal(P, 0.5)
    return P


RPS = np.array([[0.5, 0.9, 0.1], [0.1, 0.5, 0.9], [0.9, 0.1, 0.5]])  # rock-paper-scissors: no BT reward


def matrices():
    gen = np.random.default_rng(0)
    return [
        ("bt", bt_matrix(gen.normal(size=5) * 2), gen.dirichlet(np.ones(5))),
        ("random", random_matrix(gen, 6), gen.dirichlet(np.ones(6))),
        ("rps", RPS, np.array([0.6, 0.3, 0.1])),
    ]


def kl(p, q):
    return float(np.sum(p * np.log(p / q)))


def nash_residual(pi, P, mu, tau):
    """The defining fixed-point equation of pi*_tau, written out independently."""
    return np.abs(pi - softmax(np.log(mu) + P @ pi / tau)).max()


def test_rps_is_intransitive():
    # every response is beaten by another with probability 0.9: no reward ranks them
    assert all((RPS[:, k] > 0.5).any() for k in range(3))


@pytest.mark.parametrize("name,P,mu", matrices())
@pytest.mark.parametrize("eta,tau", [(0.05, 1.0), (0.3, 0.5), (1.0, 1.0), (2.0, 0.1)])
def test_nash_md_inequality_every_step(name, P, mu, eta, tau):
    star = on.regularised_nash(P, mu, tau)
    assert nash_residual(star, P, mu, tau) < 1e-10
    traj = on.nash_md(mu, P, tau=tau, eta=eta, steps=200)
    for t in range(200):
        lhs = kl(star, traj[t + 1])
        rhs = (1 - eta * tau) * kl(star, traj[t]) + 2 * eta**2
        assert lhs <= rhs + 1e-12, (t, lhs, rhs)


@pytest.mark.parametrize("name,P,mu", matrices())
@pytest.mark.parametrize("tau", [0.2, 1.0])
def test_nash_md_last_iterate_rate(name, P, mu, tau):
    """eta_t = 2 / (tau (t + 2)) gives KL(pi*, pi_T) <= 8 / (tau^2 (T + 3)) (Munos et al. 2023, Thm 1)."""
    star = on.regularised_nash(P, mu, tau)
    traj = on.nash_md(mu, P, tau=tau, eta=lambda t: 2 / (tau * (t + 2)), steps=3000)
    for T in (1, 10, 100, 3000):
        assert kl(star, traj[T]) <= 8 / (tau**2 * (T + 3)) + 1e-12
    assert np.abs(traj[-1] - star).max() < 2e-3


@pytest.mark.parametrize("name,P,mu", matrices())
def test_online_ipo_fixed_point_is_the_nash_equilibrium(name, P, mu):
    tau = 0.5
    traj = on.online_ipo(mu, P, tau=tau, lr=0.5, steps=2000)
    pi = traj[-1]
    assert nash_residual(pi, P, mu, tau) < 1e-7
    np.testing.assert_allclose(pi, on.regularised_nash(P, mu, tau), atol=1e-6)


def explicit_ipo_loss(theta, mu, P, s, tau):
    """E over ordered pairs y, y' ~ s and the winner ~ P of the IPO loss, as a double sum."""
    a = np.log(softmax(theta)) - np.log(mu)
    c = 1 / (2 * tau)
    K = len(mu)
    return sum(
        s[i] * s[j] * (P[i, j] * (a[i] - a[j] - c) ** 2 + P[j, i] * (a[j] - a[i] - c) ** 2)
        for i in range(K) for j in range(K)
    )


def test_population_gradient_equals_finite_differences():
    gen = np.random.default_rng(3)
    K = 5
    P, mu = random_matrix(gen, K), gen.dirichlet(np.ones(K))
    theta, s = gen.normal(size=K), gen.dirichlet(np.ones(K))
    g = on.ipo_population_grad(theta, mu, P, s, 0.7)
    eps = 1e-6
    fd = [(explicit_ipo_loss(theta + eps * e, mu, P, s, 0.7) - explicit_ipo_loss(theta - eps * e, mu, P, s, 0.7))
          / (2 * eps) for e in np.eye(K)]
    np.testing.assert_allclose(g, fd, atol=1e-7)


@pytest.mark.parametrize("name,P,mu", matrices())
def test_ipo_md_beta_zero_is_online_ipo_step_for_step(name, P, mu):
    a = on.online_ipo(mu, P, tau=0.3, lr=1.0, steps=50)
    b = on.ipo_md(mu, P, tau=0.3, beta=0.0, lr=1.0, steps=50)
    np.testing.assert_allclose(a, b, atol=1e-13, rtol=0)
    c = on.ipo_md(mu, P, tau=0.3, beta=0.5, lr=1.0, steps=50)
    assert np.abs(c[-1] - a[-1]).max() > 1e-4  # the mixture really changes the sampling


def test_ipo_md_beta_one_samples_the_reference_and_reaches_offline_ipo_optimum():
    """beta = 1 draws pairs from mu: the fixed point is offline IPO's pi ∝ mu exp(P(y > mu) / tau)."""
    P, mu = RPS, np.array([0.6, 0.3, 0.1])
    pi = on.ipo_md(mu, P, tau=0.5, beta=1.0, lr=0.5, steps=2000)[-1]
    np.testing.assert_allclose(pi, softmax(np.log(mu) + P @ mu / 0.5), atol=1e-8)


def test_sampled_online_ipo_approaches_the_equilibrium():
    gen = np.random.default_rng(5)
    P, mu = bt_matrix(np.array([1.5, 0.5, 0.0, -1.0])), gen.dirichlet(np.ones(4) * 3)
    star = on.regularised_nash(P, mu, 0.5)
    pi = on.online_ipo_sampled(mu, P, tau=0.5, labels=100000, batch=100, lr=0.1, rng=0)
    assert np.abs(pi - star).max() < 0.03
    assert np.abs(mu - star).max() > 0.09  # so staying at mu would fail


def test_offline_ipo_optimum_single_pair_closed_form():
    mu = np.array([0.5, 0.25, 0.25])
    pi = on.offline_ipo_optimum(mu, np.array([0]), np.array([1]), tau=0.25)  # h0 - h1 = 2, min norm: +-1
    np.testing.assert_allclose(pi, softmax(np.log(mu) + np.array([1.0, -1.0, 0.0])), atol=1e-12)


def test_bad_inputs():
    with pytest.raises(OnlineError, match="P \\+ P\\^T"):
        on.nash_md(np.ones(2) / 2, np.array([[0.5, 0.7], [0.7, 0.5]]), tau=1, eta=0.1, steps=1)
    with pytest.raises(OnlineError, match="eta \\* tau"):
        on.nash_md_step(np.ones(2) / 2, np.ones(2) / 2, np.full((2, 2), 0.5), eta=2, tau=1)
    with pytest.raises(OnlineError, match="beta"):
        on.ipo_md(np.ones(2) / 2, np.full((2, 2), 0.5), tau=1, beta=1.5, lr=1, steps=1)
