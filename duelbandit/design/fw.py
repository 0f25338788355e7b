"""Frank–Wolfe (Fedorov–Wynn) with away steps for the approximate D-optimal design (spec §2).

Maximise log det M(w), M(w) = sum_i w_i b_i b_i^T, over the simplex. The gradient is the leverage vector
g_i = b_i^T M^{-1} b_i and sum_i w_i g_i = d, so the Frank–Wolfe gap is max_i g_i - d: stopping at
max g <= (1 + eps) d certifies D-efficiency >= 1 / (1 + eps) (Kiefer–Wolfowitz).

Each step moves along one vertex e_i, w <- (1 - alpha) w + alpha e_i, with the exact line search
    alpha = (g_i / d - 1) / (g_i - 1),
  - toward step (Fedorov 1972, Wynn 1970): i = argmax g, alpha in (0, 1);
  - away step (Atwood 1973; Todd & Yildirim 2007): i = argmin_{supp} g when d - g_i > max g - d,
    alpha < 0, clipped at -w_i / (1 - w_i) where w_i hits 0 ("drop step"; always when g_i <= 1).
and rank-one updates keep M^{-1}, g and log det current in O(L d) per step: with u = M^{-1} b_i, c = B u,
den = 1 - alpha + alpha g_i,
    M^{-1} <- (M^{-1} - (alpha / den) u u^T) / (1 - alpha)
    g      <- (g - (alpha / den) c^2) / (1 - alpha)
    logdet <- logdet + (d - 1) log(1 - alpha) + log(den).
Every ``refresh`` steps, and before accepting the stop rule, M, M^{-1} and g are recomputed from w (drift).

With a ridge lambda > 0 the objective is log det(lambda I + M(w)); lambda I does not scale with the weights,
so the rank-one shortcut is lost: the line search solves the 1-d concave problem exactly through the
generalised eigenvalues of (b b^T - M, A) and each step costs one exact leverage pass, O(L d^2).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize
from tqdm.auto import tqdm

from duelbandit.design.leverage import leverages
from duelbandit.errors import DesignError


def greedy_start(B: np.ndarray, n: int, *, tol: float = 1e-10) -> np.ndarray:
    """Pick up to n candidates greedily, each maximising its residual norm after projecting out the span
    of those already picked (pivoted Gram–Schmidt, the nonsingular saturated start of REX, Harman et al.
    2020). Stops early when every residual is below tol * max ||b||^2. O(L d) per pick."""
    d = B.shape[1]
    r = np.einsum("ij,ij->i", B, B)
    scale = float(r.max())
    Q = np.zeros((d, min(n, d)))
    picked: list[int] = []
    for k in range(min(n, d)):
        j = int(np.argmax(r))
        if r[j] <= tol * scale:
            break
        q = B[j] - Q[:, :k] @ (Q[:, :k].T @ B[j])
        q -= Q[:, :k] @ (Q[:, :k].T @ q)  # second Gram–Schmidt pass: orthogonality to machine precision
        q /= np.linalg.norm(q)
        Q[:, k] = q
        picked.append(j)
        r -= (B @ q) ** 2
        r[j] = -np.inf
    return np.asarray(picked, dtype=np.int64)


def _exact(B: np.ndarray, w: np.ndarray, supp: np.ndarray, reg: float):
    """A = lambda I + M(w) from the support, its inverse, all leverages and log det (one O(L d^2) pass)."""
    Bs = B[supp] * np.sqrt(w[supp])[:, None]
    A = Bs.T @ Bs
    A[np.diag_indices_from(A)] += reg
    try:
        C = np.linalg.cholesky(A)
    except np.linalg.LinAlgError as exc:
        raise DesignError(
            f"frank-wolfe: the information matrix of the current design (support {supp.size}) became "
            "singular; the candidates are numerically rank deficient - raise rank_tol or pass reg > 0"
        ) from exc
    A_inv = scipy.linalg.cho_solve((C, True), np.eye(A.shape[0]))
    return A, A_inv, leverages(B, A_inv), float(2.0 * np.log(np.diag(C)).sum())


def _ridge_line_search(A: np.ndarray, lam: float, b: np.ndarray, lo: float, hi: float) -> float:
    """argmax_alpha log det(A + alpha D), D = b b^T - M, M = A - lam I, over [lo, hi].

    log det(A + alpha D) - log det A = sum_k log(1 + alpha nu_k), nu = eig(D, A): concave in alpha, so the
    maximiser is the root of sum_k nu_k / (1 + alpha nu_k) when it lies inside, else an end point."""
    M = A - lam * np.eye(A.shape[0])
    nu = scipy.linalg.eigh(np.outer(b, b) - M, A, eigvals_only=True)

    def slope(a: float) -> float:
        return float(np.sum(nu / (1.0 + a * nu)))

    if slope(hi) >= 0:
        return hi
    if slope(lo) <= 0:
        return lo
    return float(scipy.optimize.brentq(slope, lo, hi, xtol=1e-14, rtol=1e-12))


def fw_design(
    B: np.ndarray,
    *,
    eps: float = 1e-3,
    max_iter: int = 100_000,
    reg: float = 0.0,
    refresh: int = 100,
    float32_matvec: bool = True,
    verbose: bool = False,
) -> tuple[np.ndarray, int, dict]:
    """Frank–Wolfe with away and drop steps on candidates B (rows); see the module docstring.

    Args:
        B: (L, d) float64 candidates spanning R^d (the caller projects / whitens, see optimal_design).
        eps: stop when max_i g_i - sum_i w_i g_i <= eps d (= max g <= (1 + eps) d without ridge).
        max_iter: step limit; on reaching it the current weights are returned with converged=False.
        reg: ridge lambda >= 0 (log det(lambda I + M(w))).
        refresh: recompute M^{-1} and g exactly every this many steps.
        float32_matvec: compute c = B u from a float32 copy of B (extra L d 4 bytes). Only the tracked
            leverages see the rounding; the chosen vertex's g_i, M^{-1}, log det, the stop rule and the
            certificate stay exact float64.
        verbose: tqdm progress bar.

    Returns:
        (weights (L,), steps taken, info with the step counts and whether the stop rule was met).

    References:
        Todd & Yildirim, "On Khachiyan's algorithm for the computation of minimum-volume enclosing
        ellipsoids", Discrete Appl. Math. 2007; Scheid et al. 2024 (ODPO), App. B.
    """
    L, d = B.shape
    supp = greedy_start(B, d)
    if supp.size < d and reg == 0:
        raise DesignError(f"frank-wolfe: candidates span only {supp.size} of {d} dimensions; project first")
    w = np.zeros(L)
    w[supp] = 1.0 / supp.size
    A, A_inv, g, logdet = _exact(B, w, supp, reg)
    # g is stored as S * g so that "/ (1 - alpha)" costs O(1) per step instead of a pass over L
    S = 1.0
    # c = B u moves only the tracked g (refreshed exactly every `refresh` steps and before the stop rule);
    # a float32 copy halves its memory traffic, the dominant cost of a step (measured 2-4x on sgemv)
    Bc = B.astype(np.float32) if float32_matvec and not reg else B
    drift = 0.0
    # stop a hair inside the target so the independently recomputed certificate meets it too
    target = eps * d * (1.0 - 1e-9)
    counts = {"toward": 0, "away": 0, "drop": 0, "refresh": 0}
    fresh, converged, it = True, False, 0
    bar = tqdm(desc="frank-wolfe", unit="step", disable=not verbose, leave=False)
    while True:
        j = int(np.argmax(g))
        g_max = S * g[j]
        center = float(w[supp] @ g[supp]) if reg else float(d)  # sum_i w_i g_i (= d without ridge)
        if g_max - center <= target:
            if fresh:
                converged = True
                break
            w[supp] /= w[supp].sum()
            (A, A_inv, g, logdet), S = _exact(B, w, supp, reg), 1.0
            fresh, counts["refresh"] = True, counts["refresh"] + 1
            continue
        if it >= max_iter:
            break
        it += 1
        k = int(supp[np.argmin(g[supp])])
        away = supp.size > 1 and center - S * g[k] > g_max - center
        i = k if away else j
        u = A_inv @ B[i]
        g_i = float(B[i] @ u)  # exact leverage of the chosen vertex: step size and den carry no drift
        if away:
            a_min = -w[k] / (1.0 - w[k])
            if reg:
                alpha = _ridge_line_search(A, reg, B[i], a_min, 0.0)
            else:
                alpha = max((g_i / d - 1.0) / (g_i - 1.0), a_min) if g_i > 1.0 else a_min
            drop = alpha <= a_min
            counts["drop" if drop else "away"] += 1
        else:
            drop = False
            alpha = _ridge_line_search(A, reg, B[i], 0.0, 1.0) if reg else (g_i / d - 1.0) / (g_i - 1.0)
            if alpha <= 0.0:  # the tracked g had drifted above the exact one: resynchronise
                (A, A_inv, g, logdet), S = _exact(B, w, supp, reg), 1.0
                fresh, counts["refresh"] = True, counts["refresh"] + 1
                continue
            counts["toward"] += 1

        if not reg:  # with a ridge, the exact recomputation below replaces the update
            den = 1.0 - alpha + alpha * g_i
            if not den > 1e-12:
                raise DesignError(f"frank-wolfe: step {it} would make the design singular (den={den:.3g})")
            A_inv -= (alpha / den) * np.outer(u, u)
            A_inv /= 1.0 - alpha
            # g <- (g - (alpha/den) c^2) / (1 - alpha) with g = S g~, c = B u:
            #   g~ <- g~ - sign(alpha) (B v)^2,  v = u sqrt(|alpha / den| / S),  S <- S / (1 - alpha)
            c = Bc @ (u * np.sqrt(abs(alpha / den) / S)).astype(Bc.dtype)
            np.square(c, out=c)
            (np.subtract if alpha > 0 else np.add)(g, c, out=g)
            S /= 1.0 - alpha
            logdet += (d - 1) * np.log1p(-alpha) + np.log(den)

        w[supp] *= 1.0 - alpha
        if w[i] == 0.0:
            supp = np.append(supp, i)
        w[i] += alpha
        if drop:
            w[i] = 0.0
            supp = supp[supp != i]
        fresh = False
        if reg or it % refresh == 0:
            w[supp] /= w[supp].sum()
            g_tracked = S * g
            (A, A_inv, g, logdet), S = _exact(B, w, supp, reg), 1.0
            drift = max(drift, float(np.abs(g_tracked - g).max()))
            fresh = True
            counts["refresh"] += 0 if reg else 1
        if verbose and it % 100 == 0:
            bar.update(100)
            bar.set_postfix(max_g_over_d=f"{S * g.max() / d:.5f}", support=supp.size)
    bar.close()
    w[supp] /= w[supp].sum()
    return w, it, {**counts, "converged": converged, "max_drift": drift}
