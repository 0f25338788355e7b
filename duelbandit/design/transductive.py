"""Transductive V-optimal (I-optimal) design: minimise the average prediction variance over the pool.

The greedy policy needs <theta_hat - theta*, b> small on the pairs of the pool, weighted by where the pool
has its mass — not on the worst extreme pair (D/G-optimality). With the pool's pair law m (by default the
law of ``uniform``: a uniform prompt, then a uniform pair of its responses) and Sigma = sum_l m_l b_l b_l^T,

    phi(w) = sum_l m_l b_l^T A(w)^{-1} b_l = tr(A(w)^{-1} Sigma),     A(w) = rho I + M(w),

is the m-averaged variance of the predicted reward gap (V- or I-optimality, Atkinson, Donev & Tobias
2007, §10.6; transductive design over the pool as in Fiez, Jain, Jamieson & Ratliff 2019, "Sequential
experimental design for transductive linear bandits"; ridge rho = lambda / T as in the Bayesian design).

phi is convex with gradient d phi / d w_i = -q_i, q_i = b_i^T A^{-1} Sigma A^{-1} b_i. Equivalence theorem
(KW type): w is optimal iff max_i q_i <= sum_i w_i q_i, and for any w, phi(w) - phi* <= max_i q_i -
sum_i w_i q_i (the Frank–Wolfe gap), which the solver reports and stops on.

Solver: Frank–Wolfe with away steps and an exact line search. Along A + alpha D (D = b_j b_j^T - M for a
toward step, M - b_k b_k^T for an away step), with A = C C^T, C^{-1} D C^{-T} = U diag(nu) U^T and
s = diag(U^T C^{-1} Sigma C^{-T} U): phi(alpha) = sum_k s_k / (1 + alpha nu_k), a convex 1-d function.
One step costs O(d^3 + L d^2). Starting from m itself (full support), any early stop lies between the
uniform law and the V-optimum.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import scipy.optimize

from duelbandit.design.leverage import information_matrix, leverages
from duelbandit.errors import DesignError
from duelbandit.types import Pool


@dataclass(frozen=True)
class VDesign:
    """A V-optimal design and its certificate.

    Attributes:
        weights: (L,) on the simplex.
        value: phi(w) = tr(A(w)^{-1} Sigma).
        gap: max_i q_i - sum_i w_i q_i >= phi(w) - phi* (0 at the optimum).
        iterations: Frank–Wolfe steps.
        seconds: wall time.
        converged: the stop rule gap <= eps phi(w) was met.
    """

    weights: np.ndarray
    value: float
    gap: float
    iterations: int
    seconds: float
    converged: bool
    info: dict = field(default_factory=dict)


def pool_mass(pool: Pool) -> np.ndarray:
    """(L,) the pair law of ``uniform``: m_l = 1 / (N * K_n (K_n - 1) / 2) for a pair l of prompt n."""
    k = pool.response_counts
    per = k * (k - 1) // 2
    return np.repeat(1.0 / (pool.n_prompts * per), per)


def target_moment(B: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """Sigma = sum_l m_l b_l b_l^T, (d, d)."""
    return information_matrix(B, np.asarray(mass, dtype=np.float64))


def v_gradient(B: np.ndarray, w: np.ndarray, Sigma: np.ndarray, ridge: float) -> tuple[float, np.ndarray]:
    """(phi(w), q) with q_i = b_i^T A^{-1} Sigma A^{-1} b_i, A = ridge I + M(w)."""
    A = information_matrix(B, w, reg=ridge)
    A_inv = np.linalg.inv(A)
    A_inv = 0.5 * (A_inv + A_inv.T)
    G = A_inv @ Sigma @ A_inv
    return float(np.sum(A_inv * Sigma)), leverages(B, 0.5 * (G + G.T))


def v_certificate(B: np.ndarray, w: np.ndarray, Sigma: np.ndarray, ridge: float) -> dict:
    """phi(w), max_i q_i, sum_i w_i q_i and the gap (>= phi(w) - phi*)."""
    value, q = v_gradient(B, np.asarray(w, dtype=np.float64), Sigma, ridge)
    center = float(w @ q)
    return {"value": value, "max_q": float(q.max()), "center": center, "gap": float(q.max()) - center}


def _line_search(A: np.ndarray, D: np.ndarray, Sigma: np.ndarray, hi: float) -> float:
    """argmin_{alpha in [0, hi]} tr((A + alpha D)^{-1} Sigma) (see the module docstring)."""
    C = np.linalg.cholesky(A)
    Ci = scipy.linalg.solve_triangular(C, np.eye(A.shape[0]), lower=True)
    N = Ci @ D @ Ci.T
    nu, U = np.linalg.eigh(0.5 * (N + N.T))
    s = np.einsum("ij,ij->j", U, (Ci @ Sigma @ Ci.T) @ U)
    # A + alpha D stays positive definite while 1 + alpha nu > 0: cap hi just inside that
    neg = nu < 0
    if neg.any():
        hi = min(hi, (1.0 - 1e-12) / float(-nu[neg].min()))

    def phi(a: float) -> float:
        return float(np.sum(s / (1.0 + a * nu)))

    res = scipy.optimize.minimize_scalar(phi, bounds=(0.0, hi), method="bounded",
                                         options={"xatol": 1e-10 * max(hi, 1e-12)})
    a = float(res.x)
    return a if phi(a) <= phi(0.0) else 0.0


def v_optimal_design(
    B: np.ndarray,
    Sigma: np.ndarray,
    *,
    ridge: float,
    w0: np.ndarray | None = None,
    eps: float = 1e-2,
    max_iter: int = 300,
    max_seconds: float | None = None,
) -> VDesign:
    """Frank–Wolfe (with away steps) for min_w tr((ridge I + M(w))^{-1} Sigma) on the simplex.

    Args:
        B: (L, d) candidates.
        Sigma: (d, d) target moment (:func:`target_moment` of the pool's mass).
        ridge: rho > 0 (lambda / T).
        w0: start on the simplex (default uniform over the L candidates); the pool mass is a good start.
        eps: stop when gap <= eps * phi(w).
        max_iter: step limit.
        max_seconds: optional wall-time limit (the design returned so far is certified all the same).

    Returns:
        :class:`VDesign` (its gap is recomputed exactly for the returned weights).

    Raises:
        DesignError: bad shapes, a ridge <= 0, or a start off the simplex.
    """
    start = time.perf_counter()
    B = np.asarray(B, dtype=np.float64)
    L, d = B.shape
    if Sigma.shape != (d, d):
        raise DesignError(f"Sigma: expected shape ({d}, {d}), got {Sigma.shape}")
    if not (np.isfinite(ridge) and ridge > 0):
        raise DesignError(f"ridge: expected a finite value > 0, got {ridge!r}")
    w = np.full(L, 1.0 / L) if w0 is None else np.asarray(w0, dtype=np.float64).copy()
    if w.shape != (L,) or (w < 0).any() or not np.isclose(w.sum(), 1.0):
        raise DesignError(f"w0: expected {L} nonnegative weights summing to 1")
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        value, q = v_gradient(B, w, Sigma, ridge)
        center = float(w @ q)
        j = int(np.argmax(q))
        if q[j] - center <= eps * value:
            converged = True
            it -= 1
            break
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            it -= 1
            break
        A = information_matrix(B, w, reg=ridge)
        M = A - ridge * np.eye(d)
        supp = np.flatnonzero(w > 0)
        k = supp[int(np.argmin(q[supp]))]
        alpha = 0.0
        if center - q[k] > q[j] - center and w[k] < 1.0:  # away step: move mass off the least useful point
            hi = w[k] / (1.0 - w[k])
            alpha = _line_search(A, M - np.outer(B[k], B[k]), Sigma, hi)
            if alpha > 0:
                w *= 1.0 + alpha
                w[k] -= alpha
                if alpha >= hi * (1 - 1e-6) or w[k] < 1e-14:  # a drop step: the point leaves the support
                    w[k] = 0.0
        if alpha <= 0:  # toward step (also when the away step cannot improve in floating point)
            alpha = _line_search(A, np.outer(B[j], B[j]) - M, Sigma, 1.0)
            if alpha <= 0:
                break  # no step improves phi in floating point: stop, the gap is reported as is
            w *= 1.0 - alpha
            w[j] += alpha
        w[w < 1e-14] = 0.0  # round-off dust would keep drawing (useless) away steps
        w /= w.sum()
    cert = v_certificate(B, w, Sigma, ridge)
    return VDesign(weights=w, value=cert["value"], gap=cert["gap"], iterations=it,
                   seconds=time.perf_counter() - start, converged=converged or cert["gap"] <= eps * cert["value"],
                   info={"max_q": cert["max_q"], "center": cert["center"], "ridge": float(ridge)})


def systematic_counts(w: np.ndarray, T: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly T labels from weights w by systematic sampling (Madow 1949): one uniform u, points
    (u + k) / T for k < T on the cumulative weights. Each n_i is floor(T w_i) or ceil(T w_i) and
    E n_i = T w_i; unlike ceil-rounding it keeps a full-support design spread at any T."""
    c = np.cumsum(np.asarray(w, dtype=np.float64))
    c /= c[-1]
    pts = (rng.random() + np.arange(T)) / T
    idx = np.minimum(np.searchsorted(c, pts, side="right"), c.shape[0] - 1)
    return np.bincount(idx, minlength=c.shape[0]).astype(np.int64)
