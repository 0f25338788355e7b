"""Double Thompson sampling for dueling bandits (Wu & Liu 2016), the non-contextual sanity baseline.

Each prompt is its own K-armed dueling bandit; features are ignored. With B_ij the (soft) number of
times response i beat response j on that prompt, t the prompt's labels so far + 1 and alpha > 1/2:

    u_ij = B_ij / (B_ij + B_ji) + sqrt(alpha log t / (B_ij + B_ji))   (x / 0 := 1),  u_ii = 1/2
    l_ij = B_ij / (B_ij + B_ji) - sqrt(alpha log t / (B_ij + B_ji))   (x / 0 := 0),  l_ii = 1/2
    first:  C = argmax_i #{j != i : u_ij > 1/2} (upper Copeland winners);
            theta1_ij ~ Beta(B_ij + 1, B_ji + 1) for i < j, theta1_ji = 1 - theta1_ij;
            first = argmax_{i in C} #{j != i : theta1_ij > 1/2}            (ties at random)
    second: theta2_i ~ Beta(B_{i,first} + 1, B_{first,i} + 1) for i != first;
            second = argmax_{i : l_{i,first} <= 1/2} theta2_i

Our labels must compare two different responses, so the paper's self-duel (second = first, an
exploitation move) is replaced by the best i != first. Which prompt gets the next label: the one with
the fewest labels (counting the batch so far), ties at random — D-TS itself has no notion of prompts.
A label y in [0, 1] (1 = i preferred; 0.5 = tie) adds y to B_ij and 1 - y to B_ji.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from duelbandit.errors import SelectorError
from duelbandit.rng import as_generator, seed_of
from duelbandit.select.base import Batch, SelectionState
from duelbandit.select.model import check_distinct_budget, labels_in_use
from duelbandit.select.offline import check_budget
from duelbandit.select.dueling import pair_index, prompt_blocks


def dts_pick(W: np.ndarray, t: int, alpha: float, gen: np.random.Generator,
             free: np.ndarray | None = None) -> tuple[int, int]:
    """One D-TS duel (first, second) on a K x K win matrix W (W_ij = wins of i over j), Wu & Liu 2016, Alg. 1.

    Args:
        W: (K, K) nonnegative (soft) win counts, zero diagonal.
        t: time index (>= 1) in the log t of the confidence bounds.
        alpha: exploration parameter (> 1/2).
        gen: the Generator for the Beta draws and the ties.
        free: (K, K) bool, pairs still allowed (both orientations); None = all i != j.

    Returns:
        (first, second) local response indices, first != second.
    """
    K = W.shape[0]
    if free is None:
        free = ~np.eye(K, dtype=bool)
    N = W + W.T
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(N > 0, W / N, 0.5)
        r = np.where(N > 0, np.sqrt(alpha * np.log(max(t, 1)) / N), np.inf)
    u = np.where(N > 0, p + r, 1.0)
    lcb = np.where(N > 0, p - r, 0.0)
    np.fill_diagonal(u, 0.5)
    np.fill_diagonal(lcb, 0.5)
    off = ~np.eye(K, dtype=bool)
    able = free.any(axis=1)  # a response with no allowed pair left cannot start a duel
    copeland_ucb = np.where(able, ((u > 0.5) & off).sum(axis=1), -1)
    C = copeland_ucb == copeland_ucb.max()
    a, b = np.triu_indices(K, 1)
    theta1 = np.full((K, K), 0.5)
    theta1[a, b] = gen.beta(W[a, b] + 1, W[b, a] + 1)
    theta1[b, a] = 1 - theta1[a, b]
    score = np.where(C, ((theta1 > 0.5) & off).sum(axis=1), -1).astype(np.float64)
    score += 0.5 * gen.random(K)  # ties at random (scores are integers)
    first = int(np.argmax(score))
    theta2 = gen.beta(W[:, first] + 1, W[first, :] + 1)
    ok = free[first] & (np.arange(K) != first)
    eligible = ok & (lcb[:, first] <= 0.5)
    second = int(np.argmax(np.where(eligible if eligible.any() else ok, theta2, -np.inf)))
    return first, second


@dataclass
class DTSSelector:
    """Double Thompson sampling (Wu & Liu 2016, "Double Thompson Sampling for Dueling Bandits", Alg. 1),
    one independent dueling bandit per prompt, features ignored (see the module docstring for the rule).

    Args:
        alpha: confidence parameter of the RUCB-style bounds (> 1/2; the paper uses 0.51).
        allow_repeats: allow a pair twice in one batch.
    """

    alpha: float = 0.51
    allow_repeats: bool = False
    name: str = "dts"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        gen = as_generator(rng)
        if not (np.isfinite(self.alpha) and self.alpha > 0.5):
            raise SelectorError(f"alpha: expected a value > 1/2 (Wu & Liu 2016), got {self.alpha!r}")
        pool, cand = state.pool, state.candidates
        L = len(cand)
        check_distinct_budget(T, L, self.allow_repeats, self.name)
        labels = labels_in_use(state, self._received)
        wins = np.zeros(L)  # soft wins of the pair's first response i over j
        seen = np.zeros(L)
        if labels is not None:
            np.add.at(wins, labels.pairs, labels.y)
            np.add.at(seen, labels.pairs, 1.0)
        starts, per = prompt_blocks(state)
        n_labels = np.bincount(cand.prompt, weights=seen, minlength=pool.n_prompts)
        taken = np.zeros(L, dtype=bool)
        used = np.zeros(pool.n_prompts, dtype=np.int64)
        picks = np.empty(T, dtype=np.int64)
        for s in range(T):
            load = n_labels + used
            if not self.allow_repeats:
                load = np.where(used < per, load, np.inf)
            lightest = np.flatnonzero(load == load.min())
            n = int(lightest[gen.integers(lightest.shape[0])])
            K = int(pool.offsets[n + 1] - pool.offsets[n])
            a, b = np.triu_indices(K, 1)
            idx = pair_index(pool.offsets, starts, n, a, b)
            W = np.zeros((K, K))
            W[a, b] = wins[idx]
            W[b, a] = seen[idx] - wins[idx]
            free = ~np.eye(K, dtype=bool)
            if not self.allow_repeats:
                free[a, b] = free[b, a] = ~taken[idx]
            first, second = dts_pick(W, int(n_labels[n] + used[n]) + 1, self.alpha, gen, free)
            j = int(pair_index(pool.offsets, starts, n, np.array([first]), np.array([second]))[0])
            picks[s] = j
            taken[j] = True
            used[n] += 1
        return Batch.from_indices(picks, selector=self.name,
                                  params={"alpha": self.alpha, "allow_repeats": self.allow_repeats},
                                  seed=seed_of(rng))

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels (used when ``state.labels`` is not given)."""
        self._received.append(labels)
