"""Preference models for online labels: P(y > y' | x) from our fitted Bradley–Terry model, the bundled judge,
or any callable; and an append-only label log for the labels an online run draws from them.

- :class:`BTPreference`: P = sigma(<theta, psi(x, y) - psi(x, y')>) with theta fitted by
  :class:`duelbandit.reward.BradleyTerry` on collected labels and psi a :class:`FeatureMap` that embeds NEW
  texts in the space the labels were fitted in (so the collection stage feeds the online stage).
- :class:`JudgePreference`: P = sigma((r(x, y) - r(x, y')) / temperature) with r the bundled judge.
- :class:`CallablePreference`: any ``prefer(prompt, y, y') -> probability``.

Every model also exposes ``reward(prompts, responses)`` where it has one (BT, judge), used by DeRa sweeps.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

from duelbandit.errors import OnlineError
from duelbandit.io.jsonl import append_jsonl, read_jsonl
from duelbandit.rng import as_generator


@runtime_checkable
class PreferenceModel(Protocol):
    """P(y > y' | x) for aligned lists of prompts and response pairs."""

    name: str

    def prob(self, prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        """(n,) probabilities that ``a[k]`` is preferred to ``b[k]`` as an answer to ``prompts[k]``."""
        ...


def _check_lists(prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> None:
    if not (len(prompts) == len(a) == len(b)):
        raise OnlineError(f"prefer: {len(prompts)} prompts, {len(a)} and {len(b)} responses; expected equal")


class CallablePreference:
    """Wrap ``prefer(prompt, y, y') -> probability in [0, 1]`` (an LLM judge, a human in the loop, ...)."""

    def __init__(self, prefer: Callable[[str, str, str], float], *, name: str = "callable") -> None:
        if not callable(prefer):
            raise OnlineError(f"prefer: expected a callable (prompt, y, y') -> probability, got {prefer!r}")
        self.prefer = prefer
        self.name = name

    def prob(self, prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        _check_lists(prompts, a, b)
        out = np.empty(len(prompts))
        for k, (x, y, y2) in enumerate(zip(prompts, a, b)):
            p = self.prefer(x, y, y2)
            if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) \
                    or not 0 <= float(p) <= 1:
                raise OnlineError(f"{self.name}: prefer returned {p!r} for item {k}; expected a probability in [0, 1]")
            out[k] = float(p)
        return out


class JudgePreference:
    """The bundled judge as a preference model: P(y > y') = sigma((r(x, y) - r(x, y')) / temperature);
    temperature 0 is the deterministic judge (1, 0, or 1/2 on a tie). Only prompts of the bundled pool
    (their templates) can be judged (:func:`duelbandit.data.judge.judge_reward` raises otherwise)."""

    def __init__(self, *, temperature: float = 0.1, name: str = "judge") -> None:
        if not np.isfinite(temperature) or temperature < 0:
            raise OnlineError(f"temperature: expected a finite value >= 0, got {temperature!r}")
        self.temperature = float(temperature)
        self.name = name

    def reward(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """(n,) judge rewards r(x, y)."""
        from duelbandit.data.judge import judge_reward

        return np.array([judge_reward(x, y) for x, y in zip(prompts, responses)], dtype=np.float64)

    def prob(self, prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        _check_lists(prompts, a, b)
        gap = self.reward(prompts, a) - self.reward(prompts, b)
        if self.temperature == 0:
            return 0.5 + 0.5 * np.sign(gap)
        return expit(gap / self.temperature)


class FeatureMap(Protocol):
    """Embeds new (prompt, response) texts into the feature space a reward model was fitted in."""

    def transform(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray: ...


class HashingFeatureMap:
    """Out-of-sample version of :class:`duelbandit.embed.HashingEmbedder` (``mode="joint"``): the tf-idf,
    SVD, centering and scale are fitted on a pool once, then applied to any new texts. On the pool's own
    responses it reproduces ``embedder.embed(pool).X`` (tested), so a BT model fitted on those features
    scores generated responses consistently.
    """

    def __init__(self, embedder: object) -> None:
        self.embedder = embedder

    def fit(self, pool: object) -> HashingFeatureMap:
        from sklearn.feature_extraction.text import TfidfTransformer

        emb = self.embedder
        if getattr(emb, "mode", None) != "joint":
            raise OnlineError(f"HashingFeatureMap: expected a HashingEmbedder with mode='joint', got {emb!r}")
        texts = [f"{pool.prompts[n]}\n{r}" for n, r in zip(pool.response_prompt, pool.responses)]
        H = emb._hash(texts)  # the embedder's own hashing and SVD steps (not re-implemented here)
        self.tfidf_ = TfidfTransformer(sublinear_tf=True).fit(H)
        got = emb.fit_lsa(self.tfidf_.transform(H), emb.dim)
        if got is None:
            raise OnlineError("HashingFeatureMap: every text of the pool is empty after hashing")
        self.lsa_, Z = got
        self.mean_ = Z.mean(axis=0, keepdims=True) if emb.center else np.zeros((1, emb.dim))
        self.scale_ = float(np.linalg.norm(Z - self.mean_, axis=1).max())
        return self

    def transform(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """(n, d) features of new texts (n-grams unseen by the pool carry no weight)."""
        T = self.tfidf_.transform(self.embedder._hash([f"{x}\n{y}" for x, y in zip(prompts, responses)]))
        return (self.lsa_.transform(T) - self.mean_) / self.scale_


class TransformerFeatureMap:
    """Out-of-sample version of :class:`duelbandit.embed.TransformerEmbedder` (issue 10's encoder recipes):
    the raw rows of new texts come from the embedder's own ``encode_texts`` (joint, response or interaction
    recipe), then the PCA / centering and the unit-ball scale fitted on the pool are applied. Reproduces
    ``embedder.embed(pool).X`` on the pool (tested)."""

    def __init__(self, embedder: object) -> None:
        self.embedder = embedder

    def _raw(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        from duelbandit.embed.recipes import interaction, joint_text

        emb = self.embedder
        if emb.mode == "joint":
            return emb.encode_texts([joint_text(x, y) for x, y in zip(prompts, responses)])
        if emb.mode == "response":
            return emb.encode_texts(list(responses))
        return interaction(emb.encode_texts(list(prompts)), emb.encode_texts(list(responses)))

    def fit(self, pool: object) -> TransformerFeatureMap:
        emb = self.embedder
        Z = np.asarray(emb.raw(pool), dtype=np.float64)
        self.pca_ = None
        if emb.dim is not None:
            from sklearn.decomposition import PCA

            self.pca_ = PCA(n_components=int(emb.dim), svd_solver="covariance_eigh", random_state=emb.seed)
            with threadpool_limits(limits=1, user_api="blas"):
                Z = self.pca_.fit_transform(Z)
            self.mean_ = np.zeros((1, Z.shape[1]))
        else:
            self.mean_ = Z.mean(axis=0, keepdims=True) if emb.center else np.zeros((1, Z.shape[1]))
        self.scale_ = float(np.linalg.norm(Z - self.mean_, axis=1).max())
        return self

    def transform(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        Z = np.asarray(self._raw(prompts, responses), dtype=np.float64)
        if self.pca_ is not None:
            with threadpool_limits(limits=1, user_api="blas"):
                Z = self.pca_.transform(Z)
        return (Z - self.mean_) / self.scale_


def feature_map_for(embedder: object, pool: object) -> FeatureMap:
    """The fitted out-of-sample feature map of a hashing (mode joint) or transformer embedder."""
    if getattr(embedder, "name", None) == "transformer":
        return TransformerFeatureMap(embedder).fit(pool)
    return HashingFeatureMap(embedder).fit(pool)


class BTPreference:
    """Bradley–Terry preference over features: P(y > y') = sigma(<theta, psi(x, y) - psi(x, y')>).

    Args:
        theta: (d,) fitted parameter (``BradleyTerry(...).fit(...).coef_``).
        feature_map: embeds new texts into the space theta lives in (e.g. :class:`HashingFeatureMap`).

    References:
        Scheid et al. 2024, §2 (the BT model the selectors fit); Munos et al. 2023 (a preference model
        as the online learner's oracle).
    """

    def __init__(self, theta: np.ndarray, feature_map: FeatureMap, *, name: str = "bt") -> None:
        theta = np.asarray(theta, dtype=np.float64)
        if theta.ndim != 1 or not np.all(np.isfinite(theta)):
            raise OnlineError(f"theta: expected a finite 1-d vector, got shape {theta.shape}")
        self.theta = theta
        self.feature_map = feature_map
        self.name = name

    def reward(self, prompts: Sequence[str], responses: Sequence[str]) -> np.ndarray:
        """(n,) r(x, y) = <theta, psi(x, y)>."""
        X = self.feature_map.transform(prompts, responses)
        if X.shape[1] != self.theta.shape[0]:
            raise OnlineError(f"feature_map gives {X.shape[1]} features; theta has {self.theta.shape[0]}")
        return X @ self.theta

    def prob(self, prompts: Sequence[str], a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        _check_lists(prompts, a, b)
        return expit(self.reward(prompts, a) - self.reward(prompts, b))


class OnlineLabelLog:
    """Append-only JSONL of online labels, one row per label, fsynced (like the collection loop's log):

        {"index": 0, "step": 3, "prompt": ..., "a": ..., "b": ..., "p": 0.73, "y": 1.0, "source": "bt"}

    ``y`` = 1 when ``a`` was preferred. ``index`` runs 0, 1, 2, ... with no gap; a resumed run appends
    after the last complete line (a torn last line left by a kill is cut off by :func:`append_jsonl`).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    def rows(self) -> list[dict]:
        if not self.path.exists():
            return []
        out = []
        for line, row in read_jsonl(self.path, error=OnlineError, allow_torn_tail=True):
            if row.get("index") != len(out):
                raise OnlineError(f"{self.path}:{line}: field 'index' is {row.get('index')!r}, expected {len(out)}")
            out.append(row)
        return out

    def append(self, rows: list[dict]) -> None:
        append_jsonl(self.path, rows)


def draw_labels(
    model: PreferenceModel, prompts: Sequence[str], a: Sequence[str], b: Sequence[str],
    rng: int | np.random.Generator, *, log: OnlineLabelLog | None = None, step: int | None = None,
    start_index: int = 0,
) -> np.ndarray:
    """y_k ~ Bernoulli(P(a_k > b_k | x_k)) (one uniform draw per label, in order); logged when ``log``."""
    gen = as_generator(rng)
    p = model.prob(prompts, a, b)
    y = (gen.random(p.shape[0]) < p).astype(np.float64)
    if log is not None:
        log.append([{"index": start_index + k, "step": step, "prompt": x, "a": ya, "b": yb, "p": float(pk),
                     "y": float(yk), "source": model.name}
                    for k, (x, ya, yb, pk, yk) in enumerate(zip(prompts, a, b, p, y))])
    return y
