"""Epsilon-greedy Q-learning: the naive baseline (undirected exploration).

Finite-horizon Q-learning (Watkins 1989; the learning rate of Jin et al. 2018) with a non-optimistic
start. After each transition (s, a, r, s') at step h:

    n <- n + 1;   alpha = (H + 1) / (H + n)
    Q_h(s, a) <- (1 - alpha) Q_h(s, a) + alpha (r + max_a' Q_{h+1}(s', a')),   Q_H = 0
    act: with probability epsilon a uniform action, else argmax_a Q_h(s, a) (ties uniform)

The played policy is pi_h(a|s) = (1 - epsilon) greedy_h(a|s) + epsilon / A. With a constant epsilon its
regret grows linearly: the baseline that directed exploration should beat.
Batching: as in ``randql.py`` (an update at step h reads Q_{h+1} before this episode writes it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rl.mdp import Episode
from duelbandit.rl.mdp import greedy_policy
from duelbandit.rl.mdp import max_last


@dataclass(frozen=True)
class QLearningConfig:
    """Attributes:
    epsilon: exploration probability (constant).
    initial_value: Q at the start (0: not optimistic).
    """

    epsilon: float = 0.1
    initial_value: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise ConfigError(f"QLearningConfig.epsilon: expected in [0, 1], got {self.epsilon}")


class QLearning:
    """Epsilon-greedy Q-learning for K independent runs."""

    name = "qlearning"

    def __init__(self, config: QLearningConfig | None = None) -> None:
        self.config = config if config is not None else QLearningConfig()

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> QLearning:
        self.S, self.A, self.H, self.K, self.rng = S, A, H, n_runs, rng
        self.n_ = np.zeros((n_runs, H, S, A))
        self.Q_ = np.zeros((n_runs, H + 1, S, A))
        self.Q_[:, :H] = self.config.initial_value
        eps = self.config.epsilon
        self._pi = (1.0 - eps) * greedy_policy(self.Q_[:, :H]) + eps / A
        return self

    def policy(self) -> np.ndarray:
        return self._pi

    def update(self, episode: Episode) -> None:
        k, h, s, a, r, s2 = episode.flat()
        self.n_[k, h, s, a] += 1.0
        alpha = (self.H + 1.0) / (self.H + self.n_[k, h, s, a])
        target = r + max_last(self.Q_[k, h + 1, s2])
        self.Q_[k, h, s, a] = (1.0 - alpha) * self.Q_[k, h, s, a] + alpha * target
        eps = self.config.epsilon
        self._pi[k, h, s] = (1.0 - eps) * greedy_policy(self.Q_[k, h, s]) + eps / self.A
