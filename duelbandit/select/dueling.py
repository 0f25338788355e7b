"""Contextual dueling-bandit selectors, built for cumulative regret (play good responses) rather than for
learning theta*: MaxInP (Saha 2021) and CoLSTIM (Bengs, Saha & Hüllermeier 2022), on a pool (spec §7).

Both refit theta_hat on the labels so far and keep V = lam I + sum phi phi^T over labels and in-batch
picks (:class:`~duelbandit.select.model.RunningInverse`). ||x||_A = sqrt(x^T A x).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from duelbandit.errors import SelectorError
from duelbandit.reward import kappa
from duelbandit.rng import as_generator, seed_of
from duelbandit.select.base import Batch, SelectionState
from duelbandit.select.model import (
    RunningInverse,
    check_distinct_budget,
    differences,
    fit_theta,
    information,
    labels_in_use,
)
from duelbandit.select.offline import check_budget


def maxinp_radius(t: int, d: int, *, lam: float, delta: float, S: float = 1.0) -> float:
    """The GLM confidence radius MaxInP eliminates with (Saha 2021, after Li, Lu & Zhou 2017):

        beta_t = kappa(S) sqrt(2 log(1/delta) + d log(1 + t / (d lam))),

    kappa(S) = 1 / inf sigma' = 1 / sigma'(2 S) (9.52 at S = 1; :func:`duelbandit.reward.kappa`): the
    linear-bandit radius (the square root) bounds the error in the gradient space; dividing by the
    smallest slope sigma' turns it into a bound on ||theta_hat - theta*||_V. Without the factor the radius
    is too small to be a confidence radius (measured: at d = 32, t = 200, ||theta_hat - theta*||_V = 17.7
    against 13.2), so the rule eliminated responses it had no right to.
    """
    if not 0 < delta < 1:
        raise SelectorError(f"delta: expected a probability in (0, 1), got {delta!r}")
    if not (math.isfinite(S) and S > 0):
        raise SelectorError(f"S: expected a finite norm bound > 0, got {S!r}")
    return kappa(S) * math.sqrt(2 * math.log(1 / delta) + d * math.log(1 + t / (d * lam)))


@dataclass
class MaxInPSelector:
    """MaxInP (Saha 2021, "Optimal Algorithms for Stochastic Contextual Preference Bandits"), pool version.
    A response i of prompt n stays a candidate for best unless some j of the same prompt beats it by a
    confident margin:

        <theta_hat, a_j - a_i> > beta_t ||a_j - a_i||_{V^{-1}};

    among the pairs of surviving responses (over all prompts), play the pair of largest
    ||a_i - a_j||_{V^{-1}} (maximum informative pair); in-batch V += b b^T (elimination re-checked with the
    shrunk widths). When no prompt has two survivors the largest width over all pairs is taken.

    The default radius is :func:`maxinp_radius`, with the 1/kappa factor a confidence radius needs. At
    the sizes of benchmarks/bench_selectors.py (d = 32, T <= 1,000) it eliminates no response, so MaxInP
    then plays the same pairs as ``apo_practical`` (``info["eliminated"]`` counts the eliminated responses
    at the batch's first pick).

    Args:
        beta: confidence width; None uses :func:`maxinp_radius` at t labels.
        delta: failure probability of that default radius.
        S: norm bound on theta* for kappa(S) in the default radius.
        allow_repeats: allow a pair twice in one batch.
    """

    beta: float | None = None
    delta: float = 0.1
    S: float = 1.0
    allow_repeats: bool = False
    name: str = "maxinp"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        as_generator(rng)
        cand = state.candidates
        B = differences(state)
        L, d = B.shape
        check_distinct_budget(T, L, self.allow_repeats, self.name)
        labels = labels_in_use(state, self._received)
        theta = fit_theta(state, labels, B)
        t = 0 if labels is None else len(labels)
        radius = maxinp_radius(t, d, lam=state.lam, delta=self.delta, S=self.S)
        beta = self.beta if self.beta is not None else radius
        z = B @ theta
        run = RunningInverse(information(state, labels, B), B)
        taken = np.zeros(L, dtype=bool)
        picks = np.empty(T, dtype=np.int64)
        fallbacks, eliminated = 0, 0
        for s in range(T):
            margin = beta * run.width
            out = np.zeros(state.pool.n_responses, dtype=bool)
            out[cand.j[z > margin]] = True  # i beats j confidently: j cannot be the best of its prompt
            out[cand.i[-z > margin]] = True
            if s == 0:
                eliminated = int(out.sum())
            ok = ~(out[cand.i] | out[cand.j])
            if not self.allow_repeats:
                ok &= ~taken
            if not ok.any():
                fallbacks += 1
                ok = ~taken if not self.allow_repeats else np.ones(L, dtype=bool)
            j = int(np.argmax(np.where(ok, run.h, -np.inf)))
            picks[s] = j
            taken[j] = True
            run.add(j)
        return Batch.from_indices(
            picks, selector=self.name,
            params={"beta": self.beta, "delta": self.delta, "S": self.S, "allow_repeats": self.allow_repeats},
            seed=seed_of(rng),
            info={"beta_t": beta, "radius": radius, "eliminated": eliminated, "fallback_picks": fallbacks},
        )

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the next refit (used when ``state.labels`` is not given)."""
        self._received.append(labels)


def pair_index(pool_offsets: np.ndarray, block_start: np.ndarray, n: int, a: np.ndarray, b: np.ndarray
               ) -> np.ndarray:
    """Candidate index of the pairs (a, b) (local response positions, a != b) of prompt n.

    ``Pool.pairs()`` lists the pairs of a prompt with K responses in ``np.triu_indices(K, 1)`` order, so
    (lo, hi) with lo < hi sits at lo (2K - lo - 1) / 2 + (hi - lo - 1) inside the prompt's block.
    """
    K = int(pool_offsets[n + 1] - pool_offsets[n])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return block_start[n] + lo * (2 * K - lo - 1) // 2 + (hi - lo - 1)


def prompt_blocks(state: SelectionState) -> tuple[np.ndarray, np.ndarray]:
    """(start of each prompt's block in ``Pool.pairs()``, number of pairs of each prompt)."""
    k = state.pool.response_counts
    per = k * (k - 1) // 2
    return np.concatenate([[0], np.cumsum(per)[:-1]]).astype(np.int64), per.astype(np.int64)


def colstim_perturbation(eps: np.ndarray, arms: np.ndarray, V_inv: np.ndarray) -> np.ndarray:
    """(K,) eps_i ||a_i||_{V^{-1}}: CoLSTIM's perturbation of the utility of each arm (rows of ``arms``,
    (K, d)); it shrinks like 1/sqrt(labels) as V grows, so exploration decays (Bengs et al. 2022, Alg. 1)."""
    return eps * np.sqrt(np.maximum(np.einsum("kd,de,ke->k", arms, V_inv, arms), 0.0))


@dataclass
class CoLSTIMSelector:
    """CoLSTIM (Bengs, Saha & Hüllermeier 2022, "Stochastic Contextual Dueling Bandits under Linear
    Stochastic Transitivity Models", Alg. 1), on a pool: for each label a prompt is drawn uniformly at
    random (the paper's i.i.d. contexts), then

        first  = argmax_i <theta_hat, a_i> + eps_i ||a_i||_{V^{-1}},   eps_i ~ Gumbel(0, 1) clipped to [-C, C]
        second = argmax_j <theta_hat, a_j - a_first> + c ||a_j - a_first||_{V^{-1}}   (j = first allowed)

    with C = c = sqrt(d log T) by default (the paper's threshold and c_1, T the horizon). The Gumbel
    perturbation imitates the Bradley–Terry feedback (a difference of two Gumbel variables is logistic);
    scaled by ||a_i||_{V^{-1}} it shrinks as V grows. The second arm is the most optimistic challenger;
    when none beats the first (every value < 0, the self-duel's value) the paper plays a self-duel, which
    carries no information: here that prompt is set aside for the rest of the batch and no label is spent
    (``info["self_duels"]``; ``info["first_arms"]`` lists each pick's first response). When every prompt
    with a free pair is set aside, the best challenger is
    taken anyway (``info["forced"]``), so the batch always has ``budget`` pairs. In-batch V += b b^T.

    Args:
        c: exploration weight of the second arm's width; None uses sqrt(d log T).
        threshold: truncation C of the perturbation; None uses sqrt(d log T).
        horizon: T in those defaults; None uses the labels seen plus this batch's budget (at least 2).
        allow_repeats: allow a pair twice in one batch.
    """

    c: float | None = None
    threshold: float | None = None
    horizon: int | None = None
    allow_repeats: bool = False
    name: str = "colstim"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def _check(self) -> None:
        if self.c is not None and not (np.isfinite(self.c) and self.c >= 0):
            raise SelectorError(f"c: expected a finite exploration weight >= 0 or None, got {self.c!r}")
        if self.threshold is not None and not (np.isfinite(self.threshold) and self.threshold >= 0):
            raise SelectorError(f"threshold: expected a finite value >= 0 or None, got {self.threshold!r}")
        if self.horizon is not None and (isinstance(self.horizon, bool) or not isinstance(self.horizon, int)
                                         or self.horizon < 2):
            raise SelectorError(f"horizon: expected an integer >= 2 or None, got {self.horizon!r}")

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        gen = as_generator(rng)
        self._check()
        pool = state.pool
        X = np.asarray(state.features.X, dtype=np.float64)
        B = differences(state)
        L, d = B.shape
        check_distinct_budget(T, L, self.allow_repeats, self.name)
        labels = labels_in_use(state, self._received)
        theta = fit_theta(state, labels, B)
        t = 0 if labels is None else len(labels)
        horizon = self.horizon if self.horizon is not None else max(t + T, 2)
        scale = math.sqrt(d * math.log(horizon))
        C = self.threshold if self.threshold is not None else scale
        c = self.c if self.c is not None else scale
        utility = X @ theta
        starts, per = prompt_blocks(state)
        run = RunningInverse(information(state, labels, B), B)
        taken = np.zeros(L, dtype=bool)
        used = np.zeros(pool.n_prompts, dtype=np.int64)
        aside = np.zeros(pool.n_prompts, dtype=bool)
        picks = np.empty(T, dtype=np.int64)
        self_duels = forced = 0
        firsts = []
        s = 0
        while s < T:
            has_free = np.ones(pool.n_prompts, dtype=bool) if self.allow_repeats else used < per
            open_ = has_free & ~aside
            force = not open_.any()
            if force:
                open_ = has_free
            n = int(gen.integers(pool.n_prompts))
            if not open_[n]:
                n = int(gen.choice(np.flatnonzero(open_)))
            lo, K = int(pool.offsets[n]), int(pool.offsets[n + 1] - pool.offsets[n])
            pair_of = np.full((K, K), -1, dtype=np.int64)
            a, b = np.triu_indices(K, 1)
            pair_of[a, b] = pair_of[b, a] = pair_index(pool.offsets, starts, n, a, b)
            free = np.ones((K, K), dtype=bool)
            if not self.allow_repeats:
                free[a, b] = free[b, a] = ~taken[pair_of[a, b]]
            np.fill_diagonal(free, False)
            eps = np.clip(gen.gumbel(size=K), -C, C)
            u = utility[lo : lo + K] + colstim_perturbation(eps, X[lo : lo + K], run.A_inv)
            first = int(np.argmax(np.where(free.any(axis=1), u, -np.inf)))
            k = np.maximum(pair_of[first], 0)
            value = np.where(free[first], utility[lo : lo + K] - utility[lo + first] + c * run.width[k], -np.inf)
            second = int(np.argmax(value))
            if value[second] < 0.0:  # the self-duel (value 0) wins: no challenger is optimistic enough
                if not force:
                    self_duels += 1
                    aside[n] = True
                    continue
                forced += 1
            j = int(pair_of[first, second])
            firsts.append(lo + first)
            picks[s] = j
            taken[j] = True
            used[n] += 1
            run.add(j)
            s += 1
        return Batch.from_indices(
            picks, selector=self.name,
            params={"c": self.c, "threshold": self.threshold, "horizon": self.horizon,
                    "allow_repeats": self.allow_repeats},
            seed=seed_of(rng),
            info={"threshold_used": C, "c_used": c, "horizon_used": horizon, "self_duels": self_duels,
                  "forced": forced, "first_arms": firsts},
        )

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the next refit (used when ``state.labels`` is not given)."""
        self._received.append(labels)
