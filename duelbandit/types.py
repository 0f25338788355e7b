"""The core types, plain data that every stage exchanges: the pool (prompts, their candidate responses,
the within-prompt candidate pairs), its features, a batch of pairs to label, and the labels.

Responses are stored flat, grouped by prompt (CSR layout): the responses of prompt ``n`` are
``offsets[n]:offsets[n + 1]``. Features are aligned with that flat order. A candidate pair is
(prompt n, responses i < j of n) in global response indices; its difference vector is
``b = psi_i - psi_j`` (Scheid et al. 2024, §2: b and -b carry the same information).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence

import numpy as np

from duelbandit.errors import FeatureError, LabelError, PoolError, SelectorError


@dataclass(frozen=True)
class Candidates:
    """All within-prompt pairs i < j of a pool, as parallel int arrays of length L.

    Attributes:
        prompt: (L,) prompt index of each pair.
        i: (L,) global index of the first response.
        j: (L,) global index of the second response (``i < j``, same prompt).
        pool: the pool the pairs come from (for ids and texts).
    """

    prompt: np.ndarray
    i: np.ndarray
    j: np.ndarray
    pool: Pool = field(repr=False)

    def __len__(self) -> int:
        return int(self.prompt.shape[0])

    def differences(self, X: np.ndarray, index: np.ndarray | None = None) -> np.ndarray:
        """Rows ``b = X[i] - X[j]`` for all pairs, or for the pairs in ``index`` only.

        Materialises (len(index), d); pass ``index`` when L is large.
        """
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[0] != self.pool.n_responses:
            raise FeatureError(
                f"features: expected shape ({self.pool.n_responses}, d) aligned with the pool's responses, "
                f"got {X.shape}"
            )
        if index is None:
            return X[self.i] - X[self.j]
        index = np.asarray(index, dtype=np.int64)
        return X[self.i[index]] - X[self.j[index]]

    def pair_ids(self, index: np.ndarray | None = None) -> list[str]:
        """Stable string ids ``"<prompt_id>:<local i>-<local j>"`` (local = position within the prompt)."""
        idx = np.arange(len(self)) if index is None else np.asarray(index, dtype=np.int64)
        off = self.pool.offsets
        out = []
        for k in idx:
            n = int(self.prompt[k])
            out.append(f"{self.pool.prompt_ids[n]}:{int(self.i[k] - off[n])}-{int(self.j[k] - off[n])}")
        return out

    def index_of(self, pair_ids: Sequence[str]) -> np.ndarray:
        """Inverse of :meth:`pair_ids`; unknown ids raise :class:`PoolError` naming the id."""
        lookup = self.pool._pair_lookup()
        out = np.empty(len(pair_ids), dtype=np.int64)
        for k, pid in enumerate(pair_ids):
            try:
                out[k] = lookup[pid]
            except KeyError:
                raise PoolError(f"pair_id {pid!r} is not a candidate pair of this pool") from None
        return out


@dataclass(frozen=True, eq=False)
class Pool:
    """Prompts and candidate responses (immutable).

    Attributes:
        prompt_ids: N unique prompt ids.
        prompts: N prompt texts.
        responses: R response texts, grouped by prompt.
        offsets: (N + 1,) int array; prompt n owns responses ``offsets[n]:offsets[n+1]``.
        skills: N skill labels, or None when the pool has none.
        name: where the pool came from (a path or a generator name), for provenance.
    """

    prompt_ids: tuple[str, ...]
    prompts: tuple[str, ...]
    responses: tuple[str, ...]
    offsets: np.ndarray
    skills: tuple[str, ...] | None = None
    name: str = "pool"

    def __post_init__(self) -> None:
        n = len(self.prompt_ids)
        off = np.asarray(self.offsets, dtype=np.int64)
        object.__setattr__(self, "offsets", off)
        off.setflags(write=False)
        if n == 0:
            raise PoolError(f"{self.name}: the pool has no prompts")
        if len(self.prompts) != n or off.shape != (n + 1,):
            raise PoolError(
                f"{self.name}: {n} prompt ids but {len(self.prompts)} prompts and {off.shape[0]} offsets "
                f"(expected {n + 1})"
            )
        if off[0] != 0 or off[-1] != len(self.responses) or np.any(np.diff(off) < 0):
            raise PoolError(f"{self.name}: offsets must run from 0 to {len(self.responses)}, non-decreasing")
        counts = np.diff(off)
        bad = np.flatnonzero(counts < 2)
        if bad.size:
            k = int(bad[0])
            raise PoolError(
                f"{self.name}: prompt {self.prompt_ids[k]!r} has {int(counts[k])} response(s); need at least 2"
            )
        if len(set(self.prompt_ids)) != n:
            seen: set[str] = set()
            dup = next(p for p in self.prompt_ids if p in seen or seen.add(p))  # type: ignore[func-returns-value]
            raise PoolError(f"{self.name}: duplicate prompt id {dup!r}")
        if self.skills is not None and len(self.skills) != n:
            raise PoolError(f"{self.name}: {len(self.skills)} skill labels for {n} prompts")

    # sizes -------------------------------------------------------------------------------------
    @property
    def n_prompts(self) -> int:
        return len(self.prompt_ids)

    @property
    def n_responses(self) -> int:
        return len(self.responses)

    @property
    def response_counts(self) -> np.ndarray:
        """(N,) number of responses per prompt (K_n)."""
        return np.diff(self.offsets)

    @property
    def response_prompt(self) -> np.ndarray:
        """(R,) prompt index of every response."""
        return np.repeat(np.arange(self.n_prompts), self.response_counts)

    @property
    def n_pairs(self) -> int:
        """L = sum_n K_n (K_n - 1) / 2."""
        k = self.response_counts
        return int(np.sum(k * (k - 1) // 2))

    # pairs -------------------------------------------------------------------------------------
    def pairs(self) -> Candidates:
        """All within-prompt pairs (i < j), vectorised: no Python loop over pairs."""
        cached = self.__dict__.get("_pairs")
        if cached is not None:
            return cached
        k = self.response_counts
        per = k * (k - 1) // 2
        prompt = np.repeat(np.arange(self.n_prompts), per)
        # local (a, b) with a < b for each distinct K, then shifted by the prompt's offset
        i = np.empty(prompt.shape[0], dtype=np.int64)
        j = np.empty(prompt.shape[0], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(per)])
        for kk in np.unique(k):
            a, b = np.triu_indices(int(kk), 1)
            rows = np.flatnonzero(k == kk)
            pos = starts[rows][:, None] + np.arange(a.shape[0])[None, :]
            i[pos] = self.offsets[rows][:, None] + a[None, :]
            j[pos] = self.offsets[rows][:, None] + b[None, :]
        cand = Candidates(prompt=prompt, i=i, j=j, pool=self)
        for arr in (prompt, i, j):
            arr.setflags(write=False)
        object.__setattr__(self, "_pairs", cand)
        return cand

    def _pair_lookup(self) -> dict[str, int]:
        cached = self.__dict__.get("_lookup")
        if cached is None:
            cand = self.pairs()
            cached = {pid: k for k, pid in enumerate(cand.pair_ids())}
            object.__setattr__(self, "_lookup", cached)
        return cached

    def responses_of(self, n: int) -> tuple[str, ...]:
        """Texts of the responses of prompt ``n``."""
        return self.responses[self.offsets[n] : self.offsets[n + 1]]

    def fingerprint(self) -> str:
        """A short hash of ids and texts: labels and checkpoints record it to refuse a foreign pool."""
        import hashlib

        h = hashlib.sha256()
        for n in range(self.n_prompts):
            h.update(self.prompt_ids[n].encode())
            h.update(b"\x00")
            h.update(self.prompts[n].encode())
            for r in self.responses_of(n):
                h.update(b"\x01")
                h.update(r.encode())
            h.update(b"\x02")
        return h.hexdigest()[:16]

    @classmethod
    def from_lists(
        cls,
        prompts: Sequence[str],
        responses: Sequence[Sequence[str]],
        *,
        prompt_ids: Sequence[str] | None = None,
        skills: Sequence[str] | None = None,
        name: str = "pool",
    ) -> Pool:
        """Build a pool from a list of prompts and a list of response lists (one list per prompt)."""
        if len(prompts) != len(responses):
            raise PoolError(f"{name}: {len(prompts)} prompts but {len(responses)} response lists")
        ids = tuple(str(p) for p in prompt_ids) if prompt_ids is not None else tuple(
            f"p{n}" for n in range(len(prompts))
        )
        counts = [len(r) for r in responses]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        flat = tuple(str(r) for rs in responses for r in rs)
        return cls(
            prompt_ids=ids,
            prompts=tuple(str(p) for p in prompts),
            responses=flat,
            offsets=offsets,
            skills=tuple(str(s) for s in skills) if skills is not None else None,
            name=name,
        )


@dataclass(frozen=True)
class Features:
    """psi(x, y) for every response of a pool: (R, d), aligned with ``Pool.responses``.

    Attributes:
        X: (R, d) float array.
        name: the embedder's name.
        config: every setting needed to reproduce X (recorded in outputs for provenance).
    """

    X: np.ndarray
    name: str = "features"
    config: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        X = np.asarray(self.X)
        if X.ndim != 2:
            raise FeatureError(f"features {self.name!r}: expected a 2-d (R, d) array, got shape {X.shape}")
        if not np.all(np.isfinite(X)):
            r = int(np.argwhere(~np.isfinite(X))[0, 0])
            raise FeatureError(f"features {self.name!r}: row {r} has NaN or inf")
        object.__setattr__(self, "X", X)

    @property
    def dim(self) -> int:
        return int(self.X.shape[1])

    def check_aligned(self, pool: Pool) -> None:
        """Raise FeatureError unless there is one row per response of ``pool``."""
        if self.X.shape[0] != pool.n_responses:
            raise FeatureError(
                f"features {self.name!r} have {self.X.shape[0]} rows but pool {pool.name!r} has "
                f"{pool.n_responses} responses"
            )


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
    def concat(parts: list[Labels]) -> Labels:
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
