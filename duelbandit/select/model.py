"""The running model that the sequential selectors share (spec §4, §7).

- :func:`labels_in_use`: the labels a selector learns from — ``state.labels`` (the loop's source of truth)
  when set, else those it received through ``update()``.
- :func:`fit_theta`: the regularised Bradley–Terry MLE theta_hat on those labels (theta = 0 with none).
  Repeats of a pair are pooled into one row with weight n_b and label mean y_b: the log-likelihood
  sum_s [y_s log sigma(z) + (1 - y_s) log sigma(-z)] over the n_b repeats equals
  n_b [y_b log sigma(z) + (1 - y_b) log sigma(-z)], so the fit is identical and costs O(#distinct pairs).
- :func:`information`: V = lam I + sum_s b_s b_s^T, or H(theta) = lam I + sum_s sigma'(<theta, b_s>) b_s b_s^T.
- :class:`RunningInverse`: A^{-1} and every candidate's leverage h_i = phi_i^T A^{-1} phi_i under the
  in-batch rank-one updates A <- A + c phi_j phi_j^T (Sherman–Morrison), O(L d) per pick.
"""

from __future__ import annotations

import numpy as np

from duelbandit.design import leverages
from duelbandit.errors import SelectorError
from duelbandit.reward import BradleyTerry, design_matrix, logistic_hessian
from duelbandit.select.base import SelectionState
from duelbandit.types import Labels


def differences(state: SelectionState) -> np.ndarray:
    """(L, d) float64 difference vectors phi = a_i - a_j of the state's candidate pairs."""
    return state.candidates.differences(state.features.X).astype(np.float64, copy=False)


def labels_in_use(state: SelectionState, received: list[Labels]) -> Labels | None:
    """``state.labels`` when the caller passes them (the collection loop does), else the labels the
    selector got through ``update()`` (None when there are none)."""
    if state.labels is not None:
        labels = state.labels
    elif received:
        labels = Labels.concat(received)
    else:
        return None
    L = len(state.candidates)
    if len(labels) and (labels.pairs.min() < 0 or labels.pairs.max() >= L):
        raise SelectorError(f"labels: candidate index outside this pool's {L} pairs (pool {state.pool.name!r})")
    return labels if len(labels) else None


def planned_call(
    state: SelectionState, received: list[Labels], total: int | None, budget: int
) -> tuple[Labels | None, int, int]:
    """(labels in use, their count n0, the plan's total) for a selector that plans over the collection:
    ``total`` None means labels seen + this call's budget; a call past the plan's end is refused."""
    labels = labels_in_use(state, received)
    n0 = 0 if labels is None else len(labels)
    out = n0 + budget if total is None else int(total)
    if n0 + budget > out:
        raise SelectorError(f"budget: {n0} labels seen + {budget} asked exceeds total={out}")
    return labels, n0, out


def segment_shares(n0: int, budget: int, sizes: list[int]) -> list[int]:
    """How many of this call's plan positions [n0, n0 + budget) fall in each consecutive segment of the plan
    (segment sizes ``sizes``, in order)."""
    edges = np.cumsum([0, *sizes])
    return [max(0, min(n0 + budget, hi) - max(n0, lo)) for lo, hi in zip(edges[:-1], edges[1:])]


def pooled(labels: Labels | None, L: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distinct labelled pairs u, repeats n_u, mean label y_u), sorted by pair index."""
    if labels is None or len(labels) == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    u, inv, n = np.unique(labels.pairs, return_inverse=True, return_counts=True)
    y = np.bincount(inv, weights=labels.y, minlength=u.shape[0]) / n
    return u, n.astype(np.float64), y


def fit_theta(state: SelectionState, labels: Labels | None, B: np.ndarray) -> np.ndarray:
    """theta_hat = argmax of the regularised BT log-likelihood (lambda = state.lam) on ``labels``;
    zeros when there are none (the maximiser of the prior term alone). B: (L, d) candidate differences."""
    u, n, y = pooled(labels, B.shape[0])
    if u.shape[0] == 0:
        return np.zeros(B.shape[1])
    return BradleyTerry(lam=state.lam).fit(B[u], y, sample_weight=n).coef_


def information(
    state: SelectionState, labels: Labels | None, B: np.ndarray, theta: np.ndarray | None = None
) -> np.ndarray:
    """V = lam I + sum_s b_s b_s^T (theta None), or H(theta) = lam I + sum_s sigma'(<theta, b_s>) b_s b_s^T."""
    u, n, _ = pooled(labels, B.shape[0])
    if theta is None:
        return design_matrix(B[u], state.lam, n)
    return logistic_hessian(theta, B[u], state.lam, n)


class RunningInverse:
    """A^{-1} and the leverages h_i = phi_i^T A^{-1} phi_i of all L candidates under rank-one updates.

    add(j, c): A <- A + c phi_j phi_j^T. With u = A^{-1} phi_j and den = 1 + c phi_j^T u (Sherman–Morrison):
        A^{-1} <- A^{-1} - (c / den) u u^T,    h <- h - (c / den) (Phi u)^2.
    O(L d) per update; the exact leverages are recomputed every ``refresh`` updates (round-off drift).

    Args:
        A: (d, d) symmetric positive definite (V or H; lam I > 0 keeps it so).
        Phi: (L, d) candidate differences.
    """

    def __init__(self, A: np.ndarray, Phi: np.ndarray, *, refresh: int = 256) -> None:
        self.A = np.array(A, dtype=np.float64)
        self.Phi = Phi
        self.refresh = refresh
        self._updates = 0
        self._exact()

    def _exact(self) -> None:
        A_inv = np.linalg.inv(self.A)  # d x d, SPD (lam I > 0): well conditioned enough for float64
        self.A_inv = 0.5 * (A_inv + A_inv.T)
        self.h = leverages(self.Phi, self.A_inv)

    def add(self, j: int, c: float = 1.0) -> None:
        """A <- A + c phi_j phi_j^T, updating A^{-1} and all leverages."""
        phi = self.Phi[j]
        self.A += c * np.outer(phi, phi)
        self._updates += 1
        if self._updates % self.refresh == 0:
            self._exact()
            return
        u = self.A_inv @ phi
        den = 1.0 + c * float(phi @ u)
        self.A_inv -= (c / den) * np.outer(u, u)
        self.h -= (c / den) * (self.Phi @ u) ** 2
        np.maximum(self.h, 0.0, out=self.h)  # a leverage is >= 0; round-off can dip below

    @property
    def width(self) -> np.ndarray:
        """(L,) ||phi_i||_{A^{-1}} = sqrt(h_i)."""
        return np.sqrt(self.h)


def check_distinct_budget(budget: int, L: int, allow_repeats: bool, name: str) -> None:
    """A batch of distinct pairs cannot ask for more labels than there are candidates."""
    if not allow_repeats and budget > L:
        raise SelectorError(
            f"budget: {name} labels each pair at most once per batch, so a batch can hold at most the "
            f"{L} candidate pairs of this pool; got {budget} (pass allow_repeats=True or a smaller batch)"
        )
