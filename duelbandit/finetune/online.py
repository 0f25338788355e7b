"""Online preference optimisation on the exact tabular testbed: Nash-MD, online IPO and IPO-MD.

A tabular policy is a probability vector over a finite response set (one row per prompt: arrays are
(..., K)); the preference model is a matrix P[y, y'] = P(y > y') with P + P^T = 1 (Bradley–Terry or
not: an intransitive P, e.g. rock-paper-scissors, has no reward but still a regularised Nash equilibrium)

    pi*_tau(y) ∝ mu(y) exp(P(y > pi*_tau) / tau),   P(y > pi) = sum_y' pi(y') P[y, y']   (Munos et al. 2023).

- Nash-MD: pi_{t+1} ∝ pi_t^{1 - eta tau} mu^{eta tau} exp(eta P(y > pi_t^mu)), pi_t^mu ∝ pi_t^{1-eta tau} mu^{eta tau}.
- Online IPO (Calandriello et al. 2024): pairs drawn from stop-gradient(pi_theta), labelled by P, loss
  (a(y_w) - a(y_l) - 1/(2 tau))^2 with a = log pi_theta - log mu; its fixed point is pi*_tau.
- IPO-MD: the same with pairs drawn from pi_mix ∝ pi_theta^{1 - beta} mu^beta (beta = 0 is online IPO).

Exact versions use population gradients (no sampling noise); ``*_sampled`` ones draw pairs and labels.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import root
from scipy.special import log_softmax, softmax

from duelbandit.errors import OnlineError
from duelbandit.finetune.mixture import geometric_mixture
from duelbandit.rng import as_generator


def check_preference_matrix(P: np.ndarray, name: str = "P") -> np.ndarray:
    """Validate a preference matrix: (..., K, K), entries in [0, 1], P + P^T = 1 (so P[y, y] = 1/2)."""
    P = np.asarray(P, dtype=np.float64)
    if P.ndim < 2 or P.shape[-1] != P.shape[-2]:
        raise OnlineError(f"{name}: expected a square (..., K, K) matrix, got shape {P.shape}")
    if not np.all(np.isfinite(P)) or np.any((P < 0) | (P > 1)):
        raise OnlineError(f"{name}: expected probabilities in [0, 1] (no NaN)")
    err = np.abs(P + np.swapaxes(P, -1, -2) - 1).max()
    if err > 1e-9:
        raise OnlineError(f"{name}: expected P + P^T = 1 (P[y, y'] = P(y > y')), off by {err:.3g}")
    return P


def _check_policy(p: np.ndarray, name: str) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if np.any(p <= 0) or not np.allclose(p.sum(-1), 1, atol=1e-9):
        raise OnlineError(f"{name}: expected a full-support probability vector over the last axis")
    return p


def win_prob(P: np.ndarray, pi: np.ndarray) -> np.ndarray:
    """P(y > pi) = sum_y' pi(y') P[y, y'], shape (..., K)."""
    return np.einsum("...ij,...j->...i", P, pi)


def kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) over the last axis (0 log 0 = 0)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    return np.sum(np.where(p > 0, p * (np.log(np.where(p > 0, p, 1)) - np.log(q)), 0.0), axis=-1)


def regularised_nash(P: np.ndarray, mu: np.ndarray, tau: float, *, tol: float = 1e-13) -> np.ndarray:
    """pi*_tau, the unique solution of pi = softmax(log mu + P pi / tau), by Newton-type root finding
    (scipy ``hybr``) on the logits, independent of the Nash-MD iteration. Shapes: P (K, K), mu (K,).

    Raises:
        OnlineError: when the solver does not reach ``tol`` on the fixed-point residual.
    """
    P = check_preference_matrix(P)
    mu = _check_policy(mu, "mu")
    if not tau > 0:
        raise OnlineError(f"tau: expected a value > 0, got {tau!r}")
    lmu = np.log(mu)

    def F(z: np.ndarray) -> np.ndarray:
        return z - lmu - P @ softmax(z) / tau

    sol = root(F, lmu + P @ mu / tau, method="hybr", tol=1e-15)
    pi = softmax(sol.x)
    res = np.abs(pi - softmax(lmu + P @ pi / tau)).max()
    if res > max(tol, 1e-10):
        raise OnlineError(f"regularised_nash: fixed-point residual {res:.3g} after root finding (tau={tau})")
    return pi


def nash_md_step(pi: np.ndarray, mu: np.ndarray, P: np.ndarray, *, eta: float, tau: float) -> np.ndarray:
    """One exact Nash-MD step (Munos et al. 2023, eq. 6): mixture pi^mu, then the mirror-descent update."""
    if not (eta > 0 and tau > 0 and eta * tau <= 1):
        raise OnlineError(f"eta, tau: expected eta > 0, tau > 0 and eta * tau <= 1, got {eta!r}, {tau!r}")
    lmix = geometric_mixture(np.log(pi), np.log(mu), 1.0 - eta * tau)
    return softmax(lmix + eta * win_prob(P, np.exp(lmix)), axis=-1)


def nash_md(
    mu: np.ndarray,
    P: np.ndarray,
    *,
    tau: float,
    eta: float | Callable[[int], float],
    steps: int,
    pi0: np.ndarray | None = None,
) -> np.ndarray:
    """Exact Nash-MD for ``steps`` steps from ``pi0`` (default mu); ``eta`` may be a schedule t -> eta_t.

    Returns:
        (steps + 1, ..., K) the policies pi_0 ... pi_steps (the last iterate is the answer).
    """
    P = check_preference_matrix(P)
    pi = _check_policy(mu if pi0 is None else pi0, "pi0")
    mu = _check_policy(mu, "mu")
    out = [pi]
    for t in range(int(steps)):
        pi = nash_md_step(pi, mu, P, eta=eta(t) if callable(eta) else eta, tau=tau)
        out.append(pi)
    return np.stack(out)


