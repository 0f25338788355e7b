"""Staged-RandQL: the analysed version of RandQL (Tiapkin et al. 2023, arXiv 2310.18186, Sec. 3).

The visits of each (h, s, a) are cut into stages of growing length e_k = floor((1 + 1/H)^k H),
k = 0, 1, 2, ...; every (h, s, a) keeps its OWN stage index k and in-stage count m. Within a stage the
ensemble averages fresh targets with Dirichlet-like random weights; the acting Q only changes at the end
of a stage. After a transition (s, a, r, s') at step h:

    for j = 1..J:
        w_j ~ Beta(1 / kappa, (m + n0) / kappa)      # m = visits earlier in this stage
        Q_j <- (1 - w_j) Q_j + w_j (r + V_{h+1}(s'))  # no prior mixing: the prior is the reset value
    m <- m + 1
    if m == e_k:                                      # end of stage k
        Qbar <- min(Qbar, max_j Q_j);  V_h(s) <- min(v_max_h, max_a Qbar(s, a))
        Q_j <- r0 v_max_h for all j;   m <- 0;   k <- k + 1
    act: argmax_a Qbar_h(s, a), ties uniform

With kappa = 1 the weights of (prior, x_1, ..., x_m) after m updates are Dirichlet(n0, 1, ..., 1): the
stage's Q_j is a posterior sample of the mean target with n0 optimistic pseudo-observations of value
r0 v_max_h. Defaults: J = 10, kappa = 1, n0 = 1/S as in the practical RandQL, r0 = 1 (reset to
v_max_h = H - h); the theory takes J, kappa, n0 of order log(SAHT/delta) and r0 = 2 (check: read from
the spec, not verified against the paper's text).

Not the reference code: its "scheduled" path multiplies one global threshold by itself (it stays 1.0),
so every visit ends a stage and the growth 1 + 1/H is never used; here each (h, s, a) has its own k.
Its stage rate also increments the pseudo-count before drawing, Beta(1/kappa, (n0 kappa + m + 1)/kappa):
weights Dirichlet(n0 + 1, 1, ..., 1) for kappa = 1, one more optimistic pseudo-observation than the
posterior-sampling reading above (docs/rl.md, "Choices and deviations").
Batching: as in ``randql.py``, all updates of an episode touch distinct step-h entries.
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
class StagedRandQLConfig:
    """Attributes:
    n_ensemble: J.
    kappa: posterior inflation.
    prior_count: n0 (None: 1 / S).
    prior_scale: r0, the reset value is r0 * v_max_h.
    """

    n_ensemble: int = 10
    kappa: float = 1.0
    prior_count: float | None = None
    prior_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.n_ensemble < 1:
            raise ConfigError(f"StagedRandQLConfig.n_ensemble: expected >= 1, got {self.n_ensemble}")
        if not self.kappa > 0:
            raise ConfigError(f"StagedRandQLConfig.kappa: expected > 0, got {self.kappa}")
        if self.prior_count is not None and not self.prior_count > 0:
            raise ConfigError(f"StagedRandQLConfig.prior_count: expected > 0, got {self.prior_count}")
        if not self.prior_scale >= 1.0:
            raise ConfigError(f"StagedRandQLConfig.prior_scale: expected >= 1, got {self.prior_scale}")


def stage_lengths(H: int, n_stages: int) -> np.ndarray:
    """e_k = floor((1 + 1/H)^k H) for k = 0..n_stages-1 (non-decreasing, e_0 = H)."""
    k = np.arange(n_stages, dtype=np.float64)
    return np.minimum(np.floor((1.0 + 1.0 / H) ** k * H + 1e-9), 2.0**62).astype(np.int64)


def stage_learning_rates(m: np.ndarray, n0: float, kappa: float, J: int, rng: np.random.Generator) -> np.ndarray:
    """w ~ Beta(1 / kappa, (m + n0) / kappa), J draws per entry of ``m`` -> (len(m), J)."""
    return rng.beta(1.0 / kappa, (np.asarray(m, dtype=np.float64)[:, None] + n0) / kappa, size=(len(m), J))


class StagedRandQL:
    """Staged-RandQL for K independent runs (see the module docstring)."""

    name = "staged_randql"

    def __init__(self, config: StagedRandQLConfig | None = None) -> None:
        self.config = config if config is not None else StagedRandQLConfig()

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> StagedRandQL:
        c = self.config
        self.S, self.A, self.H, self.K, self.rng = S, A, H, n_runs, rng
        self.n0 = c.prior_count if c.prior_count is not None else 1.0 / S
        self.v_max = horizon_values(H)
        self.prior_value = c.prior_scale * self.v_max
        self.m_ = np.zeros((n_runs, H, S, A), dtype=np.int64)      # visits in the current stage
        self.stage_ = np.zeros((n_runs, H, S, A), dtype=np.int64)  # stage index k
        # more stages than any run can finish: e_k grows geometrically
        self.lengths = stage_lengths(H, 64 * H)
        self.Q_ = np.broadcast_to(self.prior_value[None, :, None, None, None],
                                  (n_runs, H, S, A, c.n_ensemble)).copy()
        self.Qbar_ = np.broadcast_to(self.v_max[None, :, None, None], (n_runs, H, S, A)).copy()
        self.V_ = np.zeros((n_runs, H + 1, S))
        self.V_[:, :H] = self.v_max[None, :, None]
        self._pi = greedy_policy(self.Qbar_)
        return self

    def policy(self) -> np.ndarray:
        return self._pi

    def update(self, episode: Episode) -> None:
        c = self.config
        k, h, s, a, r, s2 = episode.flat()
        m = self.m_[k, h, s, a]
        w = stage_learning_rates(m, self.n0, c.kappa, c.n_ensemble, self.rng)
        target = (r + self.V_[k, h + 1, s2])[:, None]
        Q = (1.0 - w) * self.Q_[k, h, s, a] + w * target
        m = m + 1
        end = m >= self.lengths[self.stage_[k, h, s, a]]
        self.Q_[k, h, s, a] = Q
        self.m_[k, h, s, a] = m
        if end.any():
            ke, he, se, ae = k[end], h[end], s[end], a[end]
            self.Qbar_[ke, he, se, ae] = np.minimum(self.Qbar_[ke, he, se, ae], Q[end].max(axis=1))
            q = self.Qbar_[ke, he, se]
            self.V_[ke, he, se] = np.minimum(self.v_max[he], max_last(q))
            self._pi[ke, he, se] = greedy_policy(q)
            self.Q_[ke, he, se, ae] = self.prior_value[he][:, None]
            self.m_[ke, he, se, ae] = 0
            self.stage_[ke, he, se, ae] += 1
