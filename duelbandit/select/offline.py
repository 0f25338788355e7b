"""Offline selectors: the whole budget is chosen before any label is seen.

- ``uniform``: what practitioners do today — a random prompt, then a random pair of its responses.
- ``odpo``: Scheid et al. 2024, Algorithm 1 — the D-optimal design on the within-prompt differences
  B = {a_n^i - a_n^j}, rounded to exactly T labels with the guarantee-keeping rule (spec §3), so that
  max_b ||b||^2_{V^{-1}} <= g_max(w) / (T - p) and Theorem 1 applies.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from duelbandit.design import optimal_design, round_design
from duelbandit.errors import SelectorError
from duelbandit.rng import as_generator, seed_of
from duelbandit.select.base import Batch, SelectionState

# designs depend on the candidates only: the last few are shared by every ODPO / two-stage selector, so that
# budgets, seeds and fresh selector objects on the same pool reuse one solve (keyed by a hash of B)
_DESIGNS: OrderedDict = OrderedDict()
_DESIGNS_KEPT = 4


def check_budget(budget: int) -> int:
    """Validate a label budget (an int >= 1)."""
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise SelectorError(f"budget: expected an integer >= 1, got {budget!r}")
    return int(budget)


@dataclass
class UniformSelector:
    """Uniform baseline: for each label, a uniformly random prompt, then a uniformly random pair i < j
    of its responses. Repeats happen (as they do when practitioners sample at random)."""

    name: str = "uniform"

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        gen = as_generator(rng)
        pool = state.pool
        k = pool.response_counts
        per = k * (k - 1) // 2
        starts = np.concatenate([[0], np.cumsum(per)[:-1]])
        prompts = gen.integers(0, pool.n_prompts, size=T)
        # pairs of a prompt are contiguous in Pool.pairs(): pick an offset inside its block
        local = np.floor(gen.random(T) * per[prompts]).astype(np.int64)
        index = starts[prompts] + local
        return Batch.from_indices(index, selector=self.name, params={}, seed=seed_of(rng))

    def update(self, batch: Batch, labels: object) -> None:
        """Offline: labels do not change the choice."""


@dataclass
class ODPOSelector:
    """Offline D-optimal pair design (Scheid et al. 2024, Alg. 1; spec §2-§3).

    w* = argmax_w log det sum_b w_b b b^T over the within-prompt differences b, solved to
    max_b g_b(w) <= (1 + eps) d; then n_b = ceil((T - p) w_b) plus greedy leftover, spending exactly T.

    Args:
        eps: design tolerance; the certificate guarantees D-efficiency >= 1 / (1 + eps).
        method: design solver (see :func:`duelbandit.design.optimal_design`).
        rounding: "guarantee" (default), "pukelsheim" or "iid".
    """

    eps: float = 1e-3
    method: str = "auto"
    rounding: str = "guarantee"
    name: str = "odpo"

    def design(self, B: np.ndarray):
        """The design on the candidate differences B (cached: the last few designs are shared)."""
        key = (B.shape, hashlib.blake2b(np.ascontiguousarray(B).tobytes(), digest_size=16).digest(),
               self.eps, self.method)
        if key in _DESIGNS:
            _DESIGNS.move_to_end(key)
        else:
            _DESIGNS[key] = optimal_design(B, method=self.method, eps=self.eps)
            while len(_DESIGNS) > _DESIGNS_KEPT:
                _DESIGNS.popitem(last=False)
        return _DESIGNS[key]

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        gen = as_generator(rng)
        B = state.candidates.differences(state.features.X).astype(np.float64, copy=False)
        design = self.design(B)
        rounded = round_design(design, T, B=B, method=self.rounding, rng=gen)
        pairs = np.flatnonzero(rounded.counts > 0)
        return Batch(
            pairs=pairs,
            counts=rounded.counts[pairs],
            selector=self.name,
            params={"eps": self.eps, "method": self.method, "rounding": self.rounding},
            seed=seed_of(rng),
            info={
                "certificate": design.certificate.as_dict(),
                "design_weight": design.weights[pairs],
                "rounding": rounded.info,
            },
        )

    def update(self, batch: Batch, labels: object) -> None:
        """Offline: labels do not change the choice."""