def ipo_population_grad(theta: np.ndarray, mu: np.ndarray, P: np.ndarray, s: np.ndarray, tau: float
                        ) -> np.ndarray:
    """d/dtheta of E_{y, y' ~ s, label ~ P} (a(y_w) - a(y_l) - 1/(2 tau))^2 with a = log softmax(theta) - log mu.

    With c = 1/(2 tau): dL/da_k = 4 s_k [(a_k - sum_y s_y a_y) + c (1 - 2 P(k > s))], and
    dL/dtheta = g - pi sum(g) (softmax Jacobian). Zero iff a_k = const + P(k > s) / tau.
    """
    a = log_softmax(theta, axis=-1) - np.log(mu)
    abar = np.sum(s * a, axis=-1, keepdims=True)
    g = 4 * s * ((a - abar) + (1 - 2 * win_prob(P, s)) / (2 * tau))
    pi = softmax(theta, axis=-1)
    return g - pi * g.sum(-1, keepdims=True)


def ipo_md(
    mu: np.ndarray, P: np.ndarray, *, tau: float, beta: float, lr: float, steps: int,
    theta0: np.ndarray | None = None,
) -> np.ndarray:
    """Exact IPO-MD: gradient steps on the IPO loss with pairs from sg(pi_mix), pi_mix ∝ pi^{1-beta} mu^beta.

    Returns:
        (steps + 1, ..., K) policies. ``beta = 0`` is online IPO (:func:`online_ipo`).
    """
    P = check_preference_matrix(P)
    mu = _check_policy(mu, "mu")
    if not 0 <= beta <= 1:
        raise OnlineError(f"beta: expected a value in [0, 1], got {beta!r}")
    theta = np.log(mu) if theta0 is None else np.asarray(theta0, np.float64)
    out = [softmax(theta, axis=-1)]
    for _ in range(int(steps)):
        s = np.exp(geometric_mixture(log_softmax(theta, axis=-1), np.log(mu), 1.0 - beta))
        theta = theta - lr * ipo_population_grad(theta, mu, P, s, tau)
        out.append(softmax(theta, axis=-1))
    return np.stack(out)


def online_ipo(
    mu: np.ndarray, P: np.ndarray, *, tau: float, lr: float, steps: int, theta0: np.ndarray | None = None,
) -> np.ndarray:
    """Exact online IPO: gradient steps on the IPO loss with pairs from stop-gradient(pi_theta)."""
    P = check_preference_matrix(P)
    mu = _check_policy(mu, "mu")
    theta = np.log(mu) if theta0 is None else np.asarray(theta0, np.float64)
    out = [softmax(theta, axis=-1)]
    for _ in range(int(steps)):
        pi = softmax(theta, axis=-1)
        theta = theta - lr * ipo_population_grad(theta, mu, P, pi, tau)
        out.append(softmax(theta, axis=-1))
    return np.stack(out)


def ipo_pairs_grad(theta: np.ndarray, mu: np.ndarray, w: np.ndarray, l: np.ndarray, tau: float) -> np.ndarray:
    """Gradient over theta (K,) of mean_s (a(w_s) - a(l_s) - 1/(2 tau))^2 on labelled pairs (w_s beat l_s)."""
    h = theta - np.log(mu)  # a up to a constant, which cancels in a(w) - a(l)
    r = h[w] - h[l] - 1 / (2 * tau)
    g = np.zeros_like(theta)
    np.add.at(g, w, 2 * r / len(w))
    np.add.at(g, l, -2 * r / len(w))
    return g


def online_ipo_sampled(
    mu: np.ndarray, P: np.ndarray, *, tau: float, labels: int, batch: int, lr: float,
    rng: int | np.random.Generator, beta: float = 0.0,
) -> np.ndarray:
    """Online IPO / IPO-MD with a label budget: each step draws ``batch`` pairs from sg(pi_mix), labels
    them by Bernoulli(P), and takes an SGD step on their IPO loss. One prompt: mu (K,), P (K, K).

    Returns:
        (K,) the final policy.
    """
    gen = as_generator(rng)
    P = check_preference_matrix(P)
    mu = _check_policy(mu, "mu")
    theta = np.log(mu)
    K = mu.shape[-1]
    for _ in range(max(1, int(labels) // int(batch))):
        s = np.exp(geometric_mixture(log_softmax(theta), np.log(mu), 1.0 - beta))
        y, y2 = gen.choice(K, size=batch, p=s), gen.choice(K, size=batch, p=s)
        first = gen.random(batch) < P[y, y2]
        w, l = np.where(first, y, y2), np.where(first, y2, y)
        theta = theta - lr * ipo_pairs_grad(theta, mu, w, l, tau)
    return softmax(theta)


def offline_ipo_optimum(mu: np.ndarray, w: np.ndarray, l: np.ndarray, tau: float) -> np.ndarray:
    """Offline IPO's exact empirical optimum on fixed labelled pairs: h = log pi - log mu minimises
    sum_s (h[w_s] - h[l_s] - 1/(2 tau))^2; gradient descent from h = 0 (pi = mu) reaches the minimum-norm
    least-squares solution, computed here directly. Returns (K,) pi ∝ mu exp(h)."""
    K = mu.shape[-1]
    A = np.zeros((len(w), K))
    A[np.arange(len(w)), w] += 1
    A[np.arange(len(w)), l] -= 1
    h = np.linalg.lstsq(A, np.full(len(w), 1 / (2 * tau)), rcond=None)[0] if len(w) else np.zeros(K)
    return softmax(np.log(mu) + h)
