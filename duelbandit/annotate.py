"""Annotators: who answers a batch. Simulated (known theta*, for regret) or judge (a reward on text).

Label convention: ``y = 1`` when the pair's first response (global index ``i``, the lower local index)
is preferred, ``0`` when the second is. BT model: P(y = 1) = sigma(<theta*, psi_i - psi_j>).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.special import expit

from duelbandit.errors import LabelError
from duelbandit.rng import as_generator, seed_of
from duelbandit.types import Batch, Features, Pool
from duelbandit.types import Labels


@runtime_checkable
class Annotator(Protocol):
    """Answers a batch with one label per requested label (``batch.size`` of them)."""

    name: str

    def label(self, batch: Batch) -> Labels: ...


# ---------------------------------------------------------------------------------------------------
# annotators


def _pair_arrays(batch: Batch, pool: Pool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(expanded candidate indices, first response i, second response j), one entry per label."""
    idx = batch.expanded()
    cand = pool.pairs()
    bad = np.flatnonzero((idx < 0) | (idx >= len(cand)))
    if bad.size:
        raise LabelError(
            f"batch: candidate index {int(idx[bad[0]])} is outside this pool's {len(cand)} pairs "
            f"(pool {pool.name!r})"
        )
    return idx, cand.i[idx], cand.j[idx]


def _check_rewards(rewards: np.ndarray, pool: Pool, field_name: str) -> np.ndarray:
    r = np.asarray(rewards, dtype=np.float64)
    if r.shape != (pool.n_responses,):
        raise LabelError(
            f"{field_name}: expected shape ({pool.n_responses},) for pool {pool.name!r}, got {r.shape}"
        )
    if not np.all(np.isfinite(r)):
        raise LabelError(f"{field_name}: entry {int(np.flatnonzero(~np.isfinite(r))[0])} is NaN or inf")
    return r


