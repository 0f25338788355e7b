"""RandQL: randomized Q-learning, exploration by random learning rates (the practical variant).

Tiapkin, Belomestny, Calandriello, Moulines, Munos, Naumov, Perrault, Valko, Ménard, "Model-free Posterior
Sampling via Learning Rate Randomization", NeurIPS 2023 (arXiv 2310.18186), the algorithm of the
experiments (its Sec. 6 and the authors' code). Per step h, state s, action a it keeps an ensemble of J
Q-values; after each transition (s, a, r, s') at step h:

    n <- n + 1                                       # pseudo-count, starts at n0 * kappa
    for j = 1..J:
        u_j ~ Beta(n, n0)                            # weight of the real transition vs the optimistic prior
        w_j ~ Beta((H + 1) / kappa, n / kappa)       # random learning rate, E w = (H + 1) / (H + 1 + n)
        Q_j <- (1 - w_j) Q_j + w_j [u_j (r + V_{h+1}(s')) + (1 - u_j) v_max_h]
    Qbar <- min(Qbar, max_j Q_j);   V_h(s) <- min(v_max_h, max_a Qbar(s, a))
    act: argmax_a Qbar_h(s, a), ties broken uniformly at random

with v_max_h = H - h, Q_j = Qbar = V = v_max initially. No bonus: the randomness of w and u explores.
Sampled variant (``sampled=True``): each episode one member j* per run acts greedily on Q_{j*}, and each
member bootstraps on its own next-step value max_a Q_j(h+1, s', a).

Ties: the reference code takes ``argmax`` (always action 0 on ties), which biases early exploration of
the grid-world towards "left"; we break ties uniformly at random with the run's rng.

Batching. The update at step h writes only entries indexed by h and reads V_{h+1}, which this episode
writes only later (at step h + 1); acting at step h reads only Qbar_h. So the H online updates of an
episode are exactly the same as one batched update of all H transitions at the end of the episode (the
policy an episode plays is the greedy policy at its start). :meth:`RandQL.update` applies them at once,
vectorised over the H steps, the K independent runs and the J members.
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
class RandQLConfig:
    """Hyper-parameters (defaults: the paper's experiments).

    Attributes:
        n_ensemble: J, number of Q-values per (h, s, a).
        kappa: posterior inflation; kappa = 1 matches OptQL's mean learning rate.
        prior_count: n0, optimistic pseudo-transitions; None means 1 / S.
        sampled: act on one randomly chosen member per episode instead of Qbar.
    """

    n_ensemble: int = 10
    kappa: float = 1.0
    prior_count: float | None = None
    sampled: bool = False

    def __post_init__(self) -> None:
        if self.n_ensemble < 1:
            raise ConfigError(f"RandQLConfig.n_ensemble: expected >= 1, got {self.n_ensemble}")
        if not self.kappa > 0:
            raise ConfigError(f"RandQLConfig.kappa: expected > 0, got {self.kappa}")
        if self.prior_count is not None and not self.prior_count > 0:
            raise ConfigError(f"RandQLConfig.prior_count: expected > 0 or None, got {self.prior_count}")


def learning_rates(n: np.ndarray, H: int, kappa: float, J: int, rng: np.random.Generator) -> np.ndarray:
    """w ~ Beta((H + 1) / kappa, n / kappa), J draws per entry of ``n`` -> (len(n), J).

    Mean (H + 1) / (H + 1 + n): OptQL's rate (H + 1) / (H + n) with the pseudo-count n = visits + n0.
    """
    return rng.beta((H + 1.0) / kappa, np.asarray(n, dtype=np.float64)[:, None] / kappa, size=(len(n), J))


def prior_weights(n: np.ndarray, n0: float, J: int, rng: np.random.Generator) -> np.ndarray:
    """u ~ Beta(n, n0), J draws per entry of ``n`` -> (len(n), J): the weight of the observed target
    against the optimistic pseudo-target v_max (mean n / (n + n0))."""
    return rng.beta(np.asarray(n, dtype=np.float64)[:, None], n0, size=(len(n), J))


class RandQL:
    """RandQL for K independent runs at once (arrays carry a leading run axis).

    Usage: ``agent.reset(S, A, H, n_runs, rng)``, then per episode ``pi = agent.policy()`` (the
    (K, H, S, A) action probabilities to play) and ``agent.update(episode)``.
    """

    name = "randql"

    def __init__(self, config: RandQLConfig | None = None) -> None:
        self.config = config if config is not None else RandQLConfig()

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> RandQL:
        c = self.config
        self.S, self.A, self.H, self.K, self.rng = S, A, H, n_runs, rng
        self.n0 = c.prior_count if c.prior_count is not None else 1.0 / S
        self.v_max = horizon_values(H)
        vm = self.v_max[None, :, None, None]
        self.n_ = np.full((n_runs, H, S, A), self.n0 * c.kappa)
        self.Q_ = np.broadcast_to(vm[..., None], (n_runs, H, S, A, c.n_ensemble)).copy()  # (K,H,S,A,J)
        self.Qbar_ = np.broadcast_to(vm, (n_runs, H, S, A)).copy()
        self.V_ = np.zeros((n_runs, H + 1, S))
        self.V_[:, :H] = self.v_max[None, :, None]
        self._pi = greedy_policy(self.Qbar_)
        return self

    def policy(self) -> np.ndarray:
        """(K, H, S, A) probabilities of the policy played in the next episode."""
        if not self.config.sampled:
            return self._pi
        self._member = self.rng.integers(self.config.n_ensemble, size=self.K)
        return greedy_policy(self.Q_[np.arange(self.K), ..., self._member])

    def update(self, episode: Episode) -> None:
        """Apply the H online updates of each run's finished episode (see the module docstring)."""
        c, H, J = self.config, self.H, self.config.n_ensemble
        k, h, s, a, r, s2 = episode.flat()
        self.n_[k, h, s, a] += 1.0
        n = self.n_[k, h, s, a]
        u = prior_weights(n, self.n0, J, self.rng)
        w = learning_rates(n, H, c.kappa, J, self.rng)
        if c.sampled:
            nxt = h + 1 < H
            next_v = np.zeros((len(k), J))
            next_v[nxt] = self.Q_[k[nxt], h[nxt] + 1, s2[nxt]].max(axis=1)  # (., A, J) -> (., J)
        else:
            next_v = self.V_[k, h + 1, s2][:, None]
        target = u * (r[:, None] + next_v) + (1.0 - u) * self.v_max[h][:, None]
        Q = (1.0 - w) * self.Q_[k, h, s, a] + w * target
        self.Q_[k, h, s, a] = Q
        self.Qbar_[k, h, s, a] = np.minimum(self.Qbar_[k, h, s, a], Q.max(axis=1))
        qbar = self.Qbar_[k, h, s]  # (K*H, A)
        self.V_[k, h, s] = np.minimum(self.v_max[h], max_last(qbar))
        self._pi[k, h, s] = greedy_policy(qbar)
