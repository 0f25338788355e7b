"""Screening with a full-set certificate, point deletion, and the exact certificate on a candidate set.

The optimum of a D-optimal design lives on few candidates (at most d(d+1)/2, in practice ~d^2/4), and
those have large leverage under any reasonable design. So (spec §2, "Screening"):

1. one pass gives the leverages of the uniform design (whitened coordinates: ||b_w||^2); keep the
   ``working`` candidates with the largest ones (default max(2000, 4 d^2));
2. solve on that working set with the active-set Newton method (:mod:`duelbandit.design.newton`) to a
   tolerance tighter than the target;
3. one pass over all remaining candidates with the working-set design; Harman–Pronzato deletion
   (:mod:`duelbandit.design.deletion`) removes for good every candidate that cannot support an optimum,
   so later passes shrink; every violator (g_i > (1 + eps/2) d) outside the working set joins it;
4. repeat until no candidate violates; then the certificate is computed on ALL candidates (deleted ones
   included) and, if it fails after all, the loop goes on with the violators added.

Correct whatever the screen keeps, because the stop rule is the full-set certificate. The passes run in
float32 with a rigorous error bound (see :mod:`duelbandit.design.backends`); every decision that could
lose correctness uses the upper bound of the leverage (stop rule, deletion), and the certificate
re-checks in float64 every candidate that could hold the maximum.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.linalg.lapack import dtrtri

from duelbandit.design.backends import CandidateSet, small_blas
from duelbandit.design.deletion import deletable
from duelbandit.design.fw import greedy_start
from duelbandit.design.newton import information_cholesky, newton_design
from duelbandit.design.result import Certificate
from duelbandit.errors import DesignError

# the float64 re-check of a float32 certificate touches at most this many candidates before it falls
# back to one exact float64 pass over everything
REFINE_CAP = 1 << 16


def factor(Bw_support: np.ndarray, weights: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, float]:
    """The pass factor W = T C^{-T} (d, r) with C C^T = M_w(w) in whitened coordinates, and log det M_w.

    Leverages in the original coordinates are g_i = ||b_i^T W||^2 (= b_w^T M_w^{-1} b_w).
    """
    C = information_cholesky(Bw_support, weights)
    if C is None:
        raise DesignError("screen: the design on the working set is singular")
    W = T @ dtrtri(C, lower=1)[0].T
    return W, 2.0 * float(np.log(np.diag(C)).sum())


def upper(g: np.ndarray, e: np.ndarray | None) -> np.ndarray:
    """Upper bound (sqrt(g) + e)^2 on a leverage from its float32 value g and error bound e."""
    return g if e is None else (np.sqrt(g) + e) ** 2


def lower_max(g: np.ndarray, e: np.ndarray) -> float:
    """The largest lower bound max_i (sqrt(g_i) - e_i)^2 of a float32 pass: the exact maximum is above it."""
    return float((np.maximum(np.sqrt(g) - e, 0.0) ** 2).max())


def exact_max(cset: CandidateSet, W: np.ndarray, g: np.ndarray, e: np.ndarray | None,
              index: np.ndarray | None = None) -> tuple[float, int, int]:
    """max_i g_i exactly (float64) from a pass (g, e) over the candidates ``index`` (default all).

    Candidates whose upper bound reaches the largest lower bound are recomputed in float64 from their
    rows; everyone else is provably below. Returns (max leverage, its candidate index, number re-checked).
    """
    idx = np.arange(cset.n) if index is None else index
    if e is None:
        k = int(np.argmax(g))
        return float(g[k]), int(idx[k]), 0
    lo = np.maximum(np.sqrt(g) - e, 0.0) ** 2
    hi = upper(g, e)
    check = np.flatnonzero(hi >= lo.max())
    if check.size > REFINE_CAP:  # too many near-ties for a re-check: one exact pass instead
        check = np.arange(g.shape[0])
    exact = np.empty(check.size)
    for s in range(0, check.size, REFINE_CAP):
        Y = cset.rows(idx[check[s : s + REFINE_CAP]]) @ W
        exact[s : s + REFINE_CAP] = np.einsum("ij,ij->i", Y, Y)
    k = int(np.argmax(exact))
    return float(exact[k]), int(idx[check[k]]), int(check.size)


def certificate_from_pass(cset: CandidateSet, W: np.ndarray, logdet_w: float, g: np.ndarray,
                          e: np.ndarray | None, support_size: int, *, logdet_shift: float = 0.0,
                          rank_handling: str = "full rank", method: str = "", iterations: int = 0
                          ) -> Certificate:
    """The Kiefer–Wolfowitz certificate from a pass (g, e) over ALL candidates with the factor W of M_w(w)
    (see :func:`factor`); max g is made exact by :func:`exact_max`."""
    r = W.shape[1]
    g_max, _, _ = exact_max(cset, W, g, e)
    return Certificate(
        max_leverage_over_d=g_max / r,
        efficiency_lower_bound=r / g_max,
        logdet=logdet_w + logdet_shift,
        support_size=int(support_size),
        iterations=int(iterations),
        seconds=0.0,
        dim=r,
        rank_handling=rank_handling,
        method=method,
    )


def certify(cset: CandidateSet, T: np.ndarray, support: np.ndarray, weights: np.ndarray, *,
            logdet_shift: float = 0.0, rank_handling: str = "full rank", method: str = "",
            iterations: int = 0) -> Certificate:
    """The exact certificate of a design given by its support, over ALL candidates: M_w(w) rebuilt in
    float64 from the support rows, one pass (float32 with float64 re-check, or float64)."""
    Bw = cset.rows(support) @ T
    if information_cholesky(Bw, weights) is None:
        return Certificate(np.inf, 0.0, -np.inf, int(np.count_nonzero(weights)), iterations, 0.0, T.shape[1],
                           rank_handling, method)
    W, logdet_w = factor(Bw, weights, T)
    g, e = cset.leverage_pass(W)
    return certificate_from_pass(cset, W, logdet_w, g, e, int(np.count_nonzero(weights)),
                                 logdet_shift=logdet_shift, rank_handling=rank_handling, method=method,
                                 iterations=iterations)


def greedy_start_set(cset: CandidateSet, T: np.ndarray, u: np.ndarray, *, tol: float = 1e-10) -> np.ndarray:
    """Greedy nonsingular saturated start over a candidate set (pivoted Gram–Schmidt in whitened
    coordinates b_w = T^T b): each pick maximises ||b_w||^2 minus its projection on the picks so far.
    ``u`` holds ||b_w||^2 (the uniform-design pass). r matrix-vector products over all candidates."""
    r = T.shape[1]
    res = u.astype(np.float64, copy=True)
    scale = float(res.max())
    Q = np.zeros((r, r))
    picked: list[int] = []
    for k in range(r):
        j = int(np.argmax(res))
        if res[j] <= tol * scale:
            break
        b = (cset.rows(np.array([j])) @ T)[0]
        q = b - Q[:, :k] @ (Q[:, :k].T @ b)
        q -= Q[:, :k] @ (Q[:, :k].T @ q)
        nq = float(np.linalg.norm(q))
        if not nq > 0:
            res[j] = -np.inf
            continue
        q /= nq
        Q[:, k] = q
        picked.append(j)
        res -= cset.matvec(T @ q) ** 2
        res[j] = -np.inf
        res[picked] = -np.inf
    return np.asarray(picked, dtype=np.int64)


def warm_start(Bw: np.ndarray, score: np.ndarray, *, top: int | None = None, iters: int = 20,
               keep: float = 0.1, start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A support guess for the Newton polish: multiplicative updates w_i <- w_i h_i / d (Titterington)
    on the greedy saturated start plus the ``top`` rows of largest ``score``, then the weights above
    ``keep`` times the largest. Vectorised, O(top d^2) per update; it only has to find the support
    roughly, the Newton rounds add and drop what it got wrong. ``start``: the greedy start if known."""
    n, d = Bw.shape
    top = min(n, 20 * d if top is None else top)
    G0 = greedy_start(Bw, d) if start is None else start
    P = G0
    if top < n:
        P = np.union1d(P, np.argpartition(-score, top - 1)[:top])
    else:
        P = np.arange(n)
    Bp = Bw[P]
    w = np.full(P.size, 1.0 / P.size)
    for _ in range(iters):
        C = information_cholesky(Bp, w)
        if C is None:
            break
        Y = Bp @ dtrtri(C, lower=1)[0].T
        w = w * np.einsum("ij,ij->i", Y, Y) / d
        w /= w.sum()
    sel = (w > keep * w.max()) | np.isin(P, G0)  # the saturated start keeps the design nonsingular
    return P[sel], w[sel]


