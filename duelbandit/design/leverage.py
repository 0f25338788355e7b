"""Leverages, the span of the candidates, and the Kiefer–Wolfowitz certificate: pure functions that every
design solver (Frank–Wolfe, multiplicative, cvxpy, later REX / point deletion / screening) shares.

Notation (spec §2): B is the (L, d) matrix of candidates b_i (rows), w a weight vector on the simplex,
M(w) = sum_i w_i b_i b_i^T = B^T diag(w) B, and g_i(w) = b_i^T M(w)^{-1} b_i the leverage of candidate i.
One leverage pass over all candidates is one (L x d)(d x d) product plus a row reduction, O(L d^2): the cost
floor of any certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.linalg.lapack

from duelbandit.design.result import Certificate
from duelbandit.errors import DesignError

# rows per block in a leverage pass: bounds the temporary (CHUNK x d) product to a few tens of MB
CHUNK = 1 << 16


def check_candidates(B: object, *, name: str = "B") -> np.ndarray:
    """Validate a candidate matrix and return it as a C-contiguous float64 (L, d) array.

    Raises:
        DesignError: B is not 2-d, has no rows or columns, holds NaN/inf, or is all zero.
    """
    try:
        arr = np.asarray(B, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DesignError(f"{name}: expected a numeric (L, d) array, got {type(B).__name__} ({exc})") from exc
    if arr.ndim != 2:
        raise DesignError(f"{name}: expected a 2-d (L, d) array of candidates, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DesignError(f"{name}: expected at least one candidate and one dimension, got shape {arr.shape}")
    # in blocks of rows: a full boolean mask of a 1e7 x 128 matrix alone would take 1.3 GB
    for start in range(0, arr.shape[0], CHUNK):
        finite = np.isfinite(arr[start : start + CHUNK])
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            row += start
            bad = int(sum((~np.isfinite(arr[s : s + CHUNK])).sum() for s in range(0, arr.shape[0], CHUNK)))
            raise DesignError(
                f"{name}: expected finite values, got {arr[row, col]} at row {row}, column {col} "
                f"({bad} non-finite entries)"
            )
    if not arr.any():
        raise DesignError(f"{name}: all {arr.shape[0]} candidates are zero; a design needs a nonzero candidate")
    return np.ascontiguousarray(arr)


def check_weights(w: object, L: int, *, name: str = "weights") -> np.ndarray:
    """Validate design weights for L candidates (finite, >= 0, positive sum) and return them normalised."""
    arr = np.asarray(w, dtype=np.float64)
    if arr.shape != (L,):
        raise DesignError(f"{name}: expected shape ({L},) (one weight per candidate), got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any():
        bad = int(np.flatnonzero(~np.isfinite(arr) | (arr < 0))[0])
        raise DesignError(f"{name}: expected finite nonnegative weights, got {arr[bad]} at index {bad}")
    total = arr.sum()
    if total <= 0:
        raise DesignError(f"{name}: expected a positive total weight, got {total}")
    return arr / total


def _row_quadratic(B: np.ndarray, F: np.ndarray, G: np.ndarray | None, out: np.ndarray) -> np.ndarray:
    """out_i = (B F)_i . (B G)_i, or ||(B F)_i||^2 when G is None, in blocks of CHUNK rows."""
    for start in range(0, B.shape[0], CHUNK):
        block = B[start : start + CHUNK]
        P = block @ F
        out[start : start + CHUNK] = np.einsum("ij,ij->i", P, P if G is None else block @ G)
    return out


def leverages(B: np.ndarray, M_inv: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Leverages g_i = b_i^T M^{-1} b_i of every candidate.

    Kiefer–Wolfowitz: sum_i w_i g_i(w) = d for any nonsingular design, and max_i g_i = d exactly at the
    D-optimum (Scheid et al. 2024, App. B; Kiefer & Wolfowitz 1960).

    Args:
        B: (L, d) candidates (rows).
        M_inv: (d, d) symmetric inverse information matrix.
        out: optional (L,) float64 buffer to write into.

    Returns:
        (L,) leverages, computed as rowsum((B M^{-1}) * B) in blocks of rows.
    """
    if out is None:
        out = np.empty(B.shape[0], dtype=np.float64)
    for start in range(0, B.shape[0], CHUNK):  # blocks of rows bound the temporary, not a loop over L
        block = B[start : start + CHUNK]
        out[start : start + CHUNK] = np.einsum("ij,ij->i", block @ M_inv, block)
    return out


