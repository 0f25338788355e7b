"""PSRL: posterior sampling for reinforcement learning (Osband, Russo, Van Roy 2013, "(More) efficient
reinforcement learning via posterior sampling"), as used in the RandQL experiments.

Posterior (time-homogeneous model, pooled over h): transitions P(. | s, a) ~ Dirichlet(alpha0 + N(s, a, .))
with alpha0 = 1/S; rewards "Bernoulli-ised" (an observed r in [0, 1] counts as a success with
probability r) with a Beta(1, 1) prior, R(s, a) ~ Beta(1 + successes, 1 + failures). Each episode:

    sample (P~, R~) from the posterior
    Q_h = R~ + P~ V_{h+1},  V_h = max_a Q_h,  V_H = 0       (backward induction)
    act greedily on Q_h (ties uniform, or the first with ``tie_break="first"``) for the whole episode;
    update the posterior at its end.

Sparse: N is kept only for the next states seen (:class:`~duelbandit.rl.kernels.SparseModel`). The
Dirichlet(1/S) mass of the unseen next states of a row is drawn as one Gamma and split by size-biased
stick-breaking, stopped once the unseen mass left is below ``tol`` (default 1e-3); that last bit is
spread evenly over the remaining unseen states, its posterior mean (see
:func:`~duelbandit.rl.kernels.psrl_sample_plan`). A row then has about log(unseen mass / tol) atoms
(<= 7 with the default, none once a pair has ~1000 visits) instead of S, so sampling and planning cost
O(H S A (observed next states + log(1/tol))) per episode, not O(H S^2 A). ``tol=0`` draws every unseen
state (exact, O(S) per row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rl.kernels import SparseModel
from duelbandit.rl.kernels import psrl_sample_plan
from duelbandit.rl.mdp import Episode
from duelbandit.rl.mdp import greedy_policy


@dataclass(frozen=True)
class PSRLConfig:
    """Attributes:
    transition_prior: alpha0 of the Dirichlet prior (None: 1/S).
    reward_prior: a = b of the Beta(a, b) reward prior.
    tol: unseen-state mass of a sampled row left at its posterior mean instead of split at random.
    tie_break: "random" or "first" (numpy's argmax).
    """

    transition_prior: float | None = None
    reward_prior: float = 1.0
    tol: float = 1e-3
    tie_break: str = "random"

    def __post_init__(self) -> None:
        if self.transition_prior is not None and not self.transition_prior > 0:
            raise ConfigError(f"PSRLConfig.transition_prior: expected > 0, got {self.transition_prior}")
        if not self.reward_prior > 0:
            raise ConfigError(f"PSRLConfig.reward_prior: expected > 0, got {self.reward_prior}")
        if not 0 <= self.tol < 1:
            raise ConfigError(f"PSRLConfig.tol: expected in [0, 1), got {self.tol}")
        if self.tie_break not in ("random", "first"):
            raise ConfigError(f"PSRLConfig.tie_break: expected 'random' or 'first', got {self.tie_break!r}")


class PSRL:
    """PSRL for K independent runs (see the module docstring)."""

    name = "psrl"

    def __init__(self, config: PSRLConfig | None = None) -> None:
        self.config = config if config is not None else PSRLConfig()

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> PSRL:
        self.S, self.A, self.H, self.K, self.rng = S, A, H, n_runs, rng
        self.alpha0 = self.config.transition_prior if self.config.transition_prior is not None else 1.0 / S
        self.model_ = SparseModel(n_runs, S, A, capacity=max(4096, 8 * n_runs * H))
        self.success_ = np.zeros((n_runs, S, A))
        self.failure_ = np.zeros((n_runs, S, A))
        self.Q_ = np.empty((n_runs, H, S, A))
        self.tie_first = self.config.tie_break == "first"
        return self

    def greedy_q(self) -> np.ndarray:
        """Sample an MDP from the posterior of each run and return its optimal Q (K, H, S, A)."""
        m = self.model_
        psrl_sample_plan(m.n, m.head, m.link, m.dst, m.cnt, self.success_, self.failure_, float(self.alpha0),
                         float(self.config.reward_prior), float(self.config.tol), min(self.S, 64), self.rng,
                         self.Q_)
        return self.Q_

    def policy(self) -> np.ndarray:
        return greedy_policy(self.greedy_q(), first=self.tie_first)

    def update(self, episode: Episode) -> None:
        k, _, s, a, r, _ = episode.flat()
        x = (self.rng.random(r.shape) < r).astype(np.float64)  # Bernoulli(r)
        self.model_.add(episode.states, episode.actions, episode.rewards)
        np.add.at(self.success_, (k, s, a), x)
        np.add.at(self.failure_, (k, s, a), 1.0 - x)
