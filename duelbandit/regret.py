"""Greedy policy of a reward estimate and its simple regret (Scheid et al. 2024, §2; spec §5).

The policy picks, for every prompt n, a_hat_n = argmax_k <theta_hat, a_n^k>. Its simple regret is the
worst case over prompts, R = max_n (max_k r(x_n, y_n^k) - r(x_n, a_hat_n)); the mean over prompts and
the fraction of prompts answered optimally are reported with it, never instead of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import FeatureError, RewardError
from duelbandit.types import Features, Pool


@dataclass(frozen=True)
class RegretReport:
    """Simple regret of a policy on a pool.

    Attributes:
        max: max_n (best_n - r(chosen_n)): the paper's simple regret.
        mean: the mean of the same gaps over prompts.
        frac_optimal: fraction of prompts whose chosen response is optimal (gap <= atol).
        per_prompt: (N,) the gaps.
    """

    max: float
    mean: float
    frac_optimal: float
    per_prompt: np.ndarray

    def as_dict(self) -> dict:
        """The three scalars (for tables and JSON)."""
        return {"max": self.max, "mean": self.mean, "frac_optimal": self.frac_optimal}


def _segment_argmax(values: np.ndarray, pool: Pool) -> np.ndarray:
    """(N,) global index of the first maximum of ``values`` within each prompt (ties -> lowest index)."""
    starts = pool.offsets[:-1]
    best = np.maximum.reduceat(values, starts)  # every prompt has >= 2 responses, so no empty segment
    is_best = values == best[pool.response_prompt]
    idx = np.where(is_best, np.arange(values.shape[0]), values.shape[0])
    return np.minimum.reduceat(idx, starts)


def greedy_policy(theta: np.ndarray, features_X: np.ndarray | Features, pool: Pool) -> np.ndarray:
    """a_hat_n = argmax_k <theta, a_n^k> for every prompt n, vectorised over the pool's CSR offsets.

    Args:
        theta: (d,) reward parameter.
        features_X: (R, d) features psi aligned with ``pool.responses`` (or a :class:`Features`).
        pool: the pool.

    Returns:
        (N,) int64 global response index per prompt; exact ties go to the lowest index.
    """
    X = features_X.X if isinstance(features_X, Features) else np.asarray(features_X)
    theta = np.asarray(theta, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != pool.n_responses:
        raise FeatureError(
            f"features_X: expected shape ({pool.n_responses}, d) aligned with pool {pool.name!r}, "
            f"got {X.shape}"
        )
    if theta.shape != (X.shape[1],):
        raise RewardError(f"theta: expected shape ({X.shape[1]},) to match the features, got {theta.shape}")
    if not np.all(np.isfinite(theta)):
        raise RewardError("theta: contains NaN or inf")
    return _segment_argmax(X.astype(np.float64, copy=False) @ theta, pool)


def simple_regret(
    true_rewards: np.ndarray, chosen: np.ndarray, pool: Pool, *, atol: float = 1e-12
) -> RegretReport:
    """Simple regret R = max_n (max_k r_n^k - r(chosen_n)), plus the mean gap and the fraction optimal.

    Args:
        true_rewards: (R,) true reward of every response (theta* . psi for a well-specified pool, a
            judge's reward for text), aligned with ``pool.responses``.
        chosen: (N,) global response index chosen for each prompt (must belong to that prompt).
        pool: the pool.
        atol: a prompt counts as optimal when its gap is <= atol.

    Returns:
        :class:`RegretReport`.

    References:
        Scheid et al. 2024, §2 (simple regret of the greedy policy).
    """
    r = np.asarray(true_rewards, dtype=np.float64)
    if r.shape != (pool.n_responses,):
        raise RewardError(
            f"true_rewards: expected shape ({pool.n_responses},) for pool {pool.name!r}, got {r.shape}"
        )
    if not np.all(np.isfinite(r)):
        raise RewardError(f"true_rewards: entry {int(np.flatnonzero(~np.isfinite(r))[0])} is NaN or inf")
    c = np.asarray(chosen)
    if c.shape != (pool.n_prompts,) or not np.issubdtype(c.dtype, np.integer):
        raise RewardError(
            f"chosen: expected ({pool.n_prompts},) integer global response indices, got shape {c.shape} "
            f"dtype {c.dtype}"
        )
    lo, hi = pool.offsets[:-1], pool.offsets[1:]
    bad = np.flatnonzero((c < lo) | (c >= hi))
    if bad.size:
        n = int(bad[0])
        raise RewardError(
            f"chosen[{n}] = {int(c[n])} is not a response of prompt {pool.prompt_ids[n]!r} "
            f"(expected {int(lo[n])} <= index < {int(hi[n])})"
        )
    gaps = np.maximum.reduceat(r, lo) - r[c]
    return RegretReport(
        max=float(gaps.max()),
        mean=float(gaps.mean()),
        frac_optimal=float(np.mean(gaps <= atol)),
        per_prompt=gaps,
    )
