"""UCBVI (Azar, Osband, Munos 2017, "Minimax regret bounds for reinforcement learning") and its greedy,
real-time-DP version (Efroni, Merlis, Ghavamzadeh, Mannor 2019, "Tight regret bounds for model-based
reinforcement learning with greedy policies"), with the simplified Bernstein-like bonus of the RandQL
experiments (Tiapkin et al. 2023).

Model (time-homogeneous, pooled over h like the reference's default): counts n(s, a), N(s, a, s'),
R_hat = sum r / n, P_hat = N / n (uniform while n = 0). Bonus b_h(s, a) = min(c sqrt(1/n) + v_max_h / n,
v_max_h), and b = v_max_h while n = 0.

UCBVI, at the start of every episode (backward induction):
    Q_h = R_hat + b_h + P_hat V_{h+1};   V_h = min(v_max_h, max_a Q_h);   V_H = 0
Greedy-UCBVI keeps V between episodes (initialised to v_max) and only does one-step lookahead:
    Q_h(s, .) = R_hat(s, .) + b_h(s, .) + P_hat(s, .) V_{h+1}
    at the visited (h, s_h):  V_h(s_h) <- min(V_h(s_h), v_max_h, max_a Q_h(s_h, a))
Both act greedily on Q_h (ties uniform; Q is not clipped so the most optimistic action wins) and update
the model with the episode's transitions at its end (as in Efroni et al.'s algorithms). In Greedy-UCBVI
the V update at step h reads V_{h+1} before step h + 1 writes it, so all of an episode's V updates are
applied at its end; the policy played is the greedy policy at the start of the episode.
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
class UCBVIConfig:
    """Attributes:
    bonus_scale: c in the bonus.
    real_time_dp: Greedy-UCBVI (one-step lookahead on stored values) instead of full planning.
    """

    bonus_scale: float = 1.0
    real_time_dp: bool = False

    def __post_init__(self) -> None:
        if not self.bonus_scale >= 0:
            raise ConfigError(f"UCBVIConfig.bonus_scale: expected >= 0, got {self.bonus_scale}")


def ucbvi_bonus(n: np.ndarray, v_max: np.ndarray, c: float) -> np.ndarray:
    """b_h(s, a) = min(c sqrt(1/n) + v_max_h / n, v_max_h), v_max_h where n = 0.

    Args:
        n: (..., S, A) counts. v_max: (H,). Returns (..., H, S, A).
    """
    n = np.asarray(n, dtype=np.float64)[..., None, :, :]
    vm = v_max[:, None, None]
    with np.errstate(divide="ignore"):
        b = np.minimum(c * np.sqrt(1.0 / n) + vm / n, vm)
    return np.where(n > 0, b, vm)


class UCBVI:
    """UCBVI / Greedy-UCBVI for K independent runs (see the module docstring)."""

    def __init__(self, config: UCBVIConfig | None = None) -> None:
        self.config = config if config is not None else UCBVIConfig()
        self.name = "greedy_ucbvi" if self.config.real_time_dp else "ucbvi"

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> UCBVI:
        self.S, self.A, self.H, self.K, self.rng = S, A, H, n_runs, rng
        self.v_max = horizon_values(H)
        self.n_ = np.zeros((n_runs, S, A))
        self.N_ = np.zeros((n_runs, S, A, S))
        self.Rsum_ = np.zeros((n_runs, S, A))
        # the model, kept up to date row by row: R_hat, P_hat (uniform while unvisited), bonus (K,H,S,A)
        self.R_hat_ = np.zeros((n_runs, S, A))
        self.P_hat_ = np.full((n_runs, S, A, S), 1.0 / S)
        self.b_ = ucbvi_bonus(self.n_, self.v_max, self.config.bonus_scale)
        self.V_ = np.zeros((n_runs, H + 1, S))
        self.V_[:, :H] = self.v_max[None, :, None]
        self.Q_ = None
        return self

    def policy(self) -> np.ndarray:
        K, S, A, H = self.K, self.S, self.A, self.H
        P_flat = self.P_hat_.reshape(K, S * A, S)
        if self.config.real_time_dp:
            # one-step lookahead on the stored values, all steps at once: (K, S*A, S) @ (K, S, H)
            PV = np.matmul(P_flat, self.V_[:, 1:].transpose(0, 2, 1))  # (K, S*A, H)
            self.Q_ = self.R_hat_[:, None] + self.b_ + PV.transpose(0, 2, 1).reshape(K, H, S, A)
        else:
            Q = np.empty((K, H, S, A))
            V = self.V_
            for h in range(H - 1, -1, -1):
                Q[:, h] = self.R_hat_ + self.b_[:, h] + np.matmul(P_flat, V[:, h + 1, :, None]).reshape(K, S, A)
                V[:, h] = np.minimum(self.v_max[h], max_last(Q[:, h]))
            self.Q_ = Q
        return greedy_policy(self.Q_)

    def update(self, episode: Episode) -> None:
        k, h, s, a, r, s2 = episode.flat()
        if self.config.real_time_dp:
            q = max_last(self.Q_[k, h, s])
            self.V_[k, h, s] = np.minimum(self.V_[k, h, s], np.minimum(self.v_max[h], q))
        np.add.at(self.n_, (k, s, a), 1.0)
        np.add.at(self.N_, (k, s, a, s2), 1.0)
        np.add.at(self.Rsum_, (k, s, a), r)
        # refresh the model on the rows this episode visited
        n = self.n_[k, s, a]
        self.R_hat_[k, s, a] = self.Rsum_[k, s, a] / n
        self.P_hat_[k, s, a] = self.N_[k, s, a] / n[:, None]
        self.b_[k, :, s, a] = ucbvi_bonus(n[:, None, None], self.v_max, self.config.bonus_scale)[:, :, 0, 0]
