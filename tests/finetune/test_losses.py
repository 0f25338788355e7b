"""Loss values on hand-computed tensors (math.* / numpy oracles), shapes, and k = 1 reductions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from duelbandit.errors import ConfigError
from duelbandit.finetune.losses import (
    GPO_FUNCTIONS,
    dpo_loss,
    gpo_loss,
    ipo_loss,
    mdpo_loss,
    mipo_loss,
    nll_loss,
    slic_loss,
)

RHO = torch.tensor([-2.0, -0.5, 0.0, 0.3, 1.5], dtype=torch.float64)

HAND = {  # f(x) written independently with math.*
    "logistic": lambda x: math.log1p(math.exp(-x)),
    "hinge": lambda x: max(0.0, 1.0 - x),
    "squared": lambda x: (x - 1.0) ** 2,
    "exponential": lambda x: math.exp(-x),
    "truncated_quadratic": lambda x: max(0.0, 1.0 - x) ** 2,
    "savage": lambda x: 1.0 / (1.0 + math.exp(x)) ** 2,
}


@pytest.mark.parametrize("name", sorted(HAND))
def test_gpo_values_match_hand_formulas(name):
    beta = 0.7
    got = gpo_loss(RHO, beta=beta, f=name)
    assert got.shape == RHO.shape
    want = [HAND[name](beta * r) for r in RHO.tolist()]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-14)


def test_gpo_accepts_a_callable_and_refuses_unknown_names():
    got = gpo_loss(RHO, beta=2.0, f=lambda x: x.abs())
    np.testing.assert_allclose(got.numpy(), np.abs(2.0 * RHO.numpy()))
    with pytest.raises(ConfigError, match="f: expected one of"):
        gpo_loss(RHO, beta=1.0, f="nope")
    with pytest.raises(ConfigError, match="beta: expected a positive number, got -1"):
        gpo_loss(RHO, beta=-1.0)


def test_gpo_functions_are_decreasing_at_zero():
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    for name, f in GPO_FUNCTIONS.items():
        (g,) = torch.autograd.grad(f(x).sum(), x)
        assert g.item() < 0, name


def test_dpo_hand_values_margin_and_soft_label():
    rho = torch.tensor([0.4, -1.0], dtype=torch.float64)
    beta = 0.5
    want = [-math.log(1 / (1 + math.exp(-beta * r))) for r in (0.4, -1.0)]
    np.testing.assert_allclose(dpo_loss(rho, beta=beta).numpy(), want, rtol=1e-12)
    # margin m: -log sigma(beta rho - m)
    want_m = [-math.log(1 / (1 + math.exp(-(beta * r - 0.3)))) for r in (0.4, -1.0)]
    np.testing.assert_allclose(dpo_loss(rho, beta=beta, margin=0.3).numpy(), want_m, rtol=1e-12)
    # soft label y: cross-entropy against y
    y = 0.8
    s = [1 / (1 + math.exp(-beta * r)) for r in (0.4, -1.0)]
    want_y = [-(y * math.log(p) + (1 - y) * math.log(1 - p)) for p in s]
    np.testing.assert_allclose(dpo_loss(rho, beta=beta, label=y).numpy(), want_y, rtol=1e-12)
    # a tie (y = 1/2) is minimised at rho = 0
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(dpo_loss(x, beta=1.0, label=0.5).sum(), x)
    assert abs(g.item()) < 1e-15


def test_ipo_constant_is_one_over_two_tau_and_matches_gpo_squared():
    tau = 0.25
    want = [(r - 1 / (2 * tau)) ** 2 for r in RHO.tolist()]
    np.testing.assert_allclose(ipo_loss(RHO, tau=tau).numpy(), want, rtol=1e-12)
    # the spec's table: squared is IPO with tau = beta / 2 (up to the factor beta^2)
    beta = 2 * tau
    np.testing.assert_allclose((gpo_loss(RHO, beta=beta, f="squared") / beta**2).numpy(), want, rtol=1e-12)


def test_slic_is_an_unnormalised_hinge_plus_sft():
    lw = torch.tensor([-3.0, -10.0], dtype=torch.float64)
    ll = torch.tensor([-5.0, -9.0], dtype=torch.float64)
    got = slic_loss(lw, ll, delta=1.0, lam=0.1)
    want = [max(0.0, 1 - (-3.0) + (-5.0)) + 0.1 * 3.0, max(0.0, 1 - (-10.0) + (-9.0)) + 0.1 * 10.0]
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12)


def test_multi_sample_losses_reduce_to_dpo_and_ipo_at_k1():
    g = torch.Generator().manual_seed(0)
    a_w = torch.randn(7, 1, generator=g, dtype=torch.float64)
    a_l = torch.randn(7, 1, generator=g, dtype=torch.float64)
    rho = a_w[:, 0] - a_l[:, 0]
    assert torch.equal(mdpo_loss(a_w, a_l, beta=0.3), dpo_loss(rho, beta=0.3))
    assert torch.equal(mipo_loss(a_w, a_l, tau=0.4, unbiased=True), ipo_loss(rho, tau=0.4))
    assert torch.equal(mipo_loss(a_w, a_l, tau=0.4, unbiased=False), ipo_loss(rho, tau=0.4))


def test_mipo_hand_values():
    a_w = torch.tensor([[1.0, 3.0]], dtype=torch.float64)  # mean 2, unbiased var 2, var of mean 1
    a_l = torch.tensor([[0.0, 0.0, 3.0]], dtype=torch.float64)  # mean 1, var 3, var of mean 1
    tau = 0.5  # 1/(2 tau) = 1
    assert mipo_loss(a_w, a_l, tau=tau, unbiased=False).item() == pytest.approx((2 - 1 - 1) ** 2)
    assert mipo_loss(a_w, a_l, tau=tau, unbiased=True).item() == pytest.approx(0.0 - 1.0 - 1.0)
    # mDPO uses the group means
    assert mdpo_loss(a_w, a_l, beta=1.0).item() == pytest.approx(math.log1p(math.exp(-1.0)))
    with pytest.raises(ConfigError, match=r"a_w: expected shape \(batch, k\)"):
        mipo_loss(a_w[0], a_l, tau=tau)


def test_nll_is_per_token():
    got = nll_loss(torch.tensor([-6.0, -2.0]), torch.tensor([3, 0]))
    np.testing.assert_allclose(got.numpy(), [2.0, 2.0])