def information_matrix(B: np.ndarray, w: np.ndarray, *, reg: float = 0.0) -> np.ndarray:
    """M(w) = sum_i w_i b_i b_i^T (+ reg * I), summed over the support of w only."""
    s = np.flatnonzero(w > 0)
    Bs = B[s] * np.sqrt(w[s])[:, None]
    M = Bs.T @ Bs
    if reg:
        M[np.diag_indices_from(M)] += reg
    return M


@dataclass(frozen=True)
class Span:
    """An orthonormal basis Q (d, r) of span(B) and the singular values s (r,) of B along it.

    ``B @ Q`` are the candidates in orthonormal coordinates of their span (log det is reported there);
    ``B @ (Q / s) * sqrt(L)`` are the same candidates whitened (mean_i b_i b_i^T = I), the coordinates the
    solvers work in: D-optimal design is invariant under b -> A^T b for invertible A (leverages unchanged, log det
    shifted by 2 log |det A|), and whitening keeps M(w) well conditioned for the rank-one updates.
    """

    Q: np.ndarray
    s: np.ndarray
    dim: int
    n_rows: int

    @property
    def rank(self) -> int:
        return int(self.s.shape[0])

    @property
    def rank_handling(self) -> str:
        if self.rank == self.dim:
            return "full rank"
        return f"projected onto rank {self.rank} span of {self.dim} dims"

    @property
    def transform(self) -> np.ndarray:
        """The (d, r) map T to whitened coordinates, B_w = B T = B Q diag(sqrt(L) / s)."""
        return self.Q * (np.sqrt(self.n_rows) / self.s)

    def whiten(self, B: np.ndarray) -> np.ndarray:
        """Candidates in whitened span coordinates, B T (uniform weights give M = I)."""
        return B @ self.transform

    @property
    def logdet_shift(self) -> float:
        """log det(Q^T M Q) - log det(T^T M T) = 2 sum log s - r log L (exact for any s > 0)."""
        return float(2.0 * np.log(self.s).sum() - self.rank * np.log(self.n_rows))


def span_basis(B: np.ndarray | None, *, rank_tol: float = 1e-7, gram: np.ndarray | None = None,
               n_rows: int | None = None) -> Span:
    """Numerical span of the rows of B from the eigendecomposition of B^T B (one O(L d^2) pass).

    Singular values s_k = sqrt(eig_k(B^T B)) with s_k <= rank_tol * s_max count as zero. Eigenvalues of
    B^T B are exact to ~1e-16 * s_max^2, so singular values below ~1e-7 * s_max cannot be resolved this way
    and rank_tol should not go below that.

    Args:
        B: (L, d) candidates, or None when ``gram`` is given.
        rank_tol: relative singular-value tolerance.
        gram: optional precomputed B^T B (float64), e.g. from per-response quantities for pairs.
        n_rows: L when only ``gram`` is given.

    Raises:
        DesignError: rank_tol is not in (0, 1), or all candidates are zero.
    """
    if not (0.0 < rank_tol < 1.0):
        raise DesignError(f"rank_tol: expected a relative tolerance in (0, 1), got {rank_tol!r}")
    if gram is None:
        scale = float(np.abs(B).max())
        if not scale > 0:
            raise DesignError("B: all candidates are zero; a design needs a nonzero candidate")
        # B^T B squares the scale: rescale when that would under- or overflow float64
        Bs = B / scale if not 1e-100 < scale < 1e100 else B
        G, factor = Bs.T @ Bs, (scale if Bs is not B else 1.0)
        n = B.shape[0]
    else:
        top = float(np.abs(np.diag(gram)).max())
        if not top > 0:
            raise DesignError("candidates: all differences are zero; a design needs a nonzero candidate")
        G, factor, n = gram / top, np.sqrt(top), int(n_rows)
    lam, U = np.linalg.eigh(G)
    lam, U = lam[::-1], U[:, ::-1]  # descending
    s = np.sqrt(np.clip(lam, 0.0, None)) * factor
    keep = s > rank_tol * s[0]
    return Span(Q=np.ascontiguousarray(U[:, keep]), s=s[keep].copy(), dim=G.shape[0], n_rows=n)


