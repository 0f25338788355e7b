"""``randql_allocator``: a trained RandQL agent decides which skill cluster each batch of labels goes to.

The labels of a campaign are spent in steps of ``batch_size`` (step h holds labels h m .. (h + 1) m - 1,
counted over all labels so far). At the start of a step the selector reads the MDP state of
:mod:`duelbandit.select.allocation` from the labels so far (step index h; for ``state="visited"`` the set of
clusters that have labels), draws the cluster a ~ policy[h, s] with its rng, and picks the step's pairs
inside cluster a by greedy log-det under the current V = lam I + sum_labels b b^T
(:func:`~duelbandit.select.allocation.cluster_batch`), updating V pick by pick. A call may span several steps
(one ``select(state, T)`` plans a whole campaign) or part of one (the loop's rounds): a step begun in an
earlier call is finished in the cluster of the last label. Past the trained horizon the policy of the last
step is reused.

The policy is the trained agent's acting policy, greedy on RandQL's Qbar with ties split uniformly
(:func:`~duelbandit.select.allocation.acting_policy`; build with :meth:`RandQLAllocator.from_agent`). With no
policy the selector is the untrained agent: a uniformly random cluster for every step. A hand-made
one-hot policy gives fixed allocations with the same in-cluster design (round-robin, one cluster, ...).

Clusters: ``clusters`` when given, else ``Pool.skills``, else k-means on per-prompt mean features
(:func:`~duelbandit.select.allocation.prompt_clusters`, seeded by ``cluster_seed``).

The selector never sees a reward or the annotator's noise: what it knows about the noise is what training
put into the policy (see docs/rl.md, "RandQL allocates the label budget").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from duelbandit.errors import SelectorError
from duelbandit.rng import as_generator, seed_of
from duelbandit.select.base import Batch, SelectionState
from duelbandit.select.model import information, labels_in_use
from duelbandit.select.offline import check_budget

if TYPE_CHECKING:
    from duelbandit.select.allocation import AllocationEnv
    from duelbandit.rl.randql import RandQL

# The allocation MDP (duelbandit.select.allocation) and the RL agents are imported inside the methods, so that
# importing duelbandit.select loads neither until an allocator is used.


@dataclass
class RandQLAllocator:
    """Cluster-level allocation by a trained RandQL agent, design inside the cluster (module docstring).

    Args:
        policy: (H, S, C) action probabilities per step and state (the agent's acting policy), or None for
            a uniformly random cluster every step (the untrained agent).
        clusters: (N,) cluster index per prompt, or None (``Pool.skills``, else k-means).
        n_clusters: k-means clusters when the pool has no skills and ``clusters`` is None.
        batch_size: m, labels per step (the training's batch size).
        state: "step" or "visited", as in training.
        cluster_seed: seed of the k-means fallback.
    """

    policy: np.ndarray | None = None
    clusters: np.ndarray | None = None
    n_clusters: int = 4
    batch_size: int = 40
    state: str = "step"
    cluster_seed: int = 0
    name: str = "randql_allocator"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def from_agent(cls, agent: RandQL, env: AllocationEnv, *, run: int = 0) -> RandQLAllocator:
        """Wrap run ``run`` of a RandQL agent trained on ``env`` (its clusters, batch size and state)."""
        from duelbandit.select.allocation import acting_policy

        return cls(policy=acting_policy(agent, run), clusters=env.clusters.of_prompt.copy(),
                   batch_size=env.config.batch_size, state=env.config.state)

    def _check(self) -> None:
        from duelbandit.select.allocation import STATES

        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1:
            raise SelectorError(f"batch_size: expected an integer >= 1, got {self.batch_size!r}")
        if self.state not in STATES:
            raise SelectorError(f"state: expected one of {STATES}, got {self.state!r}")

    def _cluster_ids(self, state: SelectionState) -> tuple[np.ndarray, str]:
        """(N,) cluster per prompt and where it came from."""
        N = state.pool.n_prompts
        if self.clusters is not None:
            cl = np.asarray(self.clusters)
            if cl.shape != (N,) or not np.issubdtype(cl.dtype, np.integer) or cl.min() < 0:
                raise SelectorError(f"clusters: expected ({N},) non-negative integers (one per prompt), got shape "
                                    f"{cl.shape} dtype {cl.dtype}")
            return cl.astype(np.int64), "given"
        key = (id(state.pool), id(state.features), self.n_clusters, self.cluster_seed)
        if key not in self._cache:
            from duelbandit.select.allocation import prompt_clusters

            self._cache.clear()
            c = prompt_clusters(state.pool, state.features, n_clusters=self.n_clusters, rng=self.cluster_seed)
            self._cache[key] = (c.of_prompt, c.source)
        return self._cache[key]

    def _policy(self, C: int) -> np.ndarray:
        from duelbandit.select.allocation import n_states

        S = n_states(self.state, C)
        if self.policy is None:
            return np.full((1, S, C), 1.0 / C)
        pi = np.asarray(self.policy, dtype=np.float64)
        if pi.ndim != 3 or pi.shape[1:] != (S, C):
            raise SelectorError(f"policy: expected shape (H, {S}, {C}) for state={self.state!r} and the {C} clusters "
                                f"of this pool, got {pi.shape}")
        if np.any(pi < 0) or np.any(np.abs(pi.sum(-1) - 1.0) > 1e-8):
            raise SelectorError("policy: expected action probabilities (non-negative, summing to 1 per step and state)")
        return pi

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        from duelbandit.select.allocation import cluster_batch, next_state, state_of
        from duelbandit.rl.mdp import sample_actions

        T = check_budget(budget)
        gen = as_generator(rng)
        self._check()
        cand = state.candidates
        B = cand.differences(state.features.X).astype(np.float64, copy=False)
        of_prompt, source = self._cluster_ids(state)
        C = int(of_prompt.max()) + 1
        pi = self._policy(C)
        H, m = pi.shape[0], int(self.batch_size)
        of_cand = of_prompt[cand.prompt]
        labels = labels_in_use(state, self._received)
        n_done = 0 if labels is None else len(labels)
        V = information(state, labels, B)
        seen = np.zeros(0, np.int64) if labels is None else of_cand[labels.pairs]
        s = state_of(self.state, seen)
        current = int(seen[-1]) if n_done % m else None  # a step begun earlier ends in its own cluster
        h0 = n_done // m
        picks, steps, left = [], [], T
        while left:
            pos = n_done % m
            if pos == 0:
                h = min(n_done // m, H - 1)
                current = int(sample_actions(pi[h, s][None, :], gen)[0])
            members = np.flatnonzero(of_cand == current)
            if members.size == 0:
                raise SelectorError(f"clusters: cluster {current} has no candidate pair in pool {state.pool.name!r}")
            k = min(m - pos, left)
            chosen = cluster_batch(B, members, V, k)
            V = V + B[chosen].T @ B[chosen]
            picks.append(chosen)
            steps.append(current)
            s = next_state(self.state, s, current)
            n_done += k
            left -= k
        index = np.concatenate(picks)
        return Batch.from_indices(
            index, selector=self.name,
            params={"batch_size": m, "state": self.state, "trained": self.policy is not None,
                    "n_clusters": C},
            seed=seed_of(rng),
            info={"cluster_per_step": steps, "first_step": h0, "cluster_source": source,
                  "labels_per_cluster": np.bincount(of_cand[index], minlength=C).tolist()},
        )

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels: the step index, the visited clusters and V are read from them (used when
        ``state.labels`` is not given)."""
        self._received.append(labels)
