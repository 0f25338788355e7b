"""The tabular testbed reaches the closed-form optima (numpy oracles written here), and the mIPO estimators."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.finetune.losses import dpo_loss, gpo_loss, ipo_loss, mipo_loss
from duelbandit.finetune.tabular import fit_tabular, sample_group_log_ratios


def _softmax(z):
    z = np.exp(z - z.max())
    return z / z.sum()


def _sigma(x):
    return 1 / (1 + np.exp(-x))


@pytest.mark.parametrize("seed", [0, 1])
def test_dpo_reaches_pi_ref_exp_r_over_beta(seed):
    rng = np.random.default_rng(seed)
    n, beta = 6, 0.6
    pi_ref, mu, r = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(n)), rng.normal(size=n)
    P = _sigma(r[:, None] - r[None, :])
    pi = fit_tabular(lambda rho: dpo_loss(rho, beta=beta), pi_ref=pi_ref, mu=mu, P=P)
    np.testing.assert_allclose(pi, _softmax(np.log(pi_ref) + r / beta), atol=1e-6)


def test_ipo_reaches_its_optimum_for_an_intransitive_matrix():
    # rock-paper-scissors plus a fourth response: no BT reward explains it
    P = np.array([[0.5, 0.9, 0.2, 0.6], [0.1, 0.5, 0.8, 0.7], [0.8, 0.2, 0.5, 0.4], [0.4, 0.3, 0.6, 0.5]])
    pi_ref, mu, tau = np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.4, 0.3, 0.2, 0.1]), 0.3
    pi = fit_tabular(lambda rho: ipo_loss(rho, tau=tau), pi_ref=pi_ref, mu=mu, P=P)
    np.testing.assert_allclose(pi, _softmax(np.log(pi_ref) + P @ mu / tau), atol=1e-6)


# the spec's last column: argmin_x p f(x) + (1 - p) f(-x)
TWO_RESPONSE = {
    "logistic": lambda p: np.log(p / (1 - p)),
    "hinge": lambda p: np.sign(p - 0.5),
    "squared": lambda p: 2 * p - 1,
    "exponential": lambda p: np.log(p / (1 - p)) / 2,
    "truncated_quadratic": lambda p: 2 * p - 1,
    "savage": lambda p: np.log(p / (1 - p)),
}


@pytest.mark.parametrize("name", sorted(TWO_RESPONSE))
@pytest.mark.parametrize("p", [0.3, 0.8])
def test_gpo_two_response_optimum(name, p):
    beta = 1.5
    P = np.array([[0.5, p], [1 - p, 0.5]])
    pi_ref = np.array([0.3, 0.7])
    pi = fit_tabular(lambda rho: gpo_loss(rho, beta=beta, f=name), pi_ref=pi_ref, mu=np.array([0.5, 0.5]), P=P)
    x = beta * (np.log(pi[0] / pi_ref[0]) - np.log(pi[1] / pi_ref[1]))  # beta rho at the optimum
    assert x == pytest.approx(TWO_RESPONSE[name](p), abs=1e-6)


def test_unbiased_mipo_estimator_is_unbiased_and_plugin_is_not():
    rng = np.random.default_rng(3)
    n, k, tau, G = 5, 3, 0.5, 200_000
    a = rng.normal(size=n)  # log-ratios of the 5 responses
    pi_w, pi_l = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(n))
    population = (pi_w @ a - pi_l @ a - 1 / (2 * tau)) ** 2
    a_w, a_l = sample_group_log_ratios(pi_w, pi_l, a, k=k, n_groups=G, rng=rng)
    import torch

    ub = mipo_loss(torch.from_numpy(a_w), torch.from_numpy(a_l), tau=tau, unbiased=True).numpy()
    pl = mipo_loss(torch.from_numpy(a_w), torch.from_numpy(a_l), tau=tau, unbiased=False).numpy()
    se_ub, se_pl = ub.std(ddof=1) / np.sqrt(G), pl.std(ddof=1) / np.sqrt(G)
    assert abs(ub.mean() - population) <= 3 * se_ub
    # the plug-in bias is Var(mean a_w) + Var(mean a_l) (closed form from the sampling distributions)
    bias = (pi_w @ a**2 - (pi_w @ a) ** 2) / k + (pi_l @ a**2 - (pi_l @ a) ** 2) / k
    assert pl.mean() - population > 10 * se_pl
    assert abs(pl.mean() - population - bias) <= 3 * se_pl
