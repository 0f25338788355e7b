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
import scipy.linalg
import scipy.optimize

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


def _line_search(A: np.ndarray, D: np.ndarray, hi: float) -> float:
    """argmax_{alpha in [0, hi]} log det(A + alpha D) = log det A + sum_k log(1 + alpha nu_k), nu = eig of
    C^{-1} D C^{-T} (A = C C^T): concave in alpha."""
    C = np.linalg.cholesky(A)
    Ci = scipy.linalg.solve_triangular(C, np.eye(A.shape[0]), lower=True)
    N = Ci @ D @ Ci.T
    nu = np.linalg.eigvalsh(0.5 * (N + N.T))
    if (nu < 0).any():
        hi = min(hi, (1.0 - 1e-12) / float(-nu.min()))

    def neg(a: float) -> float:
        return -float(np.sum(np.log1p(a * nu)))

    a = float(scipy.optimize.minimize_scalar(neg, bounds=(0.0, hi), method="bounded",
                                             options={"xatol": 1e-12 * max(hi, 1e-12)}).x)
    return a if neg(a) < neg(0.0) else 0.0


def _polish(B: np.ndarray, w: np.ndarray, ridge: float, eps: float, max_iter: int) -> tuple[np.ndarray, int]:
    """Frank–Wolfe with away and drop steps on log det(ridge I + M(w)) until the gap <= eps d, from w.

    Each step recomputes A = ridge I + M(w) and the leverages exactly (O(L d^2)); the line search is exact
    (:func:`_line_search`). Used after the engine's solve, whose ridge line search can stall when the
    ridge dwarfs M(w)."""
    w = w.copy()
    d = B.shape[1]
    steps = 0
    for steps in range(max_iter):  # noqa: B007 (the count is returned)
        A = information_matrix(B, w, reg=ridge)
        A_inv = np.linalg.inv(A)
        g = leverages(B, 0.5 * (A_inv + A_inv.T))
        center = float(w @ g)
        j = int(np.argmax(g))
        if g[j] - center <= eps * d:
            break
        M = A - ridge * np.eye(d)
        supp = np.flatnonzero(w > 0)
        k = supp[int(np.argmin(g[supp]))]
        alpha = 0.0
        if center - g[k] > g[j] - center and w[k] < 1.0:
            hi = w[k] / (1.0 - w[k])
            alpha = _line_search(A, M - np.outer(B[k], B[k]), hi)
            if alpha > 0:
                w *= 1.0 + alpha
                w[k] -= alpha
                if alpha >= hi * (1 - 1e-6):
                    w[k] = 0.0
        if alpha <= 0:
            alpha = _line_search(A, np.outer(B[j], B[j]) - M, 1.0)
            if alpha <= 0:
                break
            w *= 1.0 - alpha
            w[j] += alpha
        w[w < 1e-14] = 0.0
        w /= w.sum()
    return w, steps


def regularised_design(
    B: np.ndarray, ridge: float, *, eps: float = 1e-3, max_iter: int | None = None
) -> Design:
    """Bayesian D-optimal design w* = argmax_w log det(ridge I + M(w)) on the rows of B (module docstring).

    Solved by the engine's Frank–Wolfe with away steps and an exact ridge line search, then polished by
    :func:`_polish` until the gap max_i g_i - sum_i w_i g_i <= eps d (the engine's ridge step can stall when
    the ridge dwarfs M(w)), so f(w*) - f(w) <= eps d. ``info["certificate"]`` holds
    :func:`regularised_certificate` of the returned weights (``["gap"]`` says how close it got).

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
    B = np.asarray(B, dtype=np.float64)
    design = optimal_design(B, method="fw", reg=float(ridge), eps=eps, max_iter=max_iter)
    w, polish = _polish(B, design.weights, float(ridge), eps, 1000 if max_iter is None else max_iter)
    cert = regularised_certificate(B, w, ridge)
    return Design(weights=w, certificate=design.certificate,
                  info={**design.info, "certificate": cert, "ridge": float(ridge), "polish_steps": polish})
