"""The (d, d) matrices of the Bradley–Terry model: the design matrix V and the logistic Hessian H, both a
weighted Gram matrix lam I + sum_s c_s b_s b_s^T over the rows b_s of X (spec §4).

Speed (issue 13, item 12). The plain product ``(X * c[:, None]).T @ X`` is a general matrix product over a
tall, thin X; with two OpenBLAS threads on a loaded 2-core machine it took 1,313 ms at n = 1e5, d = 64
against 52 ms on one thread. Here the Gram matrix is a symmetric rank-k update (BLAS ``dsyrk``, half the
flops of the general product) on row blocks of sqrt(c) X, so the temporary stays small (``GRAM_BLOCK``
rows) and the cost is steady whatever the BLAS thread settings (measured in benchmarks/bench_reward.py).
These small products (and the d x d Cholesky) run on one BLAS thread (:func:`small_blas`): with the
default two threads on a loaded machine a 128 x 128 Cholesky took 275 ms and a 2,000 x 128 rank-k update
115 ms, against ~1 ms each on one thread (measured).
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy.linalg.blas import dsyrk, ssyrk
from scipy.special import expit

# Rows per block of the rank-k update: large enough for BLAS-3 speed, small enough that the scaled copy
# (GRAM_BLOCK x d float64: 2 MiB at d = 64) stays in cache.
GRAM_BLOCK = 4096
# Up to this d the products are small enough that one thread is as fast as two on an idle machine and
# far faster on a busy one; above it BLAS keeps its own thread setting.
SMALL_D = 256
_controller = None


def small_blas(d: int) -> contextlib.AbstractContextManager:
    """Context limiting BLAS to one thread when d <= SMALL_D (threadpoolctl), else a no-op."""
    global _controller
    if d > SMALL_D:
        return contextlib.nullcontext()
    if _controller is None:  # scanning the loaded libraries costs ~15 ms: once per process
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """sigma'(z) = sigma(z) sigma(-z), elementwise; never overflows."""
    return expit(z) * expit(-z)


def weighted_gram(
    X: np.ndarray, c: np.ndarray | None, lam: float, *, single: bool = False
) -> np.ndarray:
    """G = lam I + sum_s c_s x_s x_s^T = lam I + X^T diag(c) X, shape (d, d), float64.

    Args:
        X: (n, d) rows x_s.
        c: (n,) weights c_s >= 0, or None for all ones.
        lam: ridge added to the diagonal.
        single: accumulate each block's product in float32 (``ssyrk``, about twice as fast) and sum the
            blocks in float64; relative error ~1e-7. For Newton steps, whose fixed point (grad = 0) does
            not depend on the Hessian's rounding; never for a reported H or V.

    Returns:
        G, symmetric (both triangles filled).
    """
    X = np.ascontiguousarray(X, dtype=np.float64)
    n, d = X.shape
    if c is not None:
        c = np.asarray(c, dtype=np.float64)
        if np.any(c < 0):  # sqrt(c) needs c >= 0; a signed weighting takes the general product
            return lam * np.eye(d) + (X * c[:, None]).T @ X
        r = np.sqrt(c)
    G = np.zeros((d, d), order="F")
    with small_blas(d):
        for s in range(0, n, GRAM_BLOCK):
            Y = X[s : s + GRAM_BLOCK] if c is None else X[s : s + GRAM_BLOCK] * r[s : s + GRAM_BLOCK, None]
            G = gram_block_add(G, Y, single)
    return finish_gram(G, lam)


def gram_block_add(G: np.ndarray, Y: np.ndarray, single: bool) -> np.ndarray:
    """Add Y^T Y to the upper triangle of the Fortran-ordered (d, d) accumulator G; returns G.

    Y is a C-ordered (m, d) block, so Y.T is a Fortran-ordered (d, m) view and syrk(trans=0) takes it as
    is. ``single``: the block's product in float32 (ssyrk), the sum in float64.
    """
    if single:
        G += ssyrk(1.0, (Y if Y.dtype == np.float32 else Y.astype(np.float32)).T, trans=0, lower=0)
        return G
    return dsyrk(1.0, Y.T, beta=1.0, c=G, trans=0, lower=0, overwrite_c=1)


def finish_gram(G: np.ndarray, lam: float) -> np.ndarray:
    """Symmetric lam I + G from the upper triangle of a :func:`gram_block_add` accumulator."""
    G = np.triu(G)
    G = G + np.triu(G, 1).T
    G[np.diag_indices(G.shape[0])] += lam
    return G


def design_matrix(X: np.ndarray, lam: float, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """V = lam I + sum_s w_s b_s b_s^T, shape (d, d), float64 (rows of X are the b_s)."""
    return weighted_gram(X, sample_weight, lam)


def logistic_hessian(
    theta: np.ndarray, X: np.ndarray, lam: float, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """H(theta) = lam I + sum_s w_s sigma'(<theta, b_s>) b_s b_s^T, shape (d, d) (spec §4; the negative
    Hessian of L, used by the sequential selectors and the local design)."""
    X = np.asarray(X, dtype=np.float64)
    c = sigmoid_prime(X @ np.asarray(theta, dtype=np.float64))
    if sample_weight is not None:
        c = c * np.asarray(sample_weight, dtype=np.float64)
    return weighted_gram(X, c, lam)
