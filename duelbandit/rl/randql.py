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

Ties: the reference code takes ``argmax`` (always the first action on ties), which biases early
exploration of the grid-world towards "left"; by default we break ties uniformly at random with the run's
rng (``tie_break="random"``); ``tie_break="first"`` reproduces the reference.

Batching. The update at step h writes only entries indexed by h and reads V_{h+1}, which this episode
writes only later (at step h + 1); acting at step h reads only Qbar_h. So the H online updates of an
episode are exactly the same as applying them in time order at the end of the episode (the policy an
episode plays is the greedy policy at its start). :meth:`RandQL.update` does that in one compiled loop
over the K runs, the H steps and the J members (:func:`randql_update`).
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
class RandQLConfig:
    """Hyper-parameters (defaults: the paper's experiments).

    Attributes:
        n_ensemble: J, number of Q-values per (h, s, a).
        kappa: posterior inflation; kappa = 1 matches OptQL's mean learning rate.
        prior_count: n0, optimistic pseudo-transitions; None means 1 / S.
        sampled: act on one randomly chosen member per episode instead of Qbar.
        tie_break: "random" (uniform among the maximal actions) or "first" (numpy's argmax, as the
            reference code).
    """

    n_ensemble: int = 10
    kappa: float = 1.0
    prior_count: float | None = None
    sampled: bool = False
    tie_break: str = "random"

    def __post_init__(self) -> None:
        if self.tie_break not in ("random", "first"):
            raise ConfigError(f"RandQLConfig.tie_break: expected 'random' or 'first', got {self.tie_break!r}")
        if self.n_ensemble < 1:
            raise ConfigError(f"RandQLConfig.n_ensemble: expected >= 1, got {self.n_ensemble}")
        if not self.kappa > 0:
            raise ConfigError(f"RandQLConfig.kappa: expected > 0, got {self.kappa}")
        if self.prior_count is not None and not self.prior_count > 0:
            raise ConfigError(f"RandQLConfig.prior_count: expected > 0 or None, got {self.prior_count}")


@numba.njit(cache=True, nogil=True)
def randql_update(states, actions, rewards, n, Q, Qbar, V, v_max, n0, kappa, sampled, gen) -> None:
    """The RandQL updates of one episode of each run, in time order (module docstring), in place.

    Shapes: states (K, H + 1), actions and rewards (K, H), n and Qbar (K, H, S, A), Q (K, H, S, A, J),
    V (K, H + 1, S), v_max (H,). Per member j: u ~ Beta(n, n0) then w ~ Beta((H + 1)/kappa, n/kappa).
    ``sampled``: each member bootstraps on its own max_a Q_j(h + 1, s', a) instead of V_{h+1}(s').
    """
    K, H = actions.shape
    A = Q.shape[3]
    J = Q.shape[4]
    lr_a = (H + 1.0) / kappa
    for k in range(K):
        for h in range(H):
            s, a, s2 = states[k, h], actions[k, h], states[k, h + 1]
            n[k, h, s, a] += 1.0
            nn = n[k, h, s, a]
            top = -np.inf
            for j in range(J):
                u = gen.beta(nn, n0)
                w = gen.beta(lr_a, nn / kappa)
                if sampled:
                    nv = 0.0
                    if h + 1 < H:
                        nv = Q[k, h + 1, s2, 0, j]
                        for b in range(1, A):
                            nv = max(nv, Q[k, h + 1, s2, b, j])
                else:
                    nv = V[k, h + 1, s2]
                target = u * (rewards[k, h] + nv) + (1.0 - u) * v_max[h]
                q = (1.0 - w) * Q[k, h, s, a, j] + w * target
                Q[k, h, s, a, j] = q
                top = max(top, q)
            Qbar[k, h, s, a] = min(Qbar[k, h, s, a], top)
            best = Qbar[k, h, s, 0]
            for b in range(1, A):
                best = max(best, Qbar[k, h, s, b])
            V[k, h, s] = min(v_max[h], best)


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
        self.tie_first = c.tie_break == "first"
        return self

    def greedy_q(self) -> np.ndarray:
        """(K, H, S, A) values the next episode acts greedily on: Qbar, or one member per run (sampled)."""
        if not self.config.sampled:
            return self.Qbar_
        self._member = self.rng.integers(self.config.n_ensemble, size=self.K)
        return np.ascontiguousarray(self.Q_[np.arange(self.K), ..., self._member])

    def policy(self) -> np.ndarray:
        """(K, H, S, A) probabilities of the policy played in the next episode."""
        return greedy_policy(self.greedy_q(), first=self.tie_first)

    def update(self, episode: Episode) -> None:
        """Apply the H online updates of each run's finished episode (see the module docstring)."""
        c = self.config
        randql_update(episode.states, episode.actions, np.asarray(episode.rewards, dtype=np.float64),
                      self.n_, self.Q_, self.Qbar_, self.V_, self.v_max, float(self.n0), float(c.kappa),
                      bool(c.sampled), self.rng)
