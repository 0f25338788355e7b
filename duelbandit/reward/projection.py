"""Projection of the Bradley–Terry MLE onto the ball ||theta|| <= S (Faury et al. 2020, §4; used by
Scheid et al. 2024, Lemma 2)."""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit

from duelbandit.reward.linalg import design_matrix, logistic_hessian


def _project_faury(
    theta_hat: np.ndarray, X: np.ndarray, w: np.ndarray, lam: float, S: float, max_iter: int, tol: float
) -> tuple[np.ndarray, int]:
    """argmin_{||theta|| <= S} F(theta), F = 1/2 ||g(theta) - g(theta_hat)||^2_{V^{-1}} by projected gradient.

    g(theta) = lam theta + sum_s w_s sigma(<theta, b_s>) b_s, so
    grad F = H(theta) V^{-1} (g(theta) - g(theta_hat)).
    Start: the radial projection S theta_hat / ||theta_hat||; steps: Barzilai–Borwein length with an
    Armijo backtracking on the projection arc, so F never increases. F is non-convex: this returns a
    stationary point of the constrained problem at least as good as the start.
    """
    Vc = cho_factor(design_matrix(X, lam, w))

    def g_of(th: np.ndarray) -> np.ndarray:
        return lam * th + X.T @ (w * expit(X @ th))

    def proj(th: np.ndarray) -> np.ndarray:
        nrm = np.linalg.norm(th)
        return th if nrm <= S else th * (S / nrm)

    target = g_of(theta_hat)

    def F_grad(th: np.ndarray) -> tuple[float, np.ndarray]:
        r = g_of(th) - target
        u = cho_solve(Vc, r)
        return 0.5 * float(r @ u), logistic_hessian(th, X, lam, w) @ u

    theta = proj(theta_hat)
    F, grad = F_grad(theta)
    step = 1.0 / max(float(np.linalg.norm(design_matrix(X, lam, w), 2)), 1e-300)
    it = 0
    for it in range(1, max_iter + 1):
        while True:
            cand = proj(theta - step * grad)
            Fc, gc = F_grad(cand)
            if Fc <= F - 1e-4 / step * float((theta - cand) @ (theta - cand)):
                break
            step *= 0.5
            if step < 1e-20:  # no feasible descent visible in float64: stationary
                return theta, it
        s, yk = cand - theta, gc - grad
        moved = float(np.linalg.norm(s))
        theta, F, grad = cand, Fc, gc
        if moved <= tol * (1.0 + S) or F <= 0.0:
            break
        sy = float(s @ yk)
        step = float(s @ s) / sy if sy > 0 else 2.0 * step  # BB1 step, safeguarded by the Armijo loop
    return theta, it
