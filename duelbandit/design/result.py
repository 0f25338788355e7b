"""The result type of every design solver: weights plus a Kiefer–Wolfowitz certificate."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np


@dataclass(frozen=True)
class Certificate:
    """What a design guarantees, computed for the returned weights (never copied from the solver's guess).

    Attributes:
        max_leverage_over_d: max_i g_i(w) / d, with g_i = b_i^T M(w)^{-1} b_i; 1 at the D-optimum.
        efficiency_lower_bound: d / max_i g_i(w) <= (det M(w) / det M*)^(1/d) (Kiefer–Wolfowitz).
        logdet: log det M(w) in the (possibly projected) space the design lives in.
        support_size: number of candidates with positive weight.
        iterations: solver iterations.
        seconds: wall time of the solve.
        dim: d, the dimension the certificate refers to (the numerical rank after projection).
        rank_handling: how rank deficiency was handled, e.g. "full rank", "projected onto rank 12 span".
        method: the solver that produced the weights.
    """

    max_leverage_over_d: float
    efficiency_lower_bound: float
    logdet: float
    support_size: int
    iterations: int
    seconds: float
    dim: int
    rank_handling: str = "full rank"
    method: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Design:
    """An approximate design on L candidates.

    Attributes:
        weights: (L,) nonnegative, sums to 1, one weight per row of B.
        certificate: see :class:`Certificate`.
        info: solver-specific extras (e.g. the projection basis, the method picked by "auto").
    """

    weights: np.ndarray
    certificate: Certificate
    info: dict = field(default_factory=dict)

    @property
    def support(self) -> np.ndarray:
        """Indices of the candidates with positive weight."""
        return np.flatnonzero(self.weights > 0)
