"""Active-set Newton (sequential quadratic programming) for the approximate D-optimal design.

Homogeneous form (no simplex constraint): maximise over v >= 0

    phi(v) = log det M(v) - sum_i v_i,     M(v) = sum_i v_i b_i b_i^T.

Since log det M(c w) = d log c + log det M(w), the maximiser is v* = d w* with w* the D-optimal design,
and phi's derivatives are those of the leverages:

    grad_i = h_i - 1,   h_i = b_i^T M(v)^{-1} b_i = g_i(w) / sum(v),   Hessian = -(G o G),
    G = B M(v)^{-1} B^T (o: elementwise product).

KKT: h_i = 1 on the support and h_i <= 1 elsewhere, i.e. Kiefer–Wolfowitz's max g = d.

Each Newton step maximises the quadratic model q(x) = grad.(x - v) - (x - v)^T H (x - v) / 2 over x >= 0
(a nonnegative QP in the p support candidates, solved by a warm-started primal active-set method that
adds and drops whole batches of points), then searches along x - v (Armijo; -log det is self-concordant,
so the damped step 1 / (1 + lambda) is the first trial when the Newton decrement lambda is large). The
set of candidates the QP sees is the current support plus the largest violators (h_i > 1) of a leverage
pass over all rows; points that reach zero leave it. Near the optimum the support is fixed and the
convergence is quadratic, which is what makes 1e-10-accurate designs cheap; the cost per step is
O(p^2 d + p^3) for p support points, independent of the number of rows except for the O(n d^2) pass.

References:
    Yang, Biedermann & Tang, "On optimal designs for nonlinear models: a general and efficient algorithm"
    (OWEA: Newton on the support plus vertex additions), JASA 108 (2013); Bertsekas, "Projected Newton
    methods for optimization problems with simple constraints", SIAM J. Control Optim. 20 (1982).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotrs, dtrtri, dtrtrs

from duelbandit.design.fw import greedy_start
from duelbandit.errors import DesignError


def information_cholesky(Bp: np.ndarray, v: np.ndarray) -> np.ndarray | None:
    """Lower Cholesky factor C of M(v) = Bp^T diag(v) Bp, or None when M(v) is not positive definite."""
    M = Bp.T @ (v[:, None] * Bp)
    C, info = dpotrf(M, lower=1, clean=1)
    # pivots at round-off level (relative 1e-7 on C, 1e-14 on M) mean M is singular in float64
    if info != 0 or not np.all(np.diag(C) > 1e-7 * np.sqrt(max(float(M.diagonal().max()), 1e-300))):
        return None
    return C


def _phi(Bp: np.ndarray, v: np.ndarray) -> tuple[float, np.ndarray | None]:
    C = information_cholesky(Bp, v)
    if C is None:
        return -np.inf, None
    return 2.0 * float(np.log(np.diag(C)).sum()) - float(v.sum()), C


def _solve_face(H: np.ndarray, c: np.ndarray, F: np.ndarray) -> np.ndarray:
    """argmax over the face {x_i = 0, i not in F} of c.x - x^T H x / 2.

    H = G o G is singular or nearly so whenever candidates (nearly) repeat, e.g. pairs sharing a
    near-duplicate response; a relative ridge (Levenberg–Marquardt), raised until the Cholesky factor
    exists, keeps the step an ascent step and splits weight evenly between duplicates."""
    HF = H.take(F, axis=0).take(F, axis=1) if F.size < H.shape[0] else H.copy()  # (3x faster than ix_)
    diag = HF.ravel()[:: F.size + 1]
    mean = float(diag.sum()) / F.size
    ridge = 1e-10 * mean
    for _ in range(6):
        diag += ridge
        Lc, info = dpotrf(HF, lower=1, clean=1)
        if info == 0:
            return dpotrs(Lc, c[F], lower=1)[0]
        diag -= ridge
        ridge *= 100.0
    raise DesignError("newton: the Hessian of the support is not positive semidefinite (non-finite values?)")


def _model(H: np.ndarray, c: np.ndarray, x: np.ndarray) -> float:
    s = np.flatnonzero(x)
    xs = x[s]
    return float(c[s] @ xs - 0.5 * xs @ (H.take(s, axis=0).take(s, axis=1) @ xs))


def qp_nonneg(H: np.ndarray, c: np.ndarray, x0: np.ndarray, *, max_solves: int = 25,
              tol: float = 1e-12) -> tuple[np.ndarray, int]:
    """Maximise q(x) = c.x - x^T H x / 2 over x >= 0 (H positive semidefinite), warm-started at x0.

    Block principal pivoting (Judice & Pires 1994; Kim & Park 2011 for NNLS): guess the passive set F,
    solve x_F = H_FF^{-1} c_F with x = 0 elsewhere, and exchange at once every index that violates
    x_F >= 0 or the multiplier condition y = H x - c >= 0 off F; when the number of violations stops
    falling, a few full exchanges are allowed before switching to the single-index backup rule that
    guarantees termination. The warm start supp(x0) plus the entries with positive multiplier is usually
    right up to a few indices, so one to three face solves suffice. If ``max_solves`` runs out (cycling
    on an ill-conditioned H), a few steps of the always-feasible primal active-set method from x0 are
    returned instead: still an ascent direction for the model.

    Returns:
        (x, number of face solves).
    """
    p = c.size
    scale = max(float(np.abs(c).max()), 1e-300)
    F = (x0 > 0) | (c - H @ x0 > tol * scale)
    best_violations, backup = p + 1, 3
    x = x0
    for solves in range(1, max_solves + 1):
        Fi = np.flatnonzero(F)
        z = _solve_face(H, c, Fi) if Fi.size else np.zeros(0)
        x = np.zeros(p)
        x[Fi] = z
        y = H @ x - c
        bad = (F & (x < -tol * scale)) | (~F & (y < -tol * scale))
        n_bad = int(bad.sum())
        if n_bad == 0:
            return np.maximum(x, 0.0), solves
        if n_bad < best_violations:
            best_violations, backup = n_bad, 3
            F ^= bad
        elif backup > 0:
            backup -= 1
            F ^= bad
        else:
            k = int(np.flatnonzero(bad).max())
            F[k] = not F[k]
    # no convergence (ill-conditioned H): the always-feasible primal active-set method from x0
    x, more = _qp_primal(H, c, x0, max_solves=8, tol=tol)
    return x, max_solves + more


def _qp_primal(H: np.ndarray, c: np.ndarray, x0: np.ndarray, *, max_solves: int, tol: float
               ) -> tuple[np.ndarray, int]:
    """Primal active set from the feasible x0: every iterate is feasible and q never decreases, so any
    stop gives an ascent direction. Face optimum, ratio step to the first zero, single additions."""
    p = c.size
    x = x0.copy()
    scale = max(float(np.abs(c).max()), 1e-300)
    F = (x > 0) | (c - H @ x > tol * scale)
    solves = 0
    while solves < max_solves and F.any():
        Fi = np.flatnonzero(F)
        z = _solve_face(H, c, Fi)
        solves += 1
        neg = z <= 0
        if neg.any():
            xF = x[Fi]
            ratio = np.full(Fi.size, np.inf)
            ratio[neg] = xF[neg] / (xF[neg] - z[neg])
            alpha = float(ratio.min())
            if alpha <= 0.0:  # a just-added entry (x = 0) blocks: leave it out
                F[Fi[neg & (xF <= 0)]] = False
                continue
            xF = xF + alpha * (z - xF)
            xF[ratio <= alpha * (1.0 + 1e-12)] = 0.0
            x = np.zeros(p)
            x[Fi] = np.maximum(xF, 0.0)
            F = x > 0
            continue
        x = np.zeros(p)
        x[Fi] = z
        F = x > 0
        mu = c - H @ x
        mu[F] = -np.inf
        k = int(np.argmax(mu))
        if not mu[k] > tol * scale:
            break
        F[k] = True
    return x, solves


def newton_weights(Bp: np.ndarray, v: np.ndarray, *, iters: int = 3, tol: float = 1e-12,
                   counts: dict | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Up to ``iters`` SQP steps on phi restricted to the rows Bp (see the module docstring).

    Args:
        Bp: (p, r) candidate rows.
        v: (p,) nonnegative starting weights with M(v) nonsingular.
        iters: maximum Newton steps.
        tol: stop when the KKT residual max(|grad_i| on v_i > 0, grad_i^+ on v_i = 0) is below it.
        counts: optional dict accumulating "newton" and "qp" counts.

    Returns:
        (v, lower Cholesky factor of M(v), KKT residual at the returned v, or at its predecessor when the
        iteration limit was reached).
    """
    f, C = _phi(Bp, v)
    if C is None:
        raise DesignError("newton: the starting design is singular on its working rows")
    kkt = np.inf
    for _ in range(iters):
        E = dtrtrs(C, Bp.T, lower=1)[0]  # G = E^T E = Bp M^{-1} Bp^T
        G = E.T @ E
        grad = np.diag(G) - 1.0
        kkt = float(np.max(np.where(v > 0, np.abs(grad), np.maximum(grad, 0.0))))
        if kkt <= tol:
            break
        H = G * G
        x, solves = qp_nonneg(H, grad + H @ v, v)
        if counts is not None:
            counts["newton"] = counts.get("newton", 0) + 1
            counts["qp"] = counts.get("qp", 0) + solves
        D = x - v
        lam2 = float(grad @ D)
        if not lam2 > 0:
            break
        t = 1.0 if lam2 < 0.25 else 1.0 / (1.0 + np.sqrt(lam2))
        while True:
            vt = v + t * D
            vt[vt < 1e-15 * vt.max()] = 0.0  # exact zeros for the points the QP dropped
            ft, Ct = _phi(Bp, vt)
            if Ct is not None and ft >= f + 1e-4 * t * lam2:
                break
            t *= 0.5
            if t < 1e-10:
                return v, C, kkt
        v, f, C = vt, ft, Ct
    return v, C, kkt


