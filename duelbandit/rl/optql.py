"""OptQL: optimistic Q-learning with a UCB bonus (Jin, Allen-Zhu, Bubeck, Jordan 2018, "Is Q-learning
provably efficient?", Algorithm 1, UCB-Hoeffding), with the simplified Bernstein-like bonus used in the
RandQL experiments (Tiapkin et al. 2023). After each transition (s, a, r, s') at step h:

    n <- n + 1;   alpha = (H + 1) / (H + n)
    b = min(c sqrt(1 / n) + v_max_h / n, v_max_h)
    Q_h(s, a) <- (1 - alpha) Q_h(s, a) + alpha (r + b + V_{h+1}(s'))
    V_h(s) <- min(v_max_h, max_a Q_h(s, a))
    act: argmax_a Q_h(s, a), ties broken uniformly at random

with optimistic initialisation Q = V = v_max_h = H - h (Jin et al.; rlberry 0.4's OptQL starts the same way).
The paper's original bonus is c sqrt(H^3 log(SAT / delta) / n); ``bonus_scale`` is c.

Batching: as in ``randql.py``, the update at step h touches only entries of step h and reads V_{h+1}
before this episode writes it, so the episode's H updates are applied in time order at its end, in one
compiled loop (:func:`optql_update`). Ties: uniform at random (default) or the first maximal action
(``tie_break="first"``, numpy's argmax as in rlberry).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rl.mdp import Episode
from duelbandit.rl.mdp import greedy_policy
from duelbandit.rl.mdp import horizon_values


@dataclass(frozen=True)
class OptQLConfig:
    """Attributes:
    bonus_scale: c in the bonus c sqrt(1/n) + v_max_h / n.
    tie_break: "random" (uniform among the maximal actions) or "first" (numpy's argmax, as rlberry).
    """

    bonus_scale: float = 1.0
    tie_break: str = "random"

    def __post_init__(self) -> None:
        if self.tie_break not in ("random", "first"):
            raise ConfigError(f"OptQLConfig.tie_break: expected 'random' or 'first', got {self.tie_break!r}")
        if not self.bonus_scale >= 0:
            raise ConfigError(f"OptQLConfig.bonus_scale: expected >= 0, got {self.bonus_scale}")


@numba.njit(cache=True, nogil=True)
def optql_update(states, actions, rewards, n, Q, V, v_max, c) -> None:
    """The OptQL updates of one episode of each run, in time order, in place (module docstring).
    Shapes: states (K, H + 1), actions and rewards (K, H), n and Q (K, H, S, A), V (K, H + 1, S)."""
    K, H = actions.shape
    A = Q.shape[3]
    for k in range(K):
        for h in range(H):
            s, a, s2 = states[k, h], actions[k, h], states[k, h + 1]
            n[k, h, s, a] += 1.0
            nn = n[k, h, s, a]
            alpha = (H + 1.0) / (H + nn)
            bonus = min(c * np.sqrt(1.0 / nn) + v_max[h] / nn, v_max[h])
            target = rewards[k, h] + bonus + V[k, h + 1, s2]
            Q[k, h, s, a] = (1.0 - alpha) * Q[k, h, s, a] + alpha * target
            best = Q[k, h, s, 0]
            for b in range(1, A):
                best = max(best, Q[k, h, s, b])
            V[k, h, s] = min(v_max[h], best)


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
        self.tie_first = self.config.tie_break == "first"
        return self

    def greedy_q(self) -> np.ndarray:
        """(K, H, S, A) values the next episode acts greedily on."""
        return self.Q_

    def policy(self) -> np.ndarray:
        return greedy_policy(self.Q_, first=self.tie_first)

    def update(self, episode: Episode) -> None:
        optql_update(episode.states, episode.actions, np.asarray(episode.rewards, dtype=np.float64), self.n_,
                     self.Q_, self.V_, self.v_max, float(self.config.bonus_scale))
