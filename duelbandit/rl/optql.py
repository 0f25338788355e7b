"""OptQL: optimistic Q-learning with a UCB bonus (Jin, Allen-Zhu, Bubeck, Jordan 2018, "Is Q-learning
provably efficient?", Algorithm 1, UCB-Hoeffding), with the simplified Bernstein-like bonus used in the
RandQL experiments (Tiapkin et al. 2023). After each transition (s, a, r, s') at step h:

    n <- n + 1;   alpha = (H + 1) / (H + n)
    b = min(c sqrt(1 / n) + v_max_h / n, v_max_h)
    Q_h(s, a) <- (1 - alpha) Q_h(s, a) + alpha (r + b + V_{h+1}(s'))
    V_h(s) <- min(v_max_h, max_a Q_h(s, a))
    act: argmax_a Q_h(s, a), ties broken uniformly at random

with optimistic initialisation Q = V = v_max_h = H - h (Jin et al.; rlberry's OptQL starts V at 0).
The paper's original bonus is c sqrt(H^3 log(SAT / delta) / n); ``bonus_scale`` is c.

Batching: as in ``randql.py``, the update at step h touches only entries of step h and reads V_{h+1}
before this episode writes it, so the episode's H updates are applied at once at its end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rl.mdp import Episode
from duelbandit.rl.mdp import greedy_policy
from duelbandit.rl.mdp import horizon_values
from duelbandit.rl.mdp import max_last


@dataclass(frozen=True)
class OptQLConfig:
    """Attributes:
    bonus_scale: c in the bonus c sqrt(1/n) + v_max_h / n.
    """

    bonus_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.bonus_scale >= 0:
            raise ConfigError(f"OptQLConfig.bonus_scale: expected >= 0, got {self.bonus_scale}")


def optql_bonus(n: np.ndarray, v_max_h: np.ndarray, c: float) -> np.ndarray:
    """b = min(c sqrt(1/n) + v_max_h / n, v_max_h), elementwise (n >= 1)."""
    return np.minimum(c * np.sqrt(1.0 / n) + v_max_h / n, v_max_h)


class OptQL:
    """OptQL for K independent runs (see the module docstring)."""

    name = "optql"

    def __init__(self, config: OptQLConfig | None = None) -> None:
        self.config = config if config is not None else OptQLConfig()

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> OptQL:
        self.S, self.A, self.H, self.K, self.rng = S, A, H, n_runs, rng
        self.v_max = horizon_values(H)
        self.n_ = np.zeros((n_runs, H, S, A))
        self.Q_ = np.broadcast_to(self.v_max[None, :, None, None], (n_runs, H, S, A)).copy()
        self.V_ = np.zeros((n_runs, H + 1, S))
        self.V_[:, :H] = self.v_max[None, :, None]
        self._pi = greedy_policy(self.Q_)
        return self

    def policy(self) -> np.ndarray:
        return self._pi

    def update(self, episode: Episode) -> None:
        k, h, s, a, r, s2 = episode.flat()
        self.n_[k, h, s, a] += 1.0
        n = self.n_[k, h, s, a]
        alpha = (self.H + 1.0) / (self.H + n)
        target = r + optql_bonus(n, self.v_max[h], self.config.bonus_scale) + self.V_[k, h + 1, s2]
        self.Q_[k, h, s, a] = (1.0 - alpha) * self.Q_[k, h, s, a] + alpha * target
        q = self.Q_[k, h, s]
        self.V_[k, h, s] = np.minimum(self.v_max[h], max_last(q))
        self._pi[k, h, s] = greedy_policy(q)
