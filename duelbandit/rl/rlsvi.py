"""RLSVI: randomized least-squares value iteration, tabular form (Osband, Van Roy, Wen 2016,
"Generalization and exploration via randomized value functions"; Russo 2019), as in the RandQL
experiments.

Model with one prior pseudo-observation per (s, a) (reward 0, uniform next state), pooled over h:
n = 1 + visits, R_hat = sum r / n, P_hat = (N + 1/S) / n. Each episode:

    sigma_h(s, a) = c / sqrt(n) + v_max_h / n
    R~_h(s, a) = R_hat(s, a) + sigma_h(s, a) xi,   xi ~ N(0, 1) independent over (h, s, a)
    Q_h = R~_h + P_hat V_{h+1},  V_h = min(v_max_h, max_a Q_h),  V_H = 0
    act greedily on Q_h (ties uniform); update the model at the end of the episode.

Not the reference code: its RLSVI (rlberry 0.4) draws the noise as N(R_hat, sigma^2) and then plans on
R_hat + noise, counting the estimated reward twice. Here the noise has mean 0.
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
class RLSVIConfig:
    """Attributes:
    noise_scale: c in sigma = c / sqrt(n) + v_max_h / n.
    """

    noise_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.noise_scale >= 0:
            raise ConfigError(f"RLSVIConfig.noise_scale: expected >= 0, got {self.noise_scale}")


class RLSVI:
    """RLSVI for K independent runs (see the module docstring)."""

    name = "rlsvi"

    def __init__(self, config: RLSVIConfig | None = None) -> None:
        self.config = config if config is not None else RLSVIConfig()

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> RLSVI:
        self.S, self.A, self.H, self.K, self.rng = S, A, H, n_runs, rng
        self.v_max = horizon_values(H)
        self.n_ = np.ones((n_runs, S, A))  # one prior pseudo-observation
        self.N_ = np.zeros((n_runs, S, A, S))
        self.Rsum_ = np.zeros((n_runs, S, A))
        self.P_hat_ = np.full((n_runs, S, A, S), 1.0 / S)
        return self

    def policy(self) -> np.ndarray:
        K, S, A, H = self.K, self.S, self.A, self.H
        n = self.n_[:, None]  # (K, 1, S, A)
        sigma = self.config.noise_scale / np.sqrt(n) + self.v_max[None, :, None, None] / n
        R = self.Rsum_[:, None] / n + sigma * self.rng.standard_normal((K, H, S, A))
        self.R_tilde_ = R  # the perturbed rewards planned on (kept for inspection)
        P = self.P_hat_.reshape(K, S * A, S)
        Q = np.empty((K, H, S, A))
        V = np.zeros((K, S, 1))
        for h in range(H - 1, -1, -1):
            Q[:, h] = R[:, h] + np.matmul(P, V).reshape(K, S, A)
            V = np.minimum(self.v_max[h], max_last(Q[:, h]))[:, :, None]
        return greedy_policy(Q)

    def update(self, episode: Episode) -> None:
        k, _, s, a, r, s2 = episode.flat()
        np.add.at(self.n_, (k, s, a), 1.0)
        np.add.at(self.N_, (k, s, a, s2), 1.0)
        np.add.at(self.Rsum_, (k, s, a), r)
        self.P_hat_[k, s, a] = (self.N_[k, s, a] + 1.0 / self.S) / self.n_[k, s, a][:, None]
