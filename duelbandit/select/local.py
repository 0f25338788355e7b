"""Two-stage (locally D-optimal) selection: ODPO first, then the design of the fitted logistic model.

Stage 1 spends n1 = ceil(fraction T) labels on the D-optimal design of the differences B (odpo,
Scheid et al. 2024, Alg. 1). The Bradley–Terry MLE theta_hat is fitted on them. Stage 2 spends the other
T - n1 labels on the D-optimal design of the rescaled candidates

    b~ = sqrt(sigma'(<theta_hat, b>)) b,     M_loc(w) = sum_b w_b sigma'(<theta_hat, b>) b b^T,

the Fisher information of the logistic model at theta_hat: the locally D-optimal design (Chernoff 1953;
for logistic bandits, Faury et al. 2020 / Mason et al. 2022). Weighting by the local curvature is what
removes sqrt(kappa) from the leading term of the error (spec §7); both stages are rounded to exact label
counts by the guarantee-keeping rule (spec §3).

Used in rounds (the collection loop), the selector keeps one plan over the total budget ``total``:
stage-1 labels are handed out in a fixed order (one per support pair, then the second copies, ...), so
that any number of rounds adds up to the rounding of n1 labels; each stage-2 round refits theta_hat on
all labels so far and tops up the counts towards the rounded local design of the T - n1 stage-2 labels
(largest deficits first, leftovers by greedy log-det on b~). With two rounds (n1, then T - n1) this is
exactly the textbook two-stage procedure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from duelbandit.design import optimal_design, round_design
from duelbandit.design.rounding import greedy_logdet
from duelbandit.errors import SelectorError
from duelbandit.reward import sigmoid_prime
from duelbandit.rng import as_generator, seed_of
from duelbandit.select.base import Batch, SelectionState
from duelbandit.select.model import fit_theta, planned_call, pooled
from duelbandit.select.offline import ODPOSelector, check_budget


def interleaved(counts: np.ndarray) -> np.ndarray:
    """The labels of an allocation, one entry per label, round-robin over the pairs: first copy of
    every pair (heaviest pairs first), then the second copies, and so on. Any prefix is spread over the
    support instead of exhausting one pair at a time."""
    s = np.flatnonzero(counts > 0)
    s = s[np.argsort(-counts[s], kind="stable")]
    reps = np.repeat(s, counts[s])
    first = np.repeat(np.cumsum(counts[s]) - counts[s], counts[s])
    copy = np.arange(reps.shape[0]) - first  # 0 for the first copy of a pair, 1 for the second, ...
    rank = np.repeat(np.arange(s.shape[0]), counts[s])
    return reps[np.lexsort((rank, copy))]


@dataclass
class TwoStageSelector:
    """Two-stage local design: odpo on a fraction of the budget, fit, then the D-optimal design of
    b~ = sqrt(sigma'(<theta_hat, b>)) b (see the module docstring; Scheid et al. 2024 §2 for stage 1, the
    locally D-optimal design of the logistic model for stage 2).

    Args:
        fraction: share of the total budget spent in stage 1, in (0, 1].
        total: the total label budget T of the whole collection, for use over several rounds. None means
            "this call's budget plus the labels already seen" (one call: stage 1 then stage 2 inside the
            same batch, where stage 2 cannot see stage-1 labels yet and uses theta_hat from earlier labels,
            or 0 — i.e. it reduces to odpo until labels arrive).
        eps, method, rounding: as for :class:`~duelbandit.select.offline.ODPOSelector`.
    """

    fraction: float = 0.3
    total: int | None = None
    eps: float = 1e-3
    method: str = "auto"
    rounding: str = "guarantee"
    name: str = "two_stage"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)
    _odpo: ODPOSelector | None = field(default=None, init=False, repr=False, compare=False)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        m = check_budget(budget)
        gen = as_generator(rng)
        if not (isinstance(self.fraction, (int, float)) and 0 < self.fraction <= 1):
            raise SelectorError(f"fraction: expected a share of the budget in (0, 1], got {self.fraction!r}")
        labels, n0, total = planned_call(state, self._received, self.total, m)
        n1 = max(1, math.ceil(self.fraction * total))
        B = state.candidates.differences(state.features.X).astype(np.float64, copy=False)
        L = B.shape[0]
        picks: list[np.ndarray] = []
        weight = np.zeros(L)
        k1 = min(m, max(0, n1 - n0))
        if k1:
            if self._odpo is None:
                self._odpo = ODPOSelector(eps=self.eps, method=self.method, rounding=self.rounding)
            design = self._odpo.design(B)
            plan = interleaved(round_design(design, n1, B=B, method=self.rounding, rng=gen).counts)
            picks.append(plan[n0 : n0 + k1])
            weight[picks[-1]] = design.weights[picks[-1]]
        k2 = m - k1
        theta = np.zeros(B.shape[1])
        info: dict = {"stage1_labels": int(k1), "stage2_labels": int(k2), "n1": n1, "total": total}
        if k2:
            theta = fit_theta(state, labels, B)
            Bt = np.sqrt(sigmoid_prime(B @ theta))[:, None] * B
            local = optimal_design(Bt, method=self.method, eps=self.eps)
            target = round_design(local, max(total - n1, k2), B=Bt, method=self.rounding, rng=gen).counts
            have = np.zeros(L, dtype=np.int64)
            if labels is not None and n0 > n1:  # labels after the first n1 are stage-2 labels
                np.add.at(have, labels.pairs[n1:], 1)
            deficit = np.maximum(target - have, 0)
            take = interleaved(deficit)[:k2]
            if take.shape[0] < k2:  # the target is met: spend the rest greedily on the local information
                u, n, _ = pooled(labels, L)
                counts = np.zeros(L, dtype=np.int64)
                counts[u] = n.astype(np.int64)
                np.add.at(counts, take, 1)
                grown, _ = greedy_logdet(Bt, counts, k2 - take.shape[0])
                take = np.concatenate([take, np.repeat(np.arange(L), grown - counts)])
            picks.append(take)
            weight[take] = local.weights[take]
            info["local_certificate"] = local.certificate.as_dict()
        index = np.concatenate(picks)
        batch = Batch.from_indices(
            index, selector=self.name, seed=seed_of(rng),
            params={"fraction": self.fraction, "total": self.total, "eps": self.eps, "method": self.method,
                    "rounding": self.rounding},
        )
        info["design_weight"] = weight[batch.pairs]
        info["theta_norm"] = float(np.linalg.norm(theta))
        return Batch(pairs=batch.pairs, counts=batch.counts, selector=batch.selector, params=batch.params,
                     seed=batch.seed, info=info)

    def first_round(self, total: int) -> int:
        """Labels of the plan before stage 2 needs any: the odpo stage."""
        return max(1, math.ceil(self.fraction * total))

    def rounds(self, total: int) -> list[int]:
        """Round sizes of the plan: the odpo stage, then stage 2 at its fit."""
        n1 = min(self.first_round(total), total)
        return [n for n in (n1, total - n1) if n]

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the stage-2 fit (used when ``state.labels`` is not given)."""
        self._received.append(labels)
