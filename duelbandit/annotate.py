"""Annotators: who answers a batch. Simulated (known theta*, for regret) or judge (a reward on text).

Label convention: ``y = 1`` when the pair's first response (global index ``i``, the lower local index)
is preferred, ``0`` when the second is. BT model: P(y = 1) = sigma(<theta*, psi_i - psi_j>).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from duelbandit.errors import LabelError
from duelbandit.select.base import Batch


@dataclass(frozen=True)
class Labels:
    """Labels for candidate pairs, one entry per label (repeats are separate entries).

    Attributes:
        pairs: (T,) candidate indices into ``Pool.pairs()``.
        y: (T,) float in [0, 1]: 1 = first response preferred, 0 = second, 0.5 = tie (see docs).
        source: who labelled ("simulated-bt", "judge", "file:<path>", ...).
        seed: the seed of a simulated annotator, when there is one.
        annotator: (T,) annotator ids, or None.
    """

    pairs: np.ndarray
    y: np.ndarray
    source: str = "unknown"
    seed: int | None = None
    annotator: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        pairs = np.asarray(self.pairs, dtype=np.int64)
        y = np.asarray(self.y, dtype=np.float64)
        if pairs.ndim != 1 or pairs.shape != y.shape:
            raise LabelError(f"labels: pairs {pairs.shape} and y {y.shape} must be equal 1-d shapes")
        if not np.all(np.isfinite(y)) or np.any((y < 0) | (y > 1)):
            k = int(np.flatnonzero(~((y >= 0) & (y <= 1)))[0])
            raise LabelError(f"labels: y[{k}] = {y[k]!r}; expected a value in [0, 1]")
        if self.annotator is not None and len(self.annotator) != pairs.shape[0]:
            raise LabelError(f"labels: {len(self.annotator)} annotator ids for {pairs.shape[0]} labels")
        object.__setattr__(self, "pairs", pairs)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return int(self.pairs.shape[0])

    @staticmethod
    def concat(parts: "list[Labels]") -> "Labels":
        """Concatenate label sets (sources joined when they differ)."""
        if not parts:
            return Labels(np.zeros(0, np.int64), np.zeros(0))
        sources = sorted({p.source for p in parts})
        ann = None
        if all(p.annotator is not None for p in parts):
            ann = tuple(a for p in parts for a in p.annotator)  # type: ignore[union-attr]
        return Labels(
            pairs=np.concatenate([p.pairs for p in parts]),
            y=np.concatenate([p.y for p in parts]),
            source="+".join(sources),
            seed=parts[0].seed if len({p.seed for p in parts}) == 1 else None,
            annotator=ann,
        )


@runtime_checkable
class Annotator(Protocol):
    """Answers a batch with one label per requested label (``batch.size`` of them)."""

    name: str

    def label(self, batch: Batch) -> Labels: ...