def certificate_from_whitened(
    Bw: np.ndarray,
    w: np.ndarray,
    *,
    reg: float = 0.0,
    logdet_shift: float = 0.0,
    iterations: int = 0,
    seconds: float = 0.0,
    rank_handling: str = "full rank",
    method: str = "",
) -> Certificate:
    """The exact certificate of weights w on candidates Bw (the solvers' working coordinates).

    Recomputes M(w) from w, factors it (Cholesky) and runs one exact leverage pass. With reg = lambda > 0
    the design maximises log det(lambda I + M(w)); its first-order bound is used instead of d / max g:
    (det A(w) / det A*)^(1/d) >= d / (max_i g_i + lambda tr A^{-1}),  A = lambda I + M(w)
    (AM-GM on A^{-1} A*), which reduces to Kiefer–Wolfowitz's d / max g at lambda = 0. A singular M(w)
    gets max leverage inf, efficiency 0 and log det -inf.
    """
    d = Bw.shape[1]
    support = int(np.count_nonzero(w > 0))
    A = information_matrix(Bw, w, reg=reg)
    try:
        C = np.linalg.cholesky(A)
    except np.linalg.LinAlgError:
        C = None
    if C is None or not np.all(np.diag(C) > 1e-12 * np.sqrt(max(np.trace(A), 1e-300))):
        return Certificate(np.inf, 0.0, -np.inf, support, iterations, seconds, d, rank_handling, method)
    # g_i = ||C^{-1} b_i||^2: nonnegative by construction and accurate to ~sqrt(cond A) * eps
    W = scipy.linalg.lapack.dtrtri(C, lower=1)[0]  # C^{-1} (lower)
    g = _row_quadratic(Bw, W.T, None, np.empty(Bw.shape[0]))
    g_max = float(g.max())
    slack = reg * float(np.einsum("ij,ij->", W, W)) if reg else 0.0  # lambda tr A^{-1}
    logdet = float(2.0 * np.log(np.diag(C)).sum()) + logdet_shift
    return Certificate(
        max_leverage_over_d=g_max / d,
        efficiency_lower_bound=d / (g_max + slack),
        logdet=logdet,
        support_size=support,
        iterations=int(iterations),
        seconds=float(seconds),
        dim=d,
        rank_handling=rank_handling,
        method=method,
    )


def certificate(
    B: np.ndarray,
    w: np.ndarray,
    *,
    reg: float = 0.0,
    rank_tol: float = 1e-7,
    method: str = "",
    iterations: int = 0,
    seconds: float = 0.0,
) -> Certificate:
    """Kiefer–Wolfowitz certificate of ANY weights w on candidates B, computed exactly.

    D-efficiency (det M(w) / det M*)^(1/d) >= d / max_i g_i(w), g_i = b_i^T M(w)^{-1} b_i, with equality
    iff w is D-optimal (Kiefer–Wolfowitz; spec §2). If B does not span R^d, the design lives on span(B):
    d becomes the numerical rank and log det is taken in an orthonormal basis of the span. With
    reg = lambda > 0, M is lambda I + M(w) in the original coordinates (no projection) and the bound is
    d / (max g + lambda tr M^{-1}).

    Args:
        B: (L, d) candidates.
        w: (L,) nonnegative weights (normalised to sum 1 here).
        reg: ridge lambda >= 0.
        rank_tol: relative singular-value tolerance of the span (see :func:`span_basis`).
        method, iterations, seconds: recorded as given.

    Returns:
        A :class:`Certificate`; a design singular on span(B) gets efficiency 0 and max leverage inf.
    """
    B = check_candidates(B)
    w = check_weights(w, B.shape[0])
    if reg < 0 or not np.isfinite(reg):
        raise DesignError(f"reg: expected a finite ridge >= 0, got {reg!r}")
    if reg > 0:
        return certificate_from_whitened(
            B, w, reg=reg, iterations=iterations, seconds=seconds,
            rank_handling=f"regularised: lambda*I added (lambda={reg:g})", method=method,
        )
    span = span_basis(B, rank_tol=rank_tol)
    return certificate_from_whitened(
        span.whiten(B), w, logdet_shift=span.logdet_shift, iterations=iterations, seconds=seconds,
        rank_handling=span.rank_handling, method=method,
    )
