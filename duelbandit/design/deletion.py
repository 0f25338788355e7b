"""Harman–Pronzato point deletion: candidates that cannot support any D-optimal design (spec §2).

For any design w with eps = max_i g_i(w) - d (absolute, not relative), every support point x of every
D-optimal design satisfies

    g_x(w) >= h_d(eps) = d (1 + eps/2 - sqrt(eps (4 + eps - 4/d)) / 2),

so candidates with g_i(w) < h_d(eps) can be dropped for good (Harman & Pronzato 2007, Theorem 1; it
sharpens Pronzato 2003). h_d(0) = d (at the optimum only points with g = d can carry weight) and h_d falls
quickly with eps: the rule bites once the design is already close (e.g. d = 64, max g / d = 1.001 gives
h = 0.78 d). Deletion does not change the optimum; the solvers still certify the final design on ALL
candidates, so a deleted point that would violate the certificate is added back.

References:
    Harman & Pronzato, "Improvements on removing nonoptimal support points in D-optimum design
    algorithms", Statistics & Probability Letters 77 (2007) 90-94.
"""

from __future__ import annotations

import numpy as np


def deletion_threshold(eps: float, d: int) -> float:
    """h_d(eps) = d (1 + eps/2 - sqrt(eps (4 + eps - 4/d)) / 2), eps = max_i g_i - d >= 0 (absolute).

    A candidate with leverage below h_d(eps) under the current design is not a support point of any
    D-optimal design. h_d decreases from d (eps = 0) towards 1 (eps -> infinity).
    """
    eps = max(float(eps), 0.0)
    h = d * (1.0 + eps / 2.0 - np.sqrt(eps * (4.0 + eps - 4.0 / d)) / 2.0)
    return max(h, 0.0)


def deletable(g: np.ndarray, d: int, *, g_max: float | None = None, rtol: float = 1e-9) -> np.ndarray:
    """Boolean mask of the candidates that the Harman–Pronzato bound excludes from every optimal support.

    Args:
        g: (L,) leverages g_i(w) of one nonsingular design w (or upper bounds on them: an upper bound can
            only delete fewer points).
        d: dimension (the rank the design lives in).
        g_max: max_i g_i(w) over ALL candidates when ``g`` covers only some of them (default g.max()); an
            upper bound on it is safe too (h_d decreases with eps).
        rtol: round-off margin: at the optimum the support has g = d = h_d(0) exactly, which float
            arithmetic may put a hair below.

    Returns:
        (L,) bool, True where g_i < h_d(g_max - d) (1 - rtol).
    """
    top = float(np.max(g)) if g_max is None else float(g_max)
    return g < deletion_threshold(top - d, d) * (1.0 - rtol)
