"""The exact tabular testbed: softmax policies over a finite response set, where every preference loss has a
closed-form population optimum to check against (docs/concepts/losses.md, spec sections 2-3).

One prompt, n responses. A policy is ``softmax(logits)``; the reference ``pi_ref`` is a probability vector;
responses are sampled in pairs from ``mu`` (any full-support distribution); ``P[i, j] = P(y_i > y_j)`` is a
preference matrix with ``P + P.T = 1`` (Bradley–Terry ``sigma(r_i - r_j)`` or intransitive). The population
loss of a per-pair loss ``l(rho)`` is

    L(theta) = sum_{i, j} mu_i mu_j P_ij l(rho_ij),   rho_ij = a_i - a_j,   a = log pi_theta - log pi_ref.

rho_ij = theta_i - theta_j - (log pi_ref_i - log pi_ref_j) is linear in the logits (the normaliser cancels),
so L is convex in theta for convex l, and L-BFGS reaches the optimum to ~1e-10.

Closed forms (Rafailov et al. 2023; Azar et al. 2023): DPO under BT preferences is minimised by
``pi_ref exp(r / beta) / Z`` for every full-support mu; IPO is minimised by ``pi_ref exp(p(y > mu) / tau) / Z``
for ANY preference matrix, with ``p(y_i > mu) = sum_j mu_j P_ij``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rng import as_generator

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "bt_preferences",
    "dpo_optimum",
    "fit_tabular",
    "ipo_optimum",
    "log_ratios",
    "population_loss",
    "sample_group_log_ratios",
]


def _prob(name: str, p: np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size < 2 or np.any(p <= 0) or abs(p.sum() - 1.0) > 1e-9:
        raise ConfigError(f"{name}: expected a full-support probability vector of length >= 2, got {p!r}")
    return p


def bt_preferences(r: np.ndarray) -> np.ndarray:
    """(n, n) Bradley–Terry preference matrix ``P_ij = sigma(r_i - r_j)`` (float64)."""
    r = np.asarray(r, dtype=np.float64)
    d = r[:, None] - r[None, :]
    return 0.5 * (1.0 + np.tanh(d / 2.0))  # sigma without overflow


def dpo_optimum(pi_ref: np.ndarray, r: np.ndarray, *, beta: float) -> np.ndarray:
    """``pi_ref exp(r / beta) / Z``: the DPO population optimum under BT preferences (Rafailov et al. 2023)."""
    z = np.log(_prob("pi_ref", pi_ref)) + np.asarray(r, dtype=np.float64) / beta
    z = np.exp(z - z.max())
    return z / z.sum()


def ipo_optimum(pi_ref: np.ndarray, P: np.ndarray, mu: np.ndarray, *, tau: float) -> np.ndarray:
    """``pi_ref exp(p(y > mu) / tau) / Z``, ``p(y_i > mu) = sum_j mu_j P_ij``: the IPO optimum (Azar et al. 2023)."""
    z = np.log(_prob("pi_ref", pi_ref)) + np.asarray(P, dtype=np.float64) @ _prob("mu", mu) / tau
    z = np.exp(z - z.max())
    return z / z.sum()


def log_ratios(logits: Tensor, log_pi_ref: Tensor) -> Tensor:
    """(n,) a = log softmax(logits) - log pi_ref."""
    import torch

    return torch.log_softmax(logits, dim=-1) - log_pi_ref


def population_loss(logits: Tensor, loss: Callable[[Tensor], Tensor], *, pi_ref: np.ndarray, mu: np.ndarray,
                    P: np.ndarray) -> Tensor:
    """``sum_ij mu_i mu_j P_ij loss(a_i - a_j)`` (module docstring): the expected loss of a pair drawn from mu x mu
    and labelled by P, as a differentiable scalar.

    Args:
        logits: (n,) policy logits (float64 recommended).
        loss: per-pair loss of rho, e.g. ``lambda rho: dpo_loss(rho, beta=0.5)``.
        pi_ref, mu: (n,) probability vectors; P: (n, n) preference matrix.
    """
    import torch

    pi_ref, mu = _prob("pi_ref", pi_ref), _prob("mu", mu)
    P = np.asarray(P, dtype=np.float64)
    n = pi_ref.size
    if P.shape != (n, n) or not np.allclose(P + P.T, 1.0) or P.min() < 0:
        raise ConfigError(f"P: expected an ({n}, {n}) matrix with P + P.T = 1 and entries in [0, 1]")
    opts = {"dtype": logits.dtype, "device": logits.device}
    a = log_ratios(logits, torch.as_tensor(np.log(pi_ref), **opts))
    rho = (a[:, None] - a[None, :]).reshape(-1)
    w = torch.as_tensor((mu[:, None] * mu[None, :] * P).reshape(-1), **opts)
    return (w * loss(rho)).sum()


def fit_tabular(loss: Callable[[Tensor], Tensor], *, pi_ref: np.ndarray, mu: np.ndarray, P: np.ndarray,
                logits0: np.ndarray | None = None, max_iter: int = 500, tol: float = 1e-12) -> np.ndarray:
    """Minimise :func:`population_loss` over the logits by L-BFGS (strong Wolfe line search) in float64.

    Args:
        loss: per-pair loss of rho.
        pi_ref, mu, P: the testbed (see :func:`population_loss`).
        logits0: starting logits (default: log pi_ref, i.e. start at the reference policy).
        max_iter: L-BFGS iterations; tol: gradient tolerance.

    Returns:
        (n,) the optimised policy ``softmax(logits)`` as a float64 array.
    """
    import torch

    start = np.log(_prob("pi_ref", pi_ref)) if logits0 is None else np.asarray(logits0, dtype=np.float64)
    theta = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([theta], lr=1.0, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-15,
                            history_size=50, line_search_fn="strong_wolfe")

    def closure() -> Tensor:
        opt.zero_grad()
        value = population_loss(theta, loss, pi_ref=pi_ref, mu=mu, P=P)
        value.backward()
        return value

    for _ in range(5):  # LBFGS.step runs up to max_iter iterations; restart a few times for the last digits
        opt.step(closure)
    return torch.softmax(theta.detach(), dim=-1).numpy()


def sample_group_log_ratios(pi_w: np.ndarray, pi_l: np.ndarray, a: np.ndarray, *, k: int, n_groups: int,
                            rng: int | np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Simulate multi-sample groups on the testbed: k responses per side drawn i.i.d. from ``pi_w`` (winner side)
    and ``pi_l`` (loser side), returned as their log-ratios ``a[y]``.

    Returns:
        a_w, a_l: (n_groups, k) float64 arrays. The population mIPO value is
        ``(pi_w @ a - pi_l @ a - 1/(2 tau))^2``.
    """
    gen = as_generator(rng)
    a = np.asarray(a, dtype=np.float64)
    yw = gen.choice(a.size, size=(n_groups, k), p=_prob("pi_w", pi_w))
    yl = gen.choice(a.size, size=(n_groups, k), p=_prob("pi_l", pi_l))
    return a[yw], a[yl]
