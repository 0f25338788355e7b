"""UCBVI (Azar, Osband, Munos 2017, "Minimax regret bounds for reinforcement learning") and its greedy,
real-time-DP version (Efroni, Merlis, Ghavamzadeh, Mannor 2019, "Tight regret bounds for model-based
reinforcement learning with greedy policies"), with the simplified Bernstein-like bonus of the RandQL
experiments (Tiapkin et al. 2023).

Model (time-homogeneous, pooled over h like the reference's default): counts n(s, a), N(s, a, s'),
R_hat = sum r / n, P_hat = N / n (uniform while n = 0). Bonus b_h(s, a) = min(c sqrt(1/n) + v_max_h / n,
v_max_h), and b = v_max_h while n = 0. N is kept sparse (only the next states seen,
:class:`~duelbandit.rl.kernels.SparseModel`), so planning costs O(H (S A + observed transitions)), not
O(H S^2 A): Taxi (S = 500) plans in well under a millisecond.

UCBVI, at the start of every episode (backward induction):
    Q_h = R_hat + b_h + P_hat V_{h+1};   V_h = min(v_clip_h, max_a Q_h);   V_H = 0
Greedy-UCBVI keeps V between episodes (initialised to v_max) and only does one-step lookahead:
    Q_h(s, .) = R_hat(s, .) + b_h(s, .) + P_hat(s, .) V_{h+1}
    at the visited (h, s_h):  V_h(s_h) <- min(V_h(s_h), v_clip_h, max_a Q_h(s_h, a))
Both act greedily on Q_h (Q is not clipped so the most optimistic action wins) and update the model with
the episode's transitions at its end (as in Efroni et al.'s algorithms). In Greedy-UCBVI the V update at
step h reads V_{h+1} before step h + 1 writes it, so all of an episode's V updates are applied at its end;
the policy played is the greedy policy at the start of the episode (rlberry's RTDP also feeds the
episode's earlier transitions into the model before acting at later steps).

Options that reproduce rlberry 0.4's ``UCBVIAgent`` (see docs/rl.md, "Matching published numbers"):

* ``bonus_update``: "all" (default) recomputes b_h(s, a) for every h from the current count n(s, a);
  "visited" refreshes b_h(s, a) only when (s, a) is visited at step h, with the count just after that
  visit (rlberry), so b_h of a pair seen at other steps stays stale and larger.
* ``v_clip``: "h" (default) clips V_h at v_max_h = H - h, the largest achievable value from step h;
  "H" clips every V_h at H (rlberry's backward induction passes ``v_max[0]``).
* ``tie_break``: "random" (default, uniform among maximal actions) or "first" (numpy's argmax).

With all three switched to rlberry's choices our UCBVI follows rlberry's (same update, same planning,
same actions given the same data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rl.kernels import SparseModel
from duelbandit.rl.kernels import ucb_backward_induction
from duelbandit.rl.kernels import ucb_bonus_update
from duelbandit.rl.kernels import ucb_lookahead
from duelbandit.rl.mdp import Episode
from duelbandit.rl.mdp import greedy_policy
from duelbandit.rl.mdp import horizon_values
from duelbandit.rl.mdp import max_last


@dataclass(frozen=True)
class UCBVIConfig:
    """Attributes:
    bonus_scale: c in the bonus.
    real_time_dp: Greedy-UCBVI (one-step lookahead on stored values) instead of full planning.
    bonus_update: "all" (b_h from the current count at every h) or "visited" (rlberry: b_h refreshed
        only at the visited (h, s, a)).
    v_clip: "h" (V_h <= H - h) or "H" (V_h <= H, rlberry's backward induction).
    tie_break: "random" or "first" (numpy's argmax, as rlberry).
    """

    bonus_scale: float = 1.0
    real_time_dp: bool = False
    bonus_update: str = "all"
    v_clip: str = "h"
    tie_break: str = "random"

    def __post_init__(self) -> None:
        if not self.bonus_scale >= 0:
            raise ConfigError(f"UCBVIConfig.bonus_scale: expected >= 0, got {self.bonus_scale}")
        for name, allowed in (("bonus_update", ("all", "visited")), ("v_clip", ("h", "H")),
                              ("tie_break", ("random", "first"))):
            if getattr(self, name) not in allowed:
                raise ConfigError(f"UCBVIConfig.{name}: expected one of {allowed}, got {getattr(self, name)!r}")


class UCBVI:
    """UCBVI / Greedy-UCBVI for K independent runs (see the module docstring)."""

    def __init__(self, config: UCBVIConfig | None = None) -> None:
        self.config = config if config is not None else UCBVIConfig()
        self.name = "greedy_ucbvi" if self.config.real_time_dp else "ucbvi"

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> UCBVI:
        c = self.config
        self.S, self.A, self.H, self.K, self.rng = S, A, H, n_runs, rng
        self.v_max = horizon_values(H)
        self.v_clip = self.v_max if c.v_clip == "h" else np.full(H, float(H))
        self.model_ = SparseModel(n_runs, S, A, capacity=max(4096, 8 * n_runs * H))
        self.b_ = np.broadcast_to(self.v_max[None, :, None, None], (n_runs, H, S, A)).copy()
        self.V_ = np.zeros((n_runs, H + 1, S))
        self.V_[:, :H] = self.v_max[None, :, None]
        self.Q_ = np.empty((n_runs, H, S, A))
        self.tie_first = c.tie_break == "first"
        return self

    def greedy_q(self) -> np.ndarray:
        """Plan on the current model and return the (K, H, S, A) Q the next episode acts greedily on."""
        if self.config.real_time_dp:
            ucb_lookahead(*self.model_.arrays(), self.b_, self.V_, self.Q_)
        else:
            ucb_backward_induction(*self.model_.arrays(), self.b_, self.v_max, self.v_clip, self.Q_, self.V_)
        return self.Q_

    def policy(self) -> np.ndarray:
        return greedy_policy(self.greedy_q(), first=self.tie_first)

    def update(self, episode: Episode) -> None:
        k, h, s, a, _, _ = episode.flat()
        if self.config.real_time_dp:
            q = max_last(self.Q_[k, h, s])
            self.V_[k, h, s] = np.minimum(self.V_[k, h, s], np.minimum(self.v_clip[h], q))
        n_before = self.model_.n.copy()
        self.model_.add(episode.states, episode.actions, episode.rewards)
        ucb_bonus_update(episode.states, episode.actions, n_before, self.v_max, float(self.config.bonus_scale),
                         self.config.bonus_update == "visited", self.b_)
