"""The Selector protocol and the types it exchanges (ARCHITECTURE.md, Core types)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from duelbandit.types import Batch
from duelbandit.types import Candidates, Features, Labels, Pool


@dataclass
class SelectionState:
    """What a selector sees: the pool, its features, the candidate pairs and the labels so far.

    Attributes:
        pool: the pool.
        features: psi for every response.
        labels: labels collected so far (None before the first round).
        lam: ridge parameter lambda of V = lam I + sum b b^T and of the BT fit (default 1/d).
    """

    pool: Pool
    features: Features
    labels: Labels | None = None
    lam: float | None = None

    def __post_init__(self) -> None:
        self.features.check_aligned(self.pool)
        if self.lam is None:
            self.lam = 1.0 / self.features.dim

    @property
    def candidates(self) -> Candidates:
        return self.pool.pairs()


@runtime_checkable
class Selector(Protocol):
    """Chooses which pairs to label. Offline selectors ignore :meth:`update`."""

    name: str

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        """Return a batch asking for exactly ``budget`` labels."""
        ...

    def update(self, batch: Batch, labels: Labels) -> None:
        """Receive the labels of ``batch`` (online selectors); offline selectors do nothing."""
        ...
