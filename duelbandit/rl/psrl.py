"""PSRL: posterior sampling for reinforcement learning (Osband, Russo, Van Roy 2013, "(More) efficient
reinforcement learning via posterior sampling"), as used in the RandQL experiments.

Posterior (time-homogeneous model, pooled over h): transitions P(. | s, a) ~ Dirichlet(alpha0 + N(s, a, .))
with alpha0 = 1/S; rewards "Bernoulli-ised" (an observed r in [0, 1] counts as a success with
probability r) with a Beta(1, 1) prior, R(s, a) ~ Beta(1 + successes, 1 + failures). Each episode:

    sample (P~, R~) from the posterior
    Q_h = R~ + P~ V_{h+1},  V_h = max_a Q_h,  V_H = 0       (backward induction)
    act greedily on Q_h (ties uniform) for the whole episode; update the posterior at its end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rl.mdp import Episode
from duelbandit.rl.mdp import greedy_policy
from duelbandit.rl.mdp import max_last


@dataclass(frozen=True)
class PSRLConfig:
    """Attributes:
    transition_prior: alpha0 of the Dirichlet prior (None: 1/S).
    reward_prior: a = b of the Beta(a, b) reward prior.
    """

    transition_prior: float | None = None
    reward_prior: float = 1.0

    def __post_init__(self) -> None:
        if self.transition_prior is not None and not self.transition_prior > 0:
            raise ConfigError(f"PSRLConfig.transition_prior: expected > 0, got {self.transition_prior}")
        if not self.reward_prior > 0:
            raise ConfigError(f"PSRLConfig.reward_prior: expected > 0, got {self.reward_prior}")


def sample_dirichlet_rows(counts: np.ndarray, alpha0: float, rng: np.random.Generator) -> np.ndarray:
    """One draw of Dirichlet(alpha0 + counts[..., :]) per row of ``counts`` (normalised Gammas).

    The prior-only entries (count 0, the vast majority) use numpy's fast scalar-shape Gamma sampler.
    """
    G = rng.standard_gamma(alpha0, size=counts.shape)
    seen = counts > 0
    G[seen] = rng.standard_gamma(counts[seen] + alpha0)
    total = G.sum(axis=-1, keepdims=True)
    # a row whose Gammas all underflow (tiny alpha0, no data) is a point mass on one state: pick one
    empty = total[..., 0] <= 0
    if empty.any():
        G[empty] = 0.0
        idx = rng.integers(counts.shape[-1], size=int(empty.sum()))
        G[np.nonzero(empty) + (idx,)] = 1.0
        total = G.sum(axis=-1, keepdims=True)
    return G / total


class PSRL:
    """PSRL for K independent runs (see the module docstring)."""

    name = "psrl"

    def __init__(self, config: PSRLConfig | None = None) -> None:
        self.config = config if config is not None else PSRLConfig()

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> PSRL:
        self.S, self.A, self.H, self.K, self.rng = S, A, H, n_runs, rng
        self.alpha0 = self.config.transition_prior if self.config.transition_prior is not None else 1.0 / S
        self.N_ = np.zeros((n_runs, S, A, S))
        self.success_ = np.zeros((n_runs, S, A))
        self.failure_ = np.zeros((n_runs, S, A))
        return self

    def policy(self) -> np.ndarray:
        K, S, A, H = self.K, self.S, self.A, self.H
        a0 = self.config.reward_prior
        R = self.rng.beta(a0 + self.success_, a0 + self.failure_)
        P = sample_dirichlet_rows(self.N_, self.alpha0, self.rng).reshape(K, S * A, S)
        Q = np.empty((K, H, S, A))
        V = np.zeros((K, S, 1))
        for h in range(H - 1, -1, -1):
            Q[:, h] = R + np.matmul(P, V).reshape(K, S, A)
            V = max_last(Q[:, h])[:, :, None]
        return greedy_policy(Q)

    def update(self, episode: Episode) -> None:
        k, _, s, a, r, s2 = episode.flat()
        x = (self.rng.random(r.shape) < r).astype(np.float64)  # Bernoulli(r)
        np.add.at(self.N_, (k, s, a, s2), 1.0)
        np.add.at(self.success_, (k, s, a), x)
        np.add.at(self.failure_, (k, s, a), 1.0 - x)