def bt_labels(z: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """y_s ~ Bernoulli(sigma(z_s)), one uniform draw per label in order (so the stream is reproducible)."""
    return (gen.random(z.shape[0]) < expit(z)).astype(np.float64)


def bt_rewards(
    theta_star: np.ndarray, pool: Pool, features: Features | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a well-specified Bradley–Terry instance and return (theta*, rewards r = X theta*).

    Args:
        theta_star: (d,) finite true parameter.
        pool: the pool the features are aligned with.
        features: psi, :class:`Features` or an (R, d) array with R = ``pool.n_responses``.

    Returns:
        theta* as a float64 (d,) array and the (R,) rewards r_k = <theta*, psi_k>.

    Raises:
        LabelError: naming ``features`` or ``theta_star``, the expected shape and the one given.
    """
    X = features.X if isinstance(features, Features) else np.asarray(features)
    theta = np.asarray(theta_star, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != pool.n_responses:
        raise LabelError(
            f"features: expected shape ({pool.n_responses}, d) for pool {pool.name!r}, got {X.shape}"
        )
    if theta.shape != (X.shape[1],) or not np.all(np.isfinite(theta)):
        raise LabelError(f"theta_star: expected a finite ({X.shape[1]},) vector, got shape {theta.shape}")
    return theta, X.astype(np.float64) @ theta


class SimulatedBT:
    """Well-specified Bradley–Terry annotator: y ~ Bernoulli(sigma(<theta*, psi_i - psi_j>)).

    Labels come in ``batch.expanded()`` order from one Generator kept across calls (a loop that labels
    round after round draws fresh noise each round). Knows ``rewards = X theta*`` for regret.

    Args:
        theta_star: (d,) true parameter.
        pool: the pool the batches refer to.
        features: psi aligned with the pool (:class:`Features` or an (R, d) array).
        rng: int seed or Generator (normalised once by :func:`as_generator`).
        name: recorded as the labels' ``source``.

    References:
        Scheid et al. 2024, §2 (Bradley–Terry labels on within-prompt pairs).
    """

    def __init__(
        self,
        theta_star: np.ndarray,
        pool: Pool,
        features: Features | np.ndarray,
        *,
        rng: int | np.random.Generator,
        name: str = "simulated-bt",
    ) -> None:
        theta, rewards = bt_rewards(theta_star, pool, features)
        self.theta_star = theta
        self.pool = pool
        self.features = features
        self.rewards = rewards
        self.name = name
        self.seed = seed_of(rng)
        self._gen = as_generator(rng)

    def label(self, batch: Batch) -> Labels:
        """One Bernoulli(sigma(<theta*, b>)) label per requested label of ``batch``."""
        idx, i, j = _pair_arrays(batch, self.pool)
        y = bt_labels(self.rewards[i] - self.rewards[j], self._gen)
        return Labels(pairs=idx, y=y, source=self.name, seed=self.seed)


class JudgeAnnotator:
    """Bradley–Terry on any per-response reward (e.g. a judge's score of the text): misspecified when the
    reward is not linear in psi. P(first preferred) = sigma((r_i - r_j) / temperature).

    temperature = 0 is the deterministic judge: y = 1 if r_i > r_j, 0 if r_i < r_j, 0.5 on a tie (it
    draws nothing from the Generator).

    Args:
        rewards: (R,) reward of every response, aligned with ``pool.responses``.
        pool: the pool the batches refer to.
        rng: int seed or Generator, kept across calls.
        temperature: >= 0; larger means noisier labels.
        name: recorded as the labels' ``source``.
    """

    def __init__(
        self,
        rewards: np.ndarray,
        pool: Pool,
        *,
        rng: int | np.random.Generator,
        temperature: float = 1.0,
        name: str = "judge",
    ) -> None:
        if not np.isfinite(temperature) or temperature < 0:
            raise LabelError(f"temperature: expected a finite value >= 0, got {temperature!r}")
        self.rewards = _check_rewards(rewards, pool, "rewards")
        self.pool = pool
        self.temperature = float(temperature)
        self.name = name
        self.seed = seed_of(rng)
        self._gen = as_generator(rng)

    def label(self, batch: Batch) -> Labels:
        """One label per requested label of ``batch``, in ``batch.expanded()`` order."""
        idx, i, j = _pair_arrays(batch, self.pool)
        gap = self.rewards[i] - self.rewards[j]
        if self.temperature == 0:
            y = 0.5 + 0.5 * np.sign(gap)
        else:
            y = bt_labels(gap / self.temperature, self._gen)
        return Labels(pairs=idx, y=y, source=self.name, seed=self.seed)


_WINNER = {"a": 1.0, "b": 0.0, "tie": 0.5}


def _is_number(x: object) -> bool:
    return isinstance(x, (float, int, np.floating, np.integer)) and not isinstance(x, bool) and np.isfinite(x)


class CallbackAnnotator:
    """Labels from a function: ``fn(prompt, response_a, response_b)`` returns ``'a'`` (the pair's first
    response, global index i), ``'b'`` (the second, j), ``'tie'``, or a float in [0, 1] = the probability
    (or soft label) that ``a`` is preferred. Called once per requested label, in ``batch.expanded()``
    order, so a repeated pair is asked again (a human may answer differently).

    Args:
        fn: the callback (an LLM judge, a UI prompt, ...).
        pool: the pool the batches refer to (for the texts).
        name: recorded as the labels' ``source``.
    """

    def __init__(
        self, fn: Callable[[str, str, str], str | float], pool: Pool, *, name: str = "callback"
    ) -> None:
        if not callable(fn):
            raise LabelError(
                f"fn: expected a callable (prompt, response_a, response_b) -> winner, got {fn!r}"
            )
        self.fn = fn
        self.pool = pool
        self.name = name

    def label(self, batch: Batch) -> Labels:
        """Ask ``fn`` once per requested label."""
        idx, i, j = _pair_arrays(batch, self.pool)
        cand = self.pool.pairs()
        resp, prompts = self.pool.responses, self.pool.prompts
        y = np.empty(idx.shape[0])
        for s in range(idx.shape[0]):
            out = self.fn(prompts[int(cand.prompt[idx[s]])], resp[int(i[s])], resp[int(j[s])])
            if isinstance(out, str) and out.strip().lower() in _WINNER:
                y[s] = _WINNER[out.strip().lower()]
            elif _is_number(out) and 0 <= out <= 1:
                y[s] = float(out)
            else:
                pid = cand.pair_ids(idx[s : s + 1])[0]
                raise LabelError(
                    f"{self.name}: callback returned {out!r} for pair {pid}; "
                    "expected 'a', 'b', 'tie' or a float in [0, 1]"
                )
        return Labels(pairs=idx, y=y, source=self.name, seed=None)


class LabelsPending(LabelError):
    """A :class:`FileAnnotator` has no (more) label for some requested pairs: humans must label them first.

    Attributes:
        missing: (k,) candidate indices that lack a label, one entry per missing label.
    """

    def __init__(self, msg: str, missing: np.ndarray) -> None:
        super().__init__(msg)
        self.missing = missing


class FileAnnotator:
    """Labels read from a file of human labels (see :func:`duelbandit.io.human.read_human_labels`).

    The k-th request for a pair gets the k-th label of that pair in file order, so repeats of a pair
    get different human answers and a resumed run gets the same answers again. ``consumed`` lists pairs
    already answered (one entry per label, e.g. the labels a run has logged): those labels are skipped.
    If any requested label is missing, :class:`LabelsPending` is raised and nothing is consumed.

    Args:
        labels: the labels in the file (pairs index ``pool.pairs()``).
        pool: the pool the batches refer to.
        consumed: candidate indices already answered, one entry per label.
        name: recorded as the labels' ``source``.
    """

    def __init__(
        self, labels: Labels, pool: Pool, *, consumed: np.ndarray | None = None, name: str = "file"
    ) -> None:
        self.labels = labels
        self.pool = pool
        self.name = name
        order = np.argsort(labels.pairs, kind="stable")  # file order within each pair
        uniq, start, count = np.unique(labels.pairs[order], return_index=True, return_counts=True)
        self._rows = {int(p): order[s : s + c] for p, s, c in zip(uniq, start, count)}
        self._used: dict[int, int] = {}
        if consumed is not None:
            for p, c in zip(*np.unique(np.asarray(consumed, dtype=np.int64), return_counts=True)):
                self._used[int(p)] = int(c)

    def label(self, batch: Batch) -> Labels:
        """The next unused file label of every requested label of ``batch``, in ``batch.expanded()`` order."""
        idx, _, _ = _pair_arrays(batch, self.pool)
        take = np.empty(idx.shape[0], dtype=np.int64)
        used = dict(self._used)
        missing = []
        for s, p in enumerate(idx.tolist()):
            k = used.get(p, 0)
            rows = self._rows.get(p)
            if rows is None or k >= rows.shape[0]:
                missing.append(p)
                continue
            take[s] = rows[k]
            used[p] = k + 1
        if missing:
            miss = np.asarray(missing, dtype=np.int64)
            ids = self.pool.pairs().pair_ids(np.unique(miss)[:3])
            raise LabelsPending(
                f"{self.name}: {miss.shape[0]} of {idx.shape[0]} requested labels are not in the file yet "
                f"(e.g. pair {', '.join(ids)})", miss)
        self._used = used
        ann = None if self.labels.annotator is None else tuple(self.labels.annotator[k] for k in take)
        return Labels(pairs=idx, y=self.labels.y[take], source=self.name, seed=None, annotator=ann)
