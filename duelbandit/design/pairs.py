"""Pair-shared leverages: the candidates b_l = a_{i_l} - a_{j_l} never need to exist as an (L, d) matrix.

Within-prompt differences share responses: with A the (R, d) per-response features and P = M^{-1},

    g_l = b_l^T P b_l = a_i^T P a_i + a_j^T P a_j - 2 a_i^T P a_j = q_i + q_j - 2 (A P)_i . a_j.

Everything per response (A P, q) costs O(R d^2); what is left per pair is a row operation, O(L d). The
functions below use the same identity in factored form: with P = W W^T and F = A W (R x r),

    g_l = ||F_i - F_j||^2,

which is the expansion above written without the cancellation q_i + q_j - 2 c_ij suffers on near-duplicate
responses (a_i ~ a_j: all three terms are large, their sum tiny), and nonnegative by construction. A pass is
one (R x d)(d x r) product plus a gather and a row reduction per pair: O(R d r + L r) instead of O(L d r),
in blocks of pairs so that no (L, d) temporary exists (a block of ``chunk`` pairs touches at most 2 * chunk
responses).

The same holds for the information matrix:
    sum_l w_l b_l b_l^T = A^T (D_w - S_w - S_w^T) A,  D_w = diag(sum of w over the pairs touching r),
    (S_w)_{ij} = sum of w over pairs (i, j),
so B^T B costs O(R d^2 + L d) through one sparse (R x R)(R x d) product.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from duelbandit.errors import DesignError

# pairs per block of a pass: the F block and the two gathered rows stay in a few MB (cache-resident)
PAIR_CHUNK = 1 << 13


def check_pairs(pairs: object, n_responses: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalise ``pairs`` to two int64 index arrays (i, j) into the R responses.

    Accepts a :class:`duelbandit.types.Candidates` (its ``i``, ``j``), a tuple ``(i, j)`` of equal-length
    integer arrays, or an (L, 2) integer array.

    Raises:
        DesignError: wrong shape, non-integer, out-of-range or self pairs (i == j carries no information).
    """
    if hasattr(pairs, "i") and hasattr(pairs, "j"):
        i, j = pairs.i, pairs.j  # type: ignore[attr-defined]
    elif isinstance(pairs, tuple) and len(pairs) == 2:
        i, j = pairs
    else:
        arr = np.asarray(pairs)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise DesignError(
                f"pairs: expected Candidates, a tuple (i, j) or an (L, 2) integer array, got "
                f"{type(pairs).__name__} of shape {getattr(arr, 'shape', None)}"
            )
        i, j = arr[:, 0], arr[:, 1]
    i, j = np.asarray(i), np.asarray(j)
    if i.ndim != 1 or i.shape != j.shape or i.shape[0] == 0:
        raise DesignError(f"pairs: expected two equal-length non-empty 1-d index arrays, got {i.shape}, {j.shape}")
    if not (np.issubdtype(i.dtype, np.integer) and np.issubdtype(j.dtype, np.integer)):
        raise DesignError(f"pairs: expected integer response indices, got dtypes {i.dtype}, {j.dtype}")
    i, j = i.astype(np.int64, copy=False), j.astype(np.int64, copy=False)
    lo, hi = int(min(i.min(), j.min())), int(max(i.max(), j.max()))
    if lo < 0 or hi >= n_responses:
        raise DesignError(f"pairs: response indices must lie in [0, {n_responses}), got range [{lo}, {hi}]")
    same = np.flatnonzero(i == j)
    if same.size:
        raise DesignError(f"pairs: pair {int(same[0])} compares response {int(i[same[0]])} with itself")
    return i, j


