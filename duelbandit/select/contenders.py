"""Contender pairs: label the two responses the current fit ranks first in each prompt.

The greedy policy picks argmax_y <theta_hat, psi(x, y)> per prompt, so its regret depends on theta_hat only
through the order of each prompt's leading responses. Labels on the pair (first, second) under theta_hat
measure exactly the comparison the policy is about to make, where the fit is least sure of it (the gap is
the smallest among the prompt's plausible winners), and they need no extrapolation from other pairs: when
the reward is not linear in the features this local evidence is what a linear fit on far-away pairs gets
wrong. This is the "top-two" idea of best-arm identification (Russo 2016, "Simple Bayesian algorithms for
best arm identification"; Fiez et al. 2019 on targeting the directions that decide the argmax), with the
leader and the challenger taken from the fit instead of posterior draws. The labels are spread over the
prompts' pairs by the locally D-optimal design of those pairs alone (:func:`contender_batch`): on a
well-specified pool the pairs then teach theta in every direction, as a design does, instead of repeating
near-identical comparisons (measured: benchmarks/results/bench_misspecification.md).
"""

from __future__ import annotations

import numpy as np

from duelbandit.design import optimal_design, round_design
from duelbandit.errors import SelectorError
from duelbandit.reward import sigmoid_prime
from duelbandit.select.base import Batch, SelectionState
from duelbandit.types import Pool


def top_two_pairs(pool: Pool, scores: np.ndarray, tiebreak: np.ndarray) -> np.ndarray:
    """(n_prompts,) index in ``pool.pairs()`` of each prompt's pair (first, second) by ``scores``.

    Responses are ranked by score, descending, ties by ``tiebreak`` (one key per response), so duplicate
    responses do not bias the choice. Every prompt needs >= 2 responses (pools enforce it).
    """
    scores = np.asarray(scores, dtype=np.float64)
    R = pool.n_responses
    if scores.shape != (R,) or np.asarray(tiebreak).shape != (R,):
        raise SelectorError(f"scores and tiebreak: expected shape ({R},), got {scores.shape} and "
                            f"{np.asarray(tiebreak).shape}")
    k = pool.response_counts
    owner = np.repeat(np.arange(pool.n_prompts), k)
    order = np.lexsort((tiebreak, -scores, owner))  # by prompt, then best first
    off = pool.offsets[:-1]
    top = np.sort(np.stack([order[off], order[off + 1]]), axis=0) - off  # local (a, b), a < b
    a, b = top
    per = k * (k - 1) // 2
    starts = np.concatenate([[0], np.cumsum(per)[:-1]])
    # position of (a, b) in np.triu_indices(k, 1), the order of Pool.pairs() within a prompt
    return starts + a * k - a * (a + 1) // 2 + (b - a - 1)


def contender_batch(
    state: SelectionState,
    theta: np.ndarray,
    budget: int,
    gen: np.random.Generator,
    *,
    eps: float = 1e-3,
    method: str = "auto",
) -> Batch:
    """``budget`` labels on the prompts' top-two pairs under ``theta``, spread by the locally D-optimal design
    over those pairs: argmax_w log det sum_p w_p sigma'(<theta, b_p>) b_p b_p^T, one candidate b_p per prompt
    (Chernoff 1953), rounded like odpo. The design spreads the labels over directions of theta-space (a
    well-specified fit gains from every one of them), and only contender pairs are labelled (no evidence is
    extrapolated from far-away pairs). Candidates with no information (identical features, or sigma' = 0)
    are dropped; when none is left the labels go to uniformly drawn prompts' top-two pairs.
    """
    pool = state.pool
    pair = top_two_pairs(pool, state.features.X @ theta, gen.random(pool.n_responses))
    B = state.candidates.differences(state.features.X, pair).astype(np.float64, copy=False)
    Bt = np.sqrt(sigmoid_prime(B @ theta))[:, None] * B
    live = np.flatnonzero(np.linalg.norm(Bt, axis=1) > 0)
    if live.size == 0:
        return Batch.from_indices(pair[gen.integers(0, pool.n_prompts, size=budget)], selector="contenders")
    design = optimal_design(Bt[live], method=method, eps=eps)
    counts = round_design(design, budget, B=Bt[live], rng=gen).counts
    return Batch.from_indices(np.repeat(pair[live], counts), selector="contenders")