def newton_design(
    Bw: np.ndarray,
    *,
    eps: float = 1e-3,
    max_iter: int = 1000,
    support: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    add: int | None = None,
    inner: int = 3,
    counts: dict | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Active-set Newton on all rows of Bw until max_i g_i <= (1 + eps) d (see the module docstring).

    Args:
        Bw: (n, d) float64 rows spanning R^d (whitened working coordinates).
        eps: stop rule max g <= (1 + eps) d.
        max_iter: limit on outer rounds (one leverage pass over Bw each).
        support, weights: optional warm start (indices into Bw, positive weights; any scale); default the
            greedy nonsingular saturated start with equal weights.
        add: violators added per round (default 2 d).
        inner: Newton steps per round.
        counts: optional dict accumulating "newton", "qp" and "rounds".

    Returns:
        (support indices, weights on them summing to 1, converged).
    """
    _n, d = Bw.shape
    if support is None:
        P = greedy_start(Bw, d)
        if P.size < d:
            raise DesignError(f"newton: candidates span only {P.size} of {d} dimensions; project first")
        v = np.ones(P.size)
    else:
        P = np.asarray(support, dtype=np.int64)
        v = np.asarray(weights, dtype=np.float64)
        v = v * (d / v.sum())  # the optimal scale of the homogeneous form: sum v* = d
    add = 2 * d if add is None else int(add)
    target = d * (1.0 + eps * (1.0 - 1e-6))  # a hair inside, so the recomputed certificate meets it too
    counts = {} if counts is None else counts
    converged, best, stalled = False, np.inf, 0
    for _ in range(max_iter):
        counts["rounds"] = counts.get("rounds", 0) + 1
        v, C, _ = newton_weights(Bw[P], v, iters=inner, tol=eps / 20, counts=counts)
        keep = v > 0
        P, v = P[keep], v[keep]
        Y = Bw @ dtrtri(C, lower=1)[0].T  # rows b^T C^{-T}: h = ||C^{-1} b||^2
        h = np.einsum("ij,ij->i", Y, Y)
        g_max = float(h.max()) * float(v.sum())  # g = h * sum(v) for the normalised design
        if g_max <= target:
            converged = True
            break
        # a tolerance below what float64 can resolve stalls: stop after 5 rounds without progress
        stalled = stalled + 1 if g_max >= best * (1.0 - 1e-13) else 0
        best = min(best, g_max)
        if stalled >= 5:
            break
        h[P] = -np.inf
        cand = np.flatnonzero(h > 1.0)
        if cand.size > add:
            cand = cand[np.argpartition(-h[cand], add - 1)[:add]]
        P = np.concatenate([P, cand])
        v = np.concatenate([v, np.zeros(cand.size)])
    return P, v / v.sum(), converged