def pair_differences(X: np.ndarray, i: np.ndarray, j: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
    """Rows b_l = x_{i_l} - x_{j_l} (for the pairs in ``index`` only, when given)."""
    if index is None:
        return X[i] - X[j]
    return X[i[index]] - X[j[index]]


def pair_gram(X: np.ndarray, i: np.ndarray, j: np.ndarray, w: np.ndarray | None = None, *,
              block: int = 1 << 16) -> np.ndarray:
    """sum_l w_l b_l b_l^T (w = 1 when None) from per-response quantities, O(R d^2 + L d).

    A^T (D - S - S^T) A with D = diag(per-response total weight) and S the (R x R) sparse pair matrix,
    accumulated over blocks of ``block`` responses so that no (R, d) temporary exists. Features are
    centred first (b is invariant to a common shift): it keeps the three terms, which cancel when
    differences are small against the features, on the scale of the differences.
    """
    R, d = X.shape
    weight = np.ones(i.shape[0]) if w is None else np.asarray(w, dtype=np.float64)
    mu = X.mean(axis=0)
    deg = np.bincount(i, weight, minlength=R) + np.bincount(j, weight, minlength=R)
    S = scipy.sparse.csr_matrix((weight, (i, j)), shape=(R, R))
    S_rows = np.asarray(S.sum(axis=1)).ravel()
    G = np.zeros((d, d))
    cross = np.zeros((d, d))
    for r0 in range(0, R, block):
        Xc = X[r0 : r0 + block] - mu
        Xs = Xc * np.sqrt(deg[r0 : r0 + block])[:, None]
        G += Xs.T @ Xs  # the same buffer on both sides: a symmetric rank-k update
        # rows r0.. of S (X - mu) = S X - (S 1) mu^T: row r sums w x_j over the pairs (r, j)
        SX = S[r0 : r0 + block] @ X - np.outer(S_rows[r0 : r0 + block], mu)
        cross += Xc.T @ SX
    G -= cross + cross.T
    return (G + G.T) / 2.0


def pair_leverages(
    X: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    W: np.ndarray,
    *,
    index: np.ndarray | None = None,
    out: np.ndarray | None = None,
    chunk: int = PAIR_CHUNK,
) -> np.ndarray:
    """g_l = ||(x_i - x_j) W||^2 = b_l^T W W^T b_l for every pair (or the pairs in ``index``).

    With W W^T = M^{-1} these are the leverages; with W = T (the whitening map) they are the leverages of
    the uniform design. Computed per block of pairs as F = X[lo:hi] W on the block's response range (or on
    its distinct responses when the block is scattered), then ||F_i - F_j||^2: O(R d r + L r), never an
    (L, d) temporary. The dtype of X and W is kept (float32 for the big passes).

    Args:
        X: (R, d) per-response features.
        i, j: (L,) response indices of the pairs.
        W: (d, r) factor.
        index: optional subset of pair indices (sorted for locality).
        out: optional output buffer (len(index) or L,).
        chunk: pairs per block.

    Returns:
        (L,) or (len(index),) array in the dtype of X @ W.
    """
    ii_all = i if index is None else i[index]
    jj_all = j if index is None else j[index]
    n = ii_all.shape[0]
    if out is None:
        out = np.empty(n, dtype=np.result_type(X.dtype, W.dtype))
    for s in range(0, n, chunk):
        ii, jj = ii_all[s : s + chunk], jj_all[s : s + chunk]
        lo = int(min(ii.min(), jj.min()))
        hi = int(max(ii.max(), jj.max())) + 1
        if hi - lo <= 4 * ii.shape[0]:  # pairs sorted by prompt: one contiguous response range
            F = X[lo:hi] @ W
            D = F[ii - lo]
            D -= F[jj - lo]
        else:  # scattered pairs: only the distinct responses of the block
            u, inv = np.unique(np.concatenate([ii, jj]), return_inverse=True)
            F = X[u] @ W
            D = F[inv[: ii.shape[0]]]
            D -= F[inv[ii.shape[0] :]]
        out[s : s + chunk] = np.einsum("ij,ij->i", D, D)
    return out
