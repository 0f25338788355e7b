"""Adaptive RandQL: RandQL on an adaptive partition of a metric state space (Tiapkin et al. 2023,
arXiv 2310.18186, Sec. 4, "Adaptive-Staged-RandQL"; the partition is that of adaptive Q-learning,
Sinclair, Banerjee, Yu 2019). States x in [0, 1) with |x - y| as metric, A discrete actions.

For every step h and action a an adaptive dyadic partition of [0, 1) (``partition.DyadicTrees``); each
active ball B (an interval of radius r(B) = 2^-level) holds an ensemble Q_j(B), a stage index k and
in-stage count m, a visit count n and the acting Qbar(B). With v_max_h = H - h:

    act at (h, x):    a = argmax_a Qbar(B_{h,a}(x)) where B_{h,a}(x) is the active ball of (h, a) holding x
    V_{h+1}(x') = min(v_max_{h+1}, max_a Qbar(B_{h+1,a}(x')))
    after (x, a, r, x') at step h, on B = B_{h,a}(x):
        staged (default, the analysed algorithm, as in ``staged_randql.py``):
            w_j ~ Beta(1/kappa, (m + n0)/kappa);  Q_j <- (1 - w_j) Q_j + w_j (r + V_{h+1}(x'));  m += 1
            if m == e_k = floor((1 + 1/H)^k H): Qbar <- min(Qbar, max_j Q_j); Q_j <- prior(B); m <- 0; k += 1
        practical (``staged=False``, as in ``randql.py``, with n the ball's pseudo-count):
            u_j ~ Beta(n, n0), w_j ~ Beta((H + 1)/kappa, n/kappa)
            Q_j <- (1 - w_j) Q_j + w_j [u_j (r + V_{h+1}(x')) + (1 - u_j) prior(B)];  Qbar <- min(Qbar, max_j Q_j)
        n += 1; if n >= (1 / r(B))^2 and B is above the finest level: split B into its two halves, which
        inherit every statistic of B.
    prior(B) = r0 v_max_h + L r(B): the optimistic value plus the Lipschitz term (L: Lipschitz constant
    of Q in x, ``lipschitz``). Qbar starts at v_max_h, so acting values never exceed v_max_h.

(check) The details of the prior's Lipschitz term and of inheritance follow the spec; the paper's text
was not available to verify them. ``adaptive=False`` fixes the partition at ``max_level`` from the start:
Net-Staged-RandQL on the epsilon-net of 2^max_level cells.

Batching: updates at step h touch only the step-h trees and read step h + 1 before this episode writes
it, so :meth:`update` may process the episode after it was played, step by step in h order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rl.mdp import horizon_values
from duelbandit.rl.mdp import argmax_random_tie
from duelbandit.rl.partition import DyadicTrees, tree_greedy_policy, tree_values
from duelbandit.rl.staged_randql import stage_lengths


@dataclass(frozen=True)
class MetricRandQLConfig:
    """Attributes:
    n_ensemble: J. kappa: posterior inflation. prior_count: n0.
    prior_scale: r0 (prior value r0 v_max_h + L r). lipschitz: L.
    max_level: finest partition level (radius 2^-max_level).
    staged: staged updates (analysed) or the practical RandQL update.
    adaptive: refine adaptively (True) or use the fixed net at max_level (False).
    """

    n_ensemble: int = 10
    kappa: float = 1.0
    prior_count: float = 0.1
    prior_scale: float = 1.0
    lipschitz: float = 1.0
    max_level: int = 5
    staged: bool = True
    adaptive: bool = True

    def __post_init__(self) -> None:
        if self.n_ensemble < 1 or not self.kappa > 0 or not self.prior_count > 0:
            raise ConfigError(f"MetricRandQLConfig: expected n_ensemble >= 1, kappa > 0, prior_count > 0, got "
                              f"{self.n_ensemble}, {self.kappa}, {self.prior_count}")
        if not 0 <= self.max_level <= 16:
            raise ConfigError(f"MetricRandQLConfig.max_level: expected 0..16, got {self.max_level}")


class MetricRandQL:
    """Adaptive (or net) RandQL for one run on states in [0, 1) (see the module docstring)."""

    def __init__(self, config: MetricRandQLConfig | None = None) -> None:
        self.config = config if config is not None else MetricRandQLConfig()
        c = self.config
        self.name = ("adaptive" if c.adaptive else "net") + ("_staged" if c.staged else "") + "_randql"

    def reset(self, H: int, A: int, rng: np.random.Generator) -> MetricRandQL:
        c = self.config
        self.H, self.A, self.rng = H, A, rng
        self.v_max = horizon_values(H)
        self.trees = DyadicTrees(H * A, c.max_level)
        N = self.trees.n_nodes
        prior = c.prior_scale * self.v_max[:, None, None] + c.lipschitz * self.trees.radius[None, None, :]
        self.prior_ = np.broadcast_to(prior, (H, A, N)).reshape(H * A, N).copy()
        self.Q_ = np.repeat(self.prior_[:, :, None], c.n_ensemble, axis=2)  # (H*A, N, J)
        self.Qbar_ = np.repeat(self.v_max, A)[:, None] * np.ones((1, N))     # (H*A, N)
        self.n_ = np.zeros((H * A, N))  # visits of each ball (inherited by its children)
        self.m_ = np.zeros((H * A, N), dtype=np.int64)
        self.stage_ = np.zeros((H * A, N), dtype=np.int64)
        self.lengths = stage_lengths(H, 64 * H)
        if not c.adaptive:  # a fixed net: split everything above the finest level
            self.trees.split_[:, self.trees.level < c.max_level] = True
        return self

    def _q(self, h: int, x: float) -> np.ndarray:
        return tree_values(self.Qbar_, self.trees, self.A, h, x)

    def value(self, h: int, x: float) -> float:
        return 0.0 if h >= self.H else min(self.v_max[h], float(self._q(h, x).max()))

    def act(self, h: int, x: float) -> int:
        return argmax_random_tie(self._q(h, x), self.rng)

    def policy_on(self, x: np.ndarray) -> np.ndarray:
        """(H, len(x), A) probabilities of the greedy policy (ties split) at the points x."""
        return tree_greedy_policy(self.Qbar_, self.trees, self.H, self.A, x)

    def update(self, xs: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Learn from one episode: xs (H + 1,), actions (H,), rewards (H,)."""
        c, J = self.config, self.config.n_ensemble
        targets = [rewards[h] + self.value(h + 1, xs[h + 1]) for h in range(self.H)]  # pre-episode V_{h+1}
        for h in range(self.H):
            t = h * self.A + int(actions[h])
            b = self.trees.leaf(t, xs[h])
            if c.staged:
                w = self.rng.beta(1.0 / c.kappa, (self.m_[t, b] + c.prior_count) / c.kappa, size=J)
                self.Q_[t, b] = (1.0 - w) * self.Q_[t, b] + w * targets[h]
                self.m_[t, b] += 1
                if self.m_[t, b] >= self.lengths[self.stage_[t, b]]:
                    self.Qbar_[t, b] = min(self.Qbar_[t, b], self.Q_[t, b].max())
                    self.Q_[t, b] = self.prior_[t, b]
                    self.m_[t, b] = 0
                    self.stage_[t, b] += 1
            else:
                n = self.n_[t, b] + 1.0 + c.prior_count * c.kappa  # pseudo-count, as in randql.py
                u = self.rng.beta(n, c.prior_count, size=J)
                w = self.rng.beta((self.H + 1.0) / c.kappa, n / c.kappa, size=J)
                target = u * targets[h] + (1.0 - u) * self.prior_[t, b]
                self.Q_[t, b] = (1.0 - w) * self.Q_[t, b] + w * target
                self.Qbar_[t, b] = min(self.Qbar_[t, b], self.Q_[t, b].max())
            self.n_[t, b] += 1.0
            if c.adaptive and self.trees.can_split(b) and self.n_[t, b] >= (1.0 / self.trees.radius[b]) ** 2:
                for child in self.trees.split(t, b):
                    for arr in (self.Q_, self.Qbar_, self.n_, self.m_, self.stage_):
                        arr[t, child] = arr[t, b]
