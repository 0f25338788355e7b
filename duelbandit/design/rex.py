"""REX, the randomized exchange algorithm (Harman, Filová & Richtárik, JASA 2020; spec §2).

Start: a nonsingular saturated design, d candidates picked greedily (each maximises the residual norm
after projecting out those already picked), equal weights. Then, until max_i g_i <= (1 + eps) d:

1. one leverage pass g_i = b_i^T M(w)^{-1} b_i over all (surviving) candidates;
2. leading boosting exchange between k = argmin_{supp} g and l = argmax g;
3. for l over the gamma d candidates of largest g (gamma = 4) in random order, and for k over the
   support in random order: the optimal pair exchange of weight alpha from k to l.

A pair exchange moves alpha: w_k -= alpha, w_l += alpha. With d_k, d_l the leverages and
d_kl = b_k^T M^{-1} b_l,
    det M(w') / det M(w) = (1 + alpha d_l)(1 - alpha d_k) + alpha^2 d_kl^2,
maximised at alpha* = (d_l - d_k) / (2 (d_k d_l - d_kl^2)), clipped to [-w_l, w_k] (the whole
weight of k when the two are parallel). M^{-1} follows by the Woodbury identity for the rank-two change
alpha (b_l b_l^T - b_k b_k^T), O(d^2) per exchange: with z = M^{-1} b and rho the determinant ratio,
    M'^{-1} = M^{-1} - [(alpha - alpha^2 d_k) z_l z_l^T + alpha^2 d_kl (z_l z_k^T + z_k z_l^T)
                        - (alpha + alpha^2 d_l) z_k z_k^T] / rho.
The exchanges run on float64 rows of the support and the top-leverage candidates only; the pass runs on
the candidate set's backend (float32 on large sets, re-checked in float64 by the certificate).
Optionally (``delete=True``) Harman–Pronzato deletion shrinks the set the passes cover.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg.blas import dsymv, dsyr, dsyr2

from duelbandit.design.backends import CandidateSet, small_blas
from duelbandit.design.deletion import deletable
from duelbandit.design.newton import information_cholesky
from duelbandit.design.screen import exact_max, factor, greedy_start_set, lower_max, upper
from duelbandit.errors import DesignError


def _exchange_batch(Bu: np.ndarray, wu: np.ndarray, Minv: np.ndarray, pairs: list[tuple[int, int]]) -> int:
    """Sequential optimal exchanges k -> l on rows Bu with weights wu (in place); returns how many moved.

    Minv is a Fortran-ordered (r, r) array whose upper triangle holds M(w)^{-1} (BLAS symmetric kernels)."""
    moved = 0
    for k, l in pairs:
        wk, wl = wu[k], wu[l]
        if k == l or (wk <= 0.0 and wl <= 0.0):
            continue
        bk, bl = Bu[k], Bu[l]
        zk = dsymv(1.0, Minv, bk)
        zl = dsymv(1.0, Minv, bl)
        dk, dl, dkl = float(bk @ zk), float(bl @ zl), float(bk @ zl)
        den = 2.0 * (dk * dl - dkl * dkl)
        if den > 1e-12 * dk * dl:
            alpha = (dl - dk) / den
            alpha = wk if alpha > wk else (max(alpha, -wl))
        else:  # parallel candidates: the determinant is linear in alpha, move everything
            alpha = wk if dl > dk else -wl
        if alpha == 0.0:
            continue
        a2 = alpha * alpha
        rho = (1.0 + alpha * dl) * (1.0 - alpha * dk) + a2 * dkl * dkl
        if not rho > 1e-12:
            continue
        Minv = dsyr(-(alpha - a2 * dk) / rho, zl, a=Minv, overwrite_a=1)
        Minv = dsyr2(-a2 * dkl / rho, zl, zk, a=Minv, overwrite_a=1)
        Minv = dsyr((alpha + a2 * dl) / rho, zk, a=Minv, overwrite_a=1)
        wu[k] = wk - alpha
        wu[l] = wl + alpha
        if wu[k] < 1e-15:
            wu[k] = 0.0
        if wu[l] < 1e-15:
            wu[l] = 0.0
        moved += 1
    return moved


def rex_design(
    cset: CandidateSet,
    T: np.ndarray,
    *,
    eps: float = 1e-3,
    max_iter: int = 1000,
    gamma: float = 4.0,
    rng: np.random.Generator,
    delete: bool = False,
    counts: dict | None = None,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict, tuple | None]:
    """REX on a candidate set (see the module docstring).

    Args:
        cset: the L candidates.
        T: (d, r) whitening map (solvers work on b_w = T^T b).
        eps: stop when max_i g_i <= (1 + eps) r over all candidates.
        max_iter: iteration limit (one pass each).
        gamma: the batch takes the gamma * r candidates of largest leverage.
        rng: the random orders of the batch.
        delete: Harman–Pronzato deletion after each pass (the final check covers every candidate).
        counts: dict accumulating passes, exchanges and iterations.
        verbose: one line per iteration.

    Returns:
        (support, weights, info, last full pass (W, log det, g, e) when the stop rule was met else None).
    """
    L, r = cset.n, T.shape[1]
    counts = {} if counts is None else counts
    u, e = cset.leverage_pass(T)
    counts["passes"] = counts.get("passes", 0) + 1
    supp = greedy_start_set(cset, T, upper(u, e))
    if supp.size < r:
        raise DesignError(f"rex: candidates span only {supp.size} of {r} dimensions; project first")
    w = np.full(r, 1.0 / r)
    n_top = int(min(L, max(1, round(gamma * r))))
    alive, converged, final, it = None, False, None, 0
    target = r * (1.0 + eps * (1.0 - 1e-6))
    for it in range(1, max_iter + 1):
        Bs = cset.rows(supp) @ T
        W, logdet_w = factor(Bs, w, T)
        g, e = cset.leverage_pass(W, index=alive)
        counts["passes"] += 1
        hi = upper(g, e)
        g_hi = float(hi.max())
        if g_hi > target and e is not None and lower_max(g, e) <= target:
            g_hi = exact_max(cset, W, g, e, alive)[0]  # float32 bound too loose to decide: float64 re-check
        if g_hi <= target and alive is not None:  # survivors fine: check the deleted ones too
            g, e = cset.leverage_pass(W)
            counts["passes"] += 1
            hi, alive = upper(g, e), None
            g_hi = float(hi.max()) if e is None else exact_max(cset, W, g, e)[0]
        if verbose:
            print(f"rex {it}: max g/r <= {g_hi / r:.6f}, support {supp.size}")
        if g_hi <= target:
            converged, final = True, (W, logdet_w, g, e)
            break
        ids = np.arange(L) if alive is None else alive
        if delete:
            drop = deletable(hi, r, g_max=g_hi)
            drop[np.isin(ids, supp)] = False
            if drop.any():
                ids, hi = ids[~drop], hi[~drop]
                alive = ids
        top = ids[np.argpartition(-hi, n_top - 1)[:n_top]] if n_top < ids.size else ids
        l_star = int(ids[int(np.argmax(hi))])
        # the batch works on U = support + top candidates, in float64 whitened rows
        U = np.union1d(supp, np.append(top, l_star))
        pos = {int(c): t for t, c in enumerate(U)}
        Bu = cset.rows(U) @ T
        wu = np.zeros(U.size)
        wu[[pos[int(c)] for c in supp]] = w
        C = information_cholesky(Bu[wu > 0], wu[wu > 0])
        if C is None:
            raise DesignError("rex: singular design during the exchanges")
        Minv = np.asfortranarray(np.linalg.inv(C @ C.T))
        h = np.einsum("ij,ij->i", Bu @ Minv, Bu)
        s_loc = np.flatnonzero(wu > 0)
        k_star = int(s_loc[np.argmin(h[s_loc])])
        K = rng.permutation(s_loc)
        Lb = rng.permutation([pos[int(c)] for c in top])
        batch = [(k_star, pos[l_star])] + [(int(k), int(l)) for l in Lb for k in K]
        with small_blas():
            moved = _exchange_batch(Bu, wu, Minv, batch)
        counts["exchanges"] = counts.get("exchanges", 0) + moved
        keep = wu > 0
        supp, w = U[keep], wu[keep] / wu[keep].sum()
    counts["iterations"] = it
    info = {"converged": converged, "iterations": it, "deleted": 0 if alive is None else L - alive.size}
    return supp, w, info, final
