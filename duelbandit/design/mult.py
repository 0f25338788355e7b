"""Titterington's multiplicative algorithm for the approximate D-optimal design (spec §2): a baseline.

    w_i <- w_i g_i(w) / d,    g_i(w) = b_i^T M(w)^{-1} b_i.

The weights stay on the simplex because sum_i w_i g_i = d, and log det M(w) increases monotonically
(Titterington 1976; Silvey, Titterington & Torsney 1978). Each iteration is one exact leverage pass plus
one O(L d^2) rebuild of M, the support stays full, and the tail is slow (sublinear): the reason Frank–Wolfe
with away steps is the default.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
from tqdm.auto import tqdm

from duelbandit.design.leverage import leverages
from duelbandit.errors import DesignError


def mult_design(
    B: np.ndarray,
    *,
    eps: float = 1e-3,
    max_iter: int = 10_000,
    reg: float = 0.0,
    verbose: bool = False,
    w0: np.ndarray | None = None,
) -> tuple[np.ndarray, int, dict]:
    """Multiplicative algorithm from the uniform design (or w0) until max g <= (1 + eps) d.

    With a ridge lambda > 0 the update is w_i <- w_i g_i / sum_j w_j g_j (keeps the simplex; no
    monotonicity proof in that case) and the stop rule is max g - sum w g <= eps d.

    Args:
        B: (L, d) float64 candidates spanning R^d.
        eps: tolerance of the stop rule.
        max_iter: iteration limit; the last weights are returned with converged=False.
        reg: ridge lambda >= 0.
        verbose: tqdm progress bar.
        w0: optional positive starting weights (L,).

    Returns:
        (weights (L,), iterations, info).

    References:
        Titterington, "Algorithms for computing D-optimal designs on a finite design space", 1976.
    """
    L, d = B.shape
    w = np.full(L, 1.0 / L) if w0 is None else np.asarray(w0, dtype=np.float64) / np.sum(w0)
    converged, it = False, 0
    for it in tqdm(range(max_iter + 1), desc="multiplicative", disable=not verbose, leave=False):
        A = (B * w[:, None]).T @ B
        A[np.diag_indices_from(A)] += reg
        try:
            A_inv = scipy.linalg.cho_solve((np.linalg.cholesky(A), True), np.eye(d))
        except np.linalg.LinAlgError as exc:
            raise DesignError("multiplicative: singular information matrix; project or pass reg > 0") from exc
        g = leverages(B, A_inv)
        center = float(w @ g)
        if g.max() - center <= eps * d * (1.0 - 1e-9):
            converged = True
            break
        if it == max_iter:
            break
        w *= g / center
    return w / w.sum(), it, {"converged": converged}
