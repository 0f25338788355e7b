"""The pool: prompts, their candidate responses, and the within-prompt candidate pairs.

Responses are stored flat, grouped by prompt (CSR layout): the responses of prompt ``n`` are
``offsets[n]:offsets[n + 1]``. Features are aligned with that flat order. A candidate pair is
(prompt n, responses i < j of n) in global response indices; its difference vector is
``b = psi_i - psi_j`` (Scheid et al. 2024, §2: b and -b carry the same information).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Sequence

import numpy as np

from duelbandit.errors import FeatureError, PoolError


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