def screen_design(
    cset: CandidateSet,
    T: np.ndarray,
    *,
    eps: float = 1e-3,
    max_rounds: int = 50,
    working: int | None = None,
    delete: bool = True,
    counts: dict | None = None,
    verbose: bool = False,
) -> tuple[np.ndarray, np.ndarray, dict, tuple | None]:
    """Screening + active-set Newton + point deletion on a candidate set (see the module docstring).

    Args:
        cset: the L candidates (dense rows or pairs, numpy or torch).
        T: (d, r) whitening map of span(B) (``Span.transform``): solvers work on b_w = T^T b.
        eps: target max_i g_i <= (1 + eps) r over all candidates.
        max_rounds: limit on screening rounds (one pass over the surviving candidates each).
        working: initial working-set size (default max(2000, 4 r^2), all candidates when L is smaller).
        delete: apply Harman–Pronzato deletion after each pass.
        counts: dict accumulating the work done (passes, rounds, Newton steps, deletions).
        verbose: print one line per round.

    Returns:
        (support indices, weights summing to 1, info with the working-set size, the number of deleted
        candidates and whether the stop rule was met, and the last full pass (W, log det M_w, g, e) when
        it met the stop rule, else None: :func:`certificate_from_pass` turns it into the certificate).
    """
    L, r = cset.n, T.shape[1]
    counts = {} if counts is None else counts
    counts.setdefault("passes", 0)
    start = time.perf_counter()
    u, e = cset.leverage_pass(T)  # uniform design: M_w = I, g = ||b_w||^2
    counts["passes"] += 1
    k0 = min(L, max(2 * r, working if working is not None else max(2000, 4 * r * r)))
    S = np.arange(L) if k0 >= L else np.sort(np.argpartition(-upper(u, e), k0 - 1)[:k0])
    Bw = cset.rows(S) @ T
    G0 = greedy_start(Bw, r)
    if G0.size < r:
        # the largest rows miss a direction: add a spanning set picked over all candidates (r products)
        extra = np.setdiff1d(greedy_start_set(cset, T, upper(u, e)), S)
        S = np.concatenate([S, extra])
        Bw = np.vstack([Bw, cset.rows(extra) @ T])
        G0 = greedy_start(Bw, r)
    with small_blas(r):
        P, v = warm_start(Bw, np.einsum("ij,ij->i", Bw, Bw), start=G0)
    alive = None  # candidates not yet deleted (None: all)
    in_S = np.zeros(L, dtype=bool)
    in_S[S] = True
    deleted, converged = 0, False
    eps_in = eps / 4.0
    final = None
    for rnd in range(max_rounds):
        counts["rounds"] = counts.get("rounds", 0) + 1
        with small_blas(r):
            P, v, _ = newton_design(Bw, eps=eps_in, support=P, weights=v, counts=counts)
            W, logdet_w = factor(Bw[P], v, T)
        g, e = cset.leverage_pass(W, index=alive)
        counts["passes"] += 1
        hi = upper(g, e)
        g_hi = float(hi.max())
        if verbose:
            print(f"screen round {rnd}: working {S.size}, alive {L if alive is None else alive.size}, "
                  f"max g/r <= {g_hi / r:.6f}, support {P.size}, {time.perf_counter() - start:.2f} s")
        target = r * (1.0 + eps * (1.0 - 1e-6))
        if g_hi > target and e is not None and lower_max(g, e) <= target:
            # the float32 bound alone cannot decide: re-check the top candidates in float64
            g_hi = exact_max(cset, W, g, e, alive)[0]
        if g_hi <= target and alive is not None:
            # the survivors are fine; the deleted candidates must be checked too (full-set certificate)
            g, e = cset.leverage_pass(W)
            counts["passes"] += 1
            hi = upper(g, e)
            g_hi = float(hi.max()) if e is None else exact_max(cset, W, g, e)[0]
            alive = None  # (``deleted`` keeps how many the passes had skipped)
        if g_hi <= target:
            converged = True
            final = (W, logdet_w, g, e)
            break
        ids = np.arange(L) if alive is None else alive
        if delete:
            drop = deletable(hi, r, g_max=g_hi) & ~in_S[ids]
            if drop.any():
                deleted += int(drop.sum())
                ids, hi = ids[~drop], hi[~drop]
                alive = ids
        viol = np.flatnonzero((hi > (1.0 + eps / 2.0) * r) & ~in_S[ids])
        cap = max(4 * r * r, 1000)
        if viol.size > cap:
            viol = viol[np.argpartition(-hi[viol], cap - 1)[:cap]]
        if viol.size == 0:
            continue  # only working-set points violate: polish harder on S
        new = ids[viol]
        in_S[new] = True
        S = np.concatenate([S, new])
        Bw = np.vstack([Bw, cset.rows(new) @ T])
    counts["deleted"] = deleted
    info = {"working_set": int(S.size), "deleted": deleted, "converged": converged,
            "rounds": counts.get("rounds", 0)}
    return S[P], v, info, final
