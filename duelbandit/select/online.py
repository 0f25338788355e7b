"""Sequential (online) selectors: each batch depends on the labels seen so far (spec §7).

Every selector here refits the Bradley–Terry MLE theta_hat on the labels so far (``state.labels``, or the
labels received through ``update()``; theta = 0 and V = H = lam I before the first label), then picks a
batch of m pairs one at a time, updating V or H inside the batch with the pick's rank-one term
(Sherman–Morrison, :class:`~duelbandit.select.model.RunningInverse`) — the labels of the batch are not
known yet, but the information they will bring is. Scores are vectorised over all L candidates; the only
Python loop is over the m picks. A batch holds distinct pairs unless ``allow_repeats=True``.

Notation: phi = a_i - a_j the difference vector of a candidate pair, V = lam I + sum phi phi^T over the
labels, H(theta) = lam I + sum sigma'(<theta, phi>) phi phi^T, ||x||_A = sqrt(x^T A x).

- ``apo`` (Das et al. 2024): argmax ||phi||_{H^{-1}(theta_hat)}; in-batch H += sigma'(<theta_hat, phi>) phi phi^T.
- ``apo_practical`` (Das et al. 2024, practical variant): argmax ||phi||_{V^{-1}}; in-batch V += phi phi^T.
- ``greedy_logdet`` (Kveton et al. 2025, ADPO): argmax v^T H^{-1} v with v = sqrt(sigma'(<theta_hat, phi>)) phi,
  the log-det gain log(1 + v^T H^{-1} v) of adding the pair to the local information.
- ``entropy`` (Muldrew et al. 2024): argmin |<theta_hat, phi>|, the most uncertain predicted preference.
- ``certainty`` (Muldrew et al. 2024): argmax |<theta_hat, phi>|, the largest predicted reward gap.
- ``maxinp`` (Saha 2021): among pairs of responses that no UCB comparison has eliminated, the largest
  ||phi||_{V^{-1}}.
- ``colstim`` (Bengs, Saha & Hüllermeier 2022): first response by perturbed utility, second by an
  optimistic comparison against it, on a prompt drawn at random (the paper's i.i.d. contexts).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from duelbandit.errors import SelectorError
from duelbandit.reward import sigmoid_prime
from duelbandit.rng import as_generator, seed_of
from duelbandit.select.base import Batch, SelectionState
from duelbandit.select.model import (
    RunningInverse,
    check_distinct_budget,
    fit_theta,
    information,
    labels_in_use,
)
from duelbandit.select.offline import check_budget


def _differences(state: SelectionState) -> np.ndarray:
    return state.candidates.differences(state.features.X).astype(np.float64, copy=False)


def leverage_batch(
    B: np.ndarray,
    A: np.ndarray,
    m: int,
    *,
    curvature: np.ndarray | None = None,
    weight_score: bool = False,
    allow_repeats: bool = False,
) -> np.ndarray:
    """m greedy picks of argmax_i s_i h_i, h_i = phi_i^T A^{-1} phi_i, updating A in the batch.

    After each pick j: A <- A + c_j phi_j phi_j^T with c_j = curvature_j (H) or 1 (V, curvature None).
    s_i = curvature_i when ``weight_score`` (the log-det gain of v = sqrt(c) phi), else 1 (the norm).

    Args:
        B: (L, d) candidate differences.
        A: (d, d) the current V or H (positive definite).
        m: number of picks.
        curvature: (L,) sigma'(<theta_hat, phi_i>) or None.
        weight_score: score s_i h_i instead of h_i.
        allow_repeats: a pair may be picked again (its leverage has dropped after the update).

    Returns:
        (m,) candidate indices in pick order (repeats possible only with ``allow_repeats``).
    """
    run = RunningInverse(A, B)
    taken = np.zeros(B.shape[0], dtype=bool)
    picks = np.empty(m, dtype=np.int64)
    for t in range(m):
        score = run.h * curvature if (weight_score and curvature is not None) else run.h
        if not allow_repeats:
            score = np.where(taken, -np.inf, score)
        j = int(np.argmax(score))
        picks[t] = j
        taken[j] = True
        run.add(j, 1.0 if curvature is None else float(curvature[j]))
    return picks


@dataclass
class APOSelector:
    """Active Preference Optimisation: the pair whose predicted preference is least certain in the
    H-norm of the logistic model (Das et al. 2024, "Active Preference Optimization for Sample Efficient
    RLHF", Alg. 1):

        b_t = argmax_b ||b||_{H_t^{-1}(theta_hat_t)},  H_t(theta) = lam I + sum_s sigma'(<theta, b_s>) b_s b_s^T,

    theta_hat refitted after every batch; inside a batch H += sigma'(<theta_hat, b>) b b^T for each pick.

    Args:
        allow_repeats: allow a pair twice in one batch.
    """

    allow_repeats: bool = False
    name: str = "apo"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    norm = "H"

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        as_generator(rng)  # validated for the protocol; the rule itself draws nothing
        B = _differences(state)
        check_distinct_budget(T, B.shape[0], self.allow_repeats, self.name)
        labels = labels_in_use(state, self._received)
        theta = fit_theta(state, labels, B)
        if self.norm == "H":
            A, curvature = information(state, labels, B, theta), sigmoid_prime(B @ theta)
        else:
            A, curvature = information(state, labels, B), None
        picks = leverage_batch(B, A, T, curvature=curvature, allow_repeats=self.allow_repeats)
        return Batch.from_indices(
            picks, selector=self.name, params={"allow_repeats": self.allow_repeats, "norm": self.norm},
            seed=seed_of(rng), info={"theta_norm": float(np.linalg.norm(theta)),
                                     "n_labels_seen": 0 if labels is None else len(labels)},
        )

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the next refit (used when ``state.labels`` is not given)."""
        self._received.append(labels)


@dataclass
class PracticalAPOSelector(APOSelector):
    """Practical APO (Das et al. 2024, the practical variant of APO): the V-norm instead of the H-norm,
    which needs no curvature (and so no estimate of kappa):  b_t = argmax_b ||b||_{V_t^{-1}},  V_t = lam I + sum_s b_s b_s^T;
    in-batch V += b b^T. With no labels it is greedy D-optimal augmentation from lam I."""

    name: str = "apo_practical"

    norm = "V"


@dataclass
class GreedyLogDetSelector:
    """Greedy local D-optimal selection (Kveton et al. 2025, "Active Learning for Direct Preference
    Optimization", ADPO): repeatedly pick, among the candidates not yet in the batch,

        argmax_b v_b^T H^{-1} v_b,   v_b = sqrt(sigma'(<theta_hat, b>)) b,

    i.e. the largest gain log det(H + v v^T) - log det H = log(1 + v^T H^{-1} v), then H += v v^T
    (Sherman–Morrison: O(L d) per pick over all L candidates). H = lam I + sum over labels of v v^T at the
    current theta_hat.

    Args:
        allow_repeats: allow a pair twice in one batch (the greedy log-det rule may then repeat a pair).
    """

    allow_repeats: bool = False
    name: str = "greedy_logdet"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        as_generator(rng)
        B = _differences(state)
        check_distinct_budget(T, B.shape[0], self.allow_repeats, self.name)
        labels = labels_in_use(state, self._received)
        theta = fit_theta(state, labels, B)
        curvature = sigmoid_prime(B @ theta)
        picks = leverage_batch(B, information(state, labels, B, theta), T, curvature=curvature,
                               weight_score=True, allow_repeats=self.allow_repeats)
        return Batch.from_indices(
            picks, selector=self.name, params={"allow_repeats": self.allow_repeats}, seed=seed_of(rng),
            info={"theta_norm": float(np.linalg.norm(theta))},
        )

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the next refit (used when ``state.labels`` is not given)."""
        self._received.append(labels)


def _ranked(key: np.ndarray, m: int, gen: np.random.Generator) -> np.ndarray:
    """The m candidates of smallest key, exact ties broken uniformly at random (vectorised: one sort)."""
    return np.lexsort((gen.random(key.shape[0]), key))[:m]


@dataclass
class EntropySelector:
    """Most uncertain predicted preference (Muldrew et al. 2024, "Active Preference Learning for Large
    Language Models", predictive-entropy acquisition): the m distinct pairs of smallest |<theta_hat, b>|,
    i.e. of largest entropy of Bernoulli(sigma(<theta_hat, b>)). No guarantee; with theta_hat = 0 (no
    labels) the batch is uniformly random over pairs. Near-duplicate responses (b ~ 0) always look
    uncertain: on pools with many of them this rule spends labels on them.
    """

    name: str = "entropy"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    sign = 1.0

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        gen = as_generator(rng)
        B = _differences(state)
        check_distinct_budget(T, B.shape[0], False, self.name)
        theta = fit_theta(state, labels_in_use(state, self._received), B)
        picks = _ranked(self.sign * np.abs(B @ theta), T, gen)
        return Batch.from_indices(picks, selector=self.name, params={}, seed=seed_of(rng),
                                  info={"theta_norm": float(np.linalg.norm(theta))})

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the next refit (used when ``state.labels`` is not given)."""
        self._received.append(labels)


@dataclass
class CertaintySelector(EntropySelector):
    """Largest predicted reward gap (Muldrew et al. 2024, the "certainty" acquisition): the m distinct
    pairs of largest |<theta_hat, b>|. Cheap, no guarantee; random with no labels."""

    name: str = "certainty"

    sign = -1.0


@dataclass
class MaxInPSelector:
    """MaxInP (Saha 2021, "Optimal Algorithms for Stochastic Contextual Preference Bandits"), pool version. A response i of prompt n stays a candidate for best unless some j of the same prompt
    beats it by a confident margin:

        <theta_hat, a_j - a_i> > beta_t ||a_j - a_i||_{V^{-1}};

    among the pairs of surviving responses (over all prompts), play the pair of largest
    ||a_i - a_j||_{V^{-1}} (maximum informative pair); in-batch V += b b^T (elimination re-checked with the
    shrunk widths). When no prompt has two survivors the largest width over all pairs is taken.

    Args:
        beta: confidence width; None uses the linear-bandit radius
            beta_t = sqrt(2 log(1/delta) + d log(1 + t / (d lam))) at t labels (Abbasi-Yadkori et al. 2011,
            the form Saha 2021 uses up to constants).
        delta: failure probability of that default radius.
        allow_repeats: allow a pair twice in one batch.
    """

    beta: float | None = None
    delta: float = 0.1
    allow_repeats: bool = False
    name: str = "maxinp"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        as_generator(rng)
        if not 0 < self.delta < 1:
            raise SelectorError(f"delta: expected a probability in (0, 1), got {self.delta!r}")
        cand = state.candidates
        B = _differences(state)
        L, d = B.shape
        check_distinct_budget(T, L, self.allow_repeats, self.name)
        labels = labels_in_use(state, self._received)
        theta = fit_theta(state, labels, B)
        t = 0 if labels is None else len(labels)
        beta = self.beta if self.beta is not None else float(
            np.sqrt(2 * np.log(1 / self.delta) + d * np.log(1 + t / (d * state.lam))))
        z = B @ theta
        run = RunningInverse(information(state, labels, B), B)
        taken = np.zeros(L, dtype=bool)
        picks = np.empty(T, dtype=np.int64)
        fallbacks = 0
        for s in range(T):
            margin = beta * run.width
            out = np.zeros(state.pool.n_responses, dtype=bool)
            out[cand.j[z > margin]] = True  # i beats j confidently: j cannot be the best of its prompt
            out[cand.i[-z > margin]] = True
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
            params={"beta": self.beta, "delta": self.delta, "allow_repeats": self.allow_repeats},
            seed=seed_of(rng), info={"beta_t": beta, "fallback_picks": fallbacks},
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


@dataclass
class CoLSTIMSelector:
    """CoLSTIM (Bengs, Saha & Hüllermeier 2022, "Stochastic Contextual Dueling Bandits under Linear
    Stochastic Transitivity Models"), on a pool: for each label a prompt is drawn uniformly at
    random (the paper's i.i.d. contexts), then

        first  = argmax_i <theta_hat, a_i> + eps_i,   eps_i ~ Gumbel(0, 1) truncated to [-C, C]
        second = argmax_{j != first} <theta_hat, a_j - a_first> + c ||a_j - a_first||_{V^{-1}}

    The Gumbel perturbation imitates the Bradley–Terry feedback (a difference of two Gumbel variables is
    logistic); the second arm is the most optimistic challenger. In-batch V += b b^T.

    Args:
        c: exploration weight of the second arm's width.
        threshold: truncation C of the perturbation; None uses sqrt(d log(t + 2)) at t labels.
        allow_repeats: allow a pair twice in one batch.
    """

    c: float = 1.0
    threshold: float | None = None
    allow_repeats: bool = False
    name: str = "colstim"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        gen = as_generator(rng)
        if not (np.isfinite(self.c) and self.c >= 0):
            raise SelectorError(f"c: expected a finite exploration weight >= 0, got {self.c!r}")
        pool = state.pool
        X = np.asarray(state.features.X, dtype=np.float64)
        B = _differences(state)
        L, d = B.shape
        check_distinct_budget(T, L, self.allow_repeats, self.name)
        labels = labels_in_use(state, self._received)
        theta = fit_theta(state, labels, B)
        t = 0 if labels is None else len(labels)
        C = self.threshold if self.threshold is not None else float(np.sqrt(d * np.log(t + 2)))
        utility = X @ theta
        starts, per = prompt_blocks(state)
        run = RunningInverse(information(state, labels, B), B)
        taken = np.zeros(L, dtype=bool)
        used = np.zeros(pool.n_prompts, dtype=np.int64)
        picks = np.empty(T, dtype=np.int64)
        for s in range(T):
            n = int(gen.integers(pool.n_prompts))
            if not self.allow_repeats and used[n] == per[n]:  # every pair of n is already in the batch
                n = int(gen.choice(np.flatnonzero(used < per)))
            lo, K = int(pool.offsets[n]), int(pool.offsets[n + 1] - pool.offsets[n])
            arms = np.arange(K)
            eps = np.clip(gen.gumbel(size=K), -C, C)
            u = utility[lo : lo + K] + eps
            pair_of = np.full((K, K), -1, dtype=np.int64)
            a, b = np.triu_indices(K, 1)
            idx = pair_index(pool.offsets, starts, n, a, b)
            pair_of[a, b] = pair_of[b, a] = idx
            free = np.ones((K, K), dtype=bool) if self.allow_repeats else ~np.eye(K, dtype=bool)
            if not self.allow_repeats:
                free[pair_of >= 0] = ~taken[pair_of[pair_of >= 0]]
            np.fill_diagonal(free, False)
            first = int(np.argmax(np.where(free.any(axis=1), u, -np.inf)))
            k = pair_of[first]
            value = utility[lo : lo + K] - utility[lo + first] + self.c * run.width[np.maximum(k, 0)]
            second = int(np.argmax(np.where(free[first] & (arms != first), value, -np.inf)))
            j = int(pair_of[first, second])
            picks[s] = j
            taken[j] = True
            used[n] += 1
            run.add(j)
        return Batch.from_indices(
            picks, selector=self.name,
            params={"c": self.c, "threshold": self.threshold, "allow_repeats": self.allow_repeats},
            seed=seed_of(rng), info={"threshold_used": C},
        )

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the next refit (used when ``state.labels`` is not given)."""
        self._received.append(labels)
