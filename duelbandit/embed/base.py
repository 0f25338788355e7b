"""The Embedder protocol and the one post-processing step every embedder shares (the unit-ball scale).

An embedder maps a pool to features psi(x, y), one row per response, in the pool's response order
(ARCHITECTURE.md, "Features"). The theory assumes ||psi|| <= 1 (Scheid et al. 2024, H1), so every
embedder ends with :func:`scale_to_unit_ball` and records the scale in ``Features.config``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from duelbandit.errors import FeatureError
from duelbandit.types import Features, Pool


@runtime_checkable
class Embedder(Protocol):
    """Turns a pool into features aligned with ``pool.responses``.

    Attributes:
        name: short name recorded in ``Features.name`` (e.g. ``"hashing"``).
    """

    name: str

    def embed(self, pool: Pool) -> Features:
        """Return Features with X of shape (pool.n_responses, d) and every setting in ``config``."""
        ...


def scale_to_unit_ball(X: np.ndarray) -> tuple[np.ndarray, float]:
    """Divide by the largest row norm so that max_r ||X_r|| = 1 (H1: ||psi|| <= 1).

    One global scale (not per-row normalisation) keeps the geometry: differences psi_i - psi_j, and so
    the design, only change by a common factor.

    Args:
        X: (R, d) array.

    Returns:
        (X / s, s) with s = max_r ||X_r||_2.

    Raises:
        FeatureError: when every row is zero (all responses embed to the same point: no pair is informative).
    """
    norms = np.linalg.norm(X, axis=1)
    s = float(norms.max()) if norms.size else 0.0
    if not np.isfinite(s) or s <= 0.0:
        raise FeatureError(
            f"features: the largest row norm is {s}; expected a positive finite value (do all responses "
            "have the same text?)"
        )
    return X / s, s
