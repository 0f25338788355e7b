"""Finite-horizon tabular MDPs: the model, exact dynamic programming, and batched simulation.

An episodic MDP is (S, A, H, P, R, mu0): states 0..S-1, actions 0..A-1, steps h = 0..H-1, a
time-homogeneous kernel P[s, a, s'], mean rewards R[s, a] in [0, 1] and an initial distribution mu0.
Values are undiscounted sums over the H steps:

    Q_h(s, a) = R(s, a) + sum_s' P(s' | s, a) V_{h+1}(s'),   V_H = 0,
    V*_h(s) = max_a Q*_h(s, a),    V^pi_h(s) = sum_a pi_h(a | s) Q^pi_h(s, a).

Regret of episode k is mu0 . (V*_0 - V^{pi_k}_0), computed here EXACTLY by backward induction.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

import numpy as np
import scipy.sparse as sp

from duelbandit.errors import ConfigError


@dataclass(frozen=True, eq=False)
class FiniteMDP:
    """An episodic finite MDP with time-homogeneous dynamics.

    Attributes:
        P: (S, A, S) transition probabilities, rows summing to 1.
        R: (S, A) mean rewards in [0, 1]. Simulation pays R[s, a] (rewards are deterministic given
            (s, a); an environment whose reward depends on s' is folded to its mean, which leaves every
            value function unchanged).
        H: horizon (number of steps per episode).
        mu0: (S,) initial-state distribution.
        name: label used in outputs.
        info: free-form provenance (constructor arguments, reward rescaling, ...).
    """

    P: np.ndarray
    R: np.ndarray
    H: int
    mu0: np.ndarray
    name: str = "mdp"
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=np.float64)
        R = np.asarray(self.R, dtype=np.float64)
        mu0 = np.asarray(self.mu0, dtype=np.float64)
        if P.ndim != 3 or P.shape[0] != P.shape[2]:
            raise ConfigError(f"FiniteMDP.P: expected shape (S, A, S), got {P.shape}")
        S, A, _ = P.shape
        if R.shape != (S, A):
            raise ConfigError(f"FiniteMDP.R: expected shape {(S, A)}, got {R.shape}")
        if mu0.shape != (S,):
            raise ConfigError(f"FiniteMDP.mu0: expected shape {(S,)}, got {mu0.shape}")
        if not (isinstance(self.H, (int, np.integer)) and self.H >= 1):
            raise ConfigError(f"FiniteMDP.H: expected an integer >= 1, got {self.H!r}")
        if not np.all(np.isfinite(P)) or P.min() < 0:
            raise ConfigError("FiniteMDP.P: expected finite non-negative probabilities")
        bad = np.abs(P.sum(-1) - 1.0) > 1e-8
        if bad.any():
            s, a = np.argwhere(bad)[0]
            raise ConfigError(f"FiniteMDP.P[{s}, {a}]: row sums to {P[s, a].sum():.10g}, expected 1")
        if not np.all(np.isfinite(R)) or R.min() < -1e-12 or R.max() > 1 + 1e-12:
            raise ConfigError(f"FiniteMDP.R: expected rewards in [0, 1], got range [{R.min()}, {R.max()}]")
        if mu0.min() < 0 or abs(mu0.sum() - 1.0) > 1e-8:
            raise ConfigError(f"FiniteMDP.mu0: expected a probability vector, sums to {mu0.sum():.10g}")
        object.__setattr__(self, "P", P)
        object.__setattr__(self, "R", np.clip(R, 0.0, 1.0))
        object.__setattr__(self, "mu0", mu0)
        object.__setattr__(self, "H", int(self.H))
        # derived, cached: CDFs for sampling, a sparse copy of P for fast batched evaluation
        object.__setattr__(self, "_mu0_cdf", np.cumsum(mu0))
        object.__setattr__(self, "_P_csr", sp.csr_matrix(P.reshape(S * A, S)))
        # Inverse-CDF sampling of all rows with ONE searchsorted: row x = s * A + a owns the keys
        # x + cumsum(P[s, a]) over its non-zero entries, the last one set to exactly x + 1.
        csr = self._P_csr
        keys = np.empty(csr.nnz)
        for x in range(S * A):
            lo, hi = csr.indptr[x], csr.indptr[x + 1]
            keys[lo:hi] = np.minimum(x + np.cumsum(csr.data[lo:hi]), x + 1.0)
            keys[hi - 1] = x + 1.0
        object.__setattr__(self, "_keys", keys)
        object.__setattr__(self, "_next", csr.indices.astype(np.int64))

    @property
    def S(self) -> int:
        return self.P.shape[0]

    @property
    def A(self) -> int:
        return self.P.shape[1]

    def with_horizon(self, H: int) -> FiniteMDP:
        """The same MDP with another horizon."""
        return FiniteMDP(self.P, self.R, H, self.mu0, self.name, dict(self.info))

    # --- simulation (batched over independent runs) ----------------------------------------------
    def sample_initial(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n initial states drawn from mu0 -> (n,) int."""
        idx = np.searchsorted(self._mu0_cdf, rng.random(n), side="right")
        return np.minimum(idx, self.S - 1)

    def step(self, s: np.ndarray, a: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One transition for each run: s' ~ P(. | s, a), reward R(s, a). Shapes (n,) -> (n,), (n,)."""
        return self.next_states(s * self.A + a, rng.random(s.shape[0])), self.R[s, a]

    def next_states(self, sa: np.ndarray, u: np.ndarray) -> np.ndarray:
        """s' = F^{-1}_{s,a}(u) for flat rows sa = s * A + a and uniforms u in [0, 1)."""
        return self._next[self._keys.searchsorted(sa + u, side="right")]


# --- exact dynamic programming ------------------------------------------------------------------
def optimal_values(mdp: FiniteMDP) -> tuple[np.ndarray, np.ndarray]:
    """Backward induction: Q*_h = R + P V*_{h+1}, V*_h = max_a Q*_h, V*_H = 0.

    Returns:
        (Q, V): Q of shape (H, S, A) and V of shape (H + 1, S).
    """
    S, A, H = mdp.S, mdp.A, mdp.H
    Q = np.empty((H, S, A))
    V = np.zeros((H + 1, S))
    for h in range(H - 1, -1, -1):
        Q[h] = mdp.R + mdp.P @ V[h + 1]
        V[h] = max_last(Q[h])
    return Q, V


def optimal_value(mdp: FiniteMDP) -> float:
    """mu0 . V*_0, the best expected return of an episode."""
    return float(mdp.mu0 @ optimal_values(mdp)[1][0])


def policy_values(mdp: FiniteMDP, pi: np.ndarray) -> np.ndarray:
    """Exact policy evaluation, batched over any leading dimensions of ``pi``.

    V^pi_h(s) = sum_a pi_h(a|s) [R(s, a) + sum_s' P(s'|s, a) V^pi_{h+1}(s')],  V^pi_H = 0.

    Args:
        pi: (..., H, S, A) action probabilities (a deterministic policy is one-hot).

    Returns:
        (..., H + 1, S) values.
    """
    pi = np.asarray(pi, dtype=np.float64)
    S, A, H = mdp.S, mdp.A, mdp.H
    if pi.shape[-3:] != (H, S, A):
        raise ConfigError(f"policy_values: pi must end with shape {(H, S, A)}, got {pi.shape}")
    lead = pi.shape[:-3]
    B = int(np.prod(lead)) if lead else 1
    pi = pi.reshape(B, H, S, A)
    # one sparse (S*A, S) x (S, B) product per step evaluates all B policies at once; only the small
    # (S*A, B) result is transposed, never the (B, H*S*A) policy block
    V = np.zeros((H + 1, B, S))
    for h in range(H - 1, -1, -1):
        Q = (mdp._P_csr @ V[h + 1].T).T.reshape(B, S, A)  # (P V_{h+1})(s, a) for every policy b
        Q += mdp.R
        Q *= pi[:, h]
        V[h] = sum_last(Q)
    return np.moveaxis(V, 1, 0).reshape(*lead, H + 1, S)


def max_last(x: np.ndarray) -> np.ndarray:
    """max over the last (short) axis, as a chain of elementwise maxima: numpy's reduction along a short
    contiguous axis is 10-15x slower than this for action axes of length 2-6."""
    out = x[..., 0].copy()
    for a in range(1, x.shape[-1]):
        np.maximum(out, x[..., a], out=out)
    return out


def sum_last(x: np.ndarray) -> np.ndarray:
    """sum over the last (short) axis, as a chain of elementwise additions (see :func:`max_last`)."""
    out = x[..., 0].astype(np.float64, copy=True)
    for a in range(1, x.shape[-1]):
        out += x[..., a]
    return out


def greedy_policy(Q: np.ndarray, *, first: bool = False) -> np.ndarray:
    """Greedy action probabilities, splitting ties uniformly: pi(a|s) = 1[a in argmax Q] / |argmax Q|.

    This is exactly the policy an agent plays when it breaks ties uniformly at random; with
    ``first=True`` it is one-hot on the first maximal action (numpy's ``argmax``).
    ``Q`` has shape (..., A); the result has the same shape.
    """
    if first:
        A = Q.shape[-1]
        return (np.argmax(Q, axis=-1)[..., None] == np.arange(A)).astype(np.float64)
    ties = (Q >= max_last(Q)[..., None]).astype(np.float64)
    ties /= sum_last(ties)[..., None]
    return ties


def sample_actions(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row of ``probs`` (n, A) -> (n,) int, by inverse CDF."""
    a = (np.cumsum(probs, axis=1) < rng.random(probs.shape[0])[:, None]).sum(axis=1)
    return np.minimum(a, probs.shape[1] - 1)


def horizon_values(H: int) -> np.ndarray:
    """v_max[h] = H - h for h = 0..H-1, the largest value reachable from step h with rewards in [0, 1]."""
    return np.arange(H, 0, -1, dtype=np.float64)


@dataclass(frozen=True)
class Episode:
    """The K trajectories of one episode, one per independent run.

    Attributes:
        states: (K, H + 1) int, s_0 .. s_H.
        actions: (K, H) int.
        rewards: (K, H) float.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray

    def flat(self) -> tuple[np.ndarray, ...]:
        """(k, h, s, a, r, s') as flat arrays of length K * H, run-major.

        Within one run every row has a different h, so the rows address distinct (k, h, s, a) entries:
        tabular updates indexed by h can be applied to all rows at once.
        """
        K, H = self.actions.shape
        k = np.repeat(np.arange(K), H)
        h = np.tile(np.arange(H), K)
        return (k, h, self.states[:, :H].ravel(), self.actions.ravel(), self.rewards.ravel(),
                self.states[:, 1:].ravel())


def argmax_random_tie(q: np.ndarray, rng: np.random.Generator) -> int:
    """An action of maximal value, ties broken uniformly at random with ``rng`` (draws only on a tie)."""
    best = np.flatnonzero(q >= q.max())
    return int(best[rng.integers(len(best))]) if len(best) > 1 else int(best[0])
