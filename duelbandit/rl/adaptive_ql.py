"""Adaptive Q-learning (Sinclair, Banerjee, Yu 2019, "Adaptive discretization for episodic
reinforcement learning in metric spaces"): OptQL on an adaptive partition, the metric-space baseline of
the RandQL paper. States x in [0, 1), discrete actions, one adaptive dyadic partition per (h, a).

    act at (h, x):  a = argmax_a Q(B_{h,a}(x))                      (ties uniform)
    after (x, a, r, x') at step h, on B = B_{h,a}(x):
        n(B) += 1;  alpha = (H + 1) / (H + n)
        b = min(c sqrt(1/n) + v_max_h / n, v_max_h) + L r(B)      (bonus: statistical + discretisation)
        Q(B) <- (1 - alpha) Q(B) + alpha (r + b + V_{h+1}(x')),  V_{h+1}(x') = min(v_max, max_a Q(B_{h+1,a}(x')))
        if n(B) >= (1 / r(B))^2: split B; the halves inherit Q(B) and n(B)
with Q = v_max_h initially. The paper's bonus is 2 sqrt(H^3 log(.) / n) + 4 L r(B); ``bonus_scale`` is c.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rl.mdp import horizon_values
from duelbandit.rl.mdp import argmax_random_tie
from duelbandit.rl.partition import DyadicTrees, tree_greedy_policy, tree_values


@dataclass(frozen=True)
class AdaptiveQLConfig:
    """Attributes: bonus_scale (c), lipschitz (L), max_level (finest radius 2^-max_level)."""

    bonus_scale: float = 1.0
    lipschitz: float = 1.0
    max_level: int = 5

    def __post_init__(self) -> None:
        if not 0 <= self.max_level <= 16:
            raise ConfigError(f"AdaptiveQLConfig.max_level: expected 0..16, got {self.max_level}")


class AdaptiveQL:
    """Adaptive Q-learning for one run on states in [0, 1)."""

    name = "adaptive_ql"

    def __init__(self, config: AdaptiveQLConfig | None = None) -> None:
        self.config = config if config is not None else AdaptiveQLConfig()

    def reset(self, H: int, A: int, rng: np.random.Generator) -> AdaptiveQL:
        self.H, self.A, self.rng = H, A, rng
        self.v_max = horizon_values(H)
        self.trees = DyadicTrees(H * A, self.config.max_level)
        N = self.trees.n_nodes
        self.Q_ = np.repeat(self.v_max, A)[:, None] * np.ones((1, N))
        self.n_ = np.zeros((H * A, N))
        return self

    def _q(self, h: int, x: float) -> np.ndarray:
        return tree_values(self.Q_, self.trees, self.A, h, x)

    def value(self, h: int, x: float) -> float:
        return 0.0 if h >= self.H else min(self.v_max[h], float(self._q(h, x).max()))

    def act(self, h: int, x: float) -> int:
        return argmax_random_tie(self._q(h, x), self.rng)

    def policy_on(self, x: np.ndarray) -> np.ndarray:
        """(H, len(x), A) probabilities of the greedy policy (ties split) at the points x."""
        return tree_greedy_policy(self.Q_, self.trees, self.H, self.A, x)

    def update(self, xs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from one episode: xs (H + 1,), actions (H,), rewards (H,)."""
        c = self.config
        next_v = [self.value(h + 1, xs[h + 1]) for h in range(self.H)]  # pre-episode V_{h+1}
        for h in range(self.H):
            t = h * self.A + int(actions[h])
            b = self.trees.leaf(t, xs[h])
            self.n_[t, b] += 1.0
            n = self.n_[t, b]
            alpha = (self.H + 1.0) / (self.H + n)
            vm = self.v_max[h]
            bonus = min(c.bonus_scale * np.sqrt(1.0 / n) + vm / n, vm) + c.lipschitz * self.trees.radius[b]
            self.Q_[t, b] = (1.0 - alpha) * self.Q_[t, b] + alpha * (rewards[h] + bonus + next_v[h])
            if self.trees.can_split(b) and n >= (1.0 / self.trees.radius[b]) ** 2:
                for child in self.trees.split(t, b):
                    self.Q_[t, child] = self.Q_[t, b]
                    self.n_[t, child] = n
