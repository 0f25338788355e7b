"""The Selector protocol and the types it exchanges (ARCHITECTURE.md, Core types)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from duelbandit.errors import SelectorError
from duelbandit.pool import Candidates, Features, Pool

if TYPE_CHECKING:
    from duelbandit.annotate import Labels


@dataclass(frozen=True)
class Batch:
    """Pairs chosen for labelling.

    Attributes:
        pairs: (m,) distinct candidate indices (into ``Pool.pairs()``).
        counts: (m,) positive label counts; ``counts.sum()`` is the number of labels asked for.
        selector: the selector's name.
        params: the selector's parameters (for provenance).
        seed: the integer seed the selection drew from, when known.
        info: extras, e.g. the design certificate of an offline selector.
    """

    pairs: np.ndarray
    counts: np.ndarray
    selector: str
    params: dict = field(default_factory=dict)
    seed: int | None = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        pairs = np.asarray(self.pairs, dtype=np.int64)
        counts = np.asarray(self.counts, dtype=np.int64)
        if pairs.shape != counts.shape or pairs.ndim != 1:
            raise SelectorError(f"batch: pairs {pairs.shape} and counts {counts.shape} must be equal 1-d shapes")
        if np.any(counts < 1):
            raise SelectorError("batch: every count must be >= 1")
        if np.unique(pairs).shape[0] != pairs.shape[0]:
            raise SelectorError("batch: pairs must be distinct (repeats go into counts)")
        object.__setattr__(self, "pairs", pairs)
        object.__setattr__(self, "counts", counts)

    @property
    def size(self) -> int:
        """Number of labels the batch asks for."""
        return int(self.counts.sum())

    def expanded(self) -> np.ndarray:
        """(size,) candidate indices with repeats, in batch order (one entry per label)."""
        return np.repeat(self.pairs, self.counts)

    @classmethod
    def from_indices(cls, index: np.ndarray, **kw) -> Batch:
        """Build from a list of candidate indices with repeats, keeping first-appearance order."""
        index = np.asarray(index, dtype=np.int64)
        uniq, first, counts = np.unique(index, return_index=True, return_counts=True)
        order = np.argsort(first)
        return cls(pairs=uniq[order], counts=counts[order], **kw)


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
