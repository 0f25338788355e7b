"""Budget-aware regularised (Bayesian) D-optimal design: argmax_w log det(lambda/T I + M(w)).

With a Gaussian prior of precision lambda on theta and T labels spread by the design w, the posterior
precision is lambda I + T M(w) = T (lambda/T I + M(w)); maximising its log det is Bayesian D-optimality
(Chaloner & Verdinelli 1995, "Bayesian experimental design: a review", §2.1; Pilz 1991). The ridge
lambda/T matters when T is small against d: directions the prior already pins down get fewer labels, so
the design spreads instead of spending a label on every extreme direction. As T -> infinity (or
lambda -> 0) it is the D-optimal design of Scheid et al. 2024 (Alg. 1).

Equivalence theorem (Kiefer–Wolfowitz type, for the concave f(w) = log det(rho I + M(w)), rho = lambda/T):
with g_i(w) = b_i^T (rho I + M(w))^{-1} b_i the gradient of f,

    w is optimal  iff  max_i g_i(w) <= sum_i w_i g_i(w)  (= tr((rho I + M)^{-1} M) = d - rho tr A^{-1}),

and for any w, by concavity, f(w*) - f(w) <= max_i g_i(w) - sum_i w_i g_i(w) (the Frank–Wolfe gap).
:func:`regularised_certificate` reports that gap; the solve reuses the engine's Frank–Wolfe with a ridge
(:func:`duelbandit.design.optimal_design` with ``reg = rho``), whose stop rule is the same gap.
"""

from __future__ import annotations

import numpy as np

from duelbandit.design.leverage import information_matrix, leverages
from duelbandit.design.optimal import optimal_design
from duelbandit.design.result import Design
from duelbandit.errors import DesignError


def regularised_certificate(B: np.ndarray, w: np.ndarray, ridge: float) -> dict:
    """The optimality certificate of w for f(w) = log det(ridge I + M(w)).

    Args:
        B: (L, d) candidates.
        w: (L,) design weights on the simplex.
        ridge: rho > 0.

    Returns:
        dict with ``logdet`` f(w), ``max_g`` = max_i g_i, ``center`` = sum_i w_i g_i and ``gap`` =
        max_g - center >= f* - f(w) (>= 0; 0 exactly at the optimum).
    """
    A = information_matrix(B, np.asarray(w, dtype=np.float64), reg=float(ridge))
    C = np.linalg.cholesky(A)
    A_inv = np.linalg.inv(A)
    g = leverages(B, 0.5 * (A_inv + A_inv.T))
    center = float(w @ g)
    max_g = float(g.max())
    return {"logdet": float(2.0 * np.log(np.diag(C)).sum()), "max_g": max_g, "center": center,
            "gap": max_g - center}


def regularised_design(
    B: np.ndarray, ridge: float, *, eps: float = 1e-3, max_iter: int | None = None
) -> Design:
    """Bayesian D-optimal design w* = argmax_w log det(ridge I + M(w)) on the rows of B (module docstring).

    Solved by the engine's Frank–Wolfe with away steps and an exact ridge line search; it stops when the
    gap max_i g_i - sum_i w_i g_i <= eps d, so f(w*) - f(w) <= eps d. ``info["certificate"]`` holds
    :func:`regularised_certificate` of the returned weights.

    Args:
        B: (L, d) candidates (within-prompt differences).
        ridge: rho = lambda / T > 0 (prior precision over the label budget).
        eps: tolerance of the gap, relative to d.
        max_iter: Frank–Wolfe step limit (None: the engine's default).

    Raises:
        DesignError: ridge not a finite number > 0.
    """
    if not (isinstance(ridge, (int, float, np.floating)) and np.isfinite(ridge) and ridge > 0):
        raise DesignError(f"ridge: expected a finite prior precision > 0, got {ridge!r}")
    design = optimal_design(B, method="fw", reg=float(ridge), eps=eps, max_iter=max_iter)
    cert = regularised_certificate(np.asarray(B, dtype=np.float64), design.weights, ridge)
    return Design(weights=design.weights, certificate=design.certificate,
                  info={**design.info, "certificate": cert, "ridge": float(ridge)})
