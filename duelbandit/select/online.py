"""Sequential (online) selectors: each batch depends on the labels seen so far (spec §7).

Every selector here refits the Bradley–Terry MLE theta_hat on the labels so far (``state.labels``, or the
labels received through ``update()``; theta = 0 and V = H = lam I before the first label), then picks a
batch of m pairs. Vectorised over all L candidates; the only Python loop is over the m picks. A batch
holds distinct pairs unless ``allow_repeats=True``. How the batch is spread differs by rule:

- the leverage rules (``apo``, ``apo_practical``, ``greedy_logdet``) update V or H inside the batch with
  each pick's rank-one term (Sherman–Morrison, :class:`~duelbandit.select.model.RunningInverse`): the
  batch's labels are not known yet, but the information they will bring is, so the batch diversifies;
- the margin rules (``min_margin``, ``certainty``) rank the candidates once by |<theta_hat, phi>| and take
  the top m: no in-batch update, no diversity (a batch can pile onto near-duplicate pairs).

The dueling-bandit rules ``maxinp`` and ``colstim`` (in-batch V updates too) are in
:mod:`duelbandit.select.dueling`, re-exported here.

Notation: phi = a_i - a_j the difference vector of a candidate pair, V = lam I + sum phi phi^T over the
labels, H(theta) = lam I + sum sigma'(<theta, phi>) phi phi^T, ||x||_A = sqrt(x^T A x).

- ``apo`` (Das et al. 2024): argmax ||phi||_{H^{-1}(theta_hat)}; in-batch H += sigma'(<theta_hat, phi>) phi phi^T.
- ``apo_practical`` (Das et al. 2024, practical variant): argmax ||phi||_{V^{-1}}; in-batch V += phi phi^T.
- ``greedy_logdet`` (Kveton et al. 2025, ADPO): argmax v^T H^{-1} v with v = sqrt(sigma'(<theta_hat, phi>)) phi,
  the log-det gain log(1 + v^T H^{-1} v) of adding the pair to the local information.
- ``min_margin``: argmin |<theta_hat, phi>|, the most uncertain predicted preference (margin-based
  uncertainty sampling). Formerly ``entropy`` (deprecated alias): it is not Muldrew et al.'s 2024
  predictive entropy, which is over the language model's generations, not a linear reward's margin.
- ``certainty`` (Muldrew et al. 2024, the certainty acquisition): argmax |<theta_hat, phi>|, the largest
  predicted reward gap.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from duelbandit.reward import sigmoid_prime
from duelbandit.rng import as_generator, seed_of
from duelbandit.select.base import Batch, SelectionState
from duelbandit.select.model import (
    RunningInverse,
    check_distinct_budget,
    differences,
    fit_theta,
    information,
    labels_in_use,
)
from duelbandit.select.offline import check_budget


def leverage_batch(
    B: np.ndarray,
    A: np.ndarray,
    m: int,
    *,
    curvature: np.ndarray | None = None,
    weight_score: bool = False,
    allow_repeats: bool = False,
) -> np.ndarray:
    """m greedy picks of argmax_i s_i h_i, h_i = phi_i^T A^{-1} phi_i, updating A in the batch.

    After each pick j: A <- A + c_j phi_j phi_j^T with c_j = curvature_j (H) or 1 (V, curvature None).
    s_i = curvature_i when ``weight_score`` (the log-det gain of v = sqrt(c) phi), else 1 (the norm).

    Args:
        B: (L, d) candidate differences.
        A: (d, d) the current V or H (positive definite).
        m: number of picks.
        curvature: (L,) sigma'(<theta_hat, phi_i>) or None.
        weight_score: score s_i h_i instead of h_i.
        allow_repeats: a pair may be picked again (its leverage has dropped after the update).

    Returns:
        (m,) candidate indices in pick order (repeats possible only with ``allow_repeats``).
    """
    run = RunningInverse(A, B)
    taken = np.zeros(B.shape[0], dtype=bool)
    picks = np.empty(m, dtype=np.int64)
    for t in range(m):
        score = run.h * curvature if (weight_score and curvature is not None) else run.h
        if not allow_repeats:
            score = np.where(taken, -np.inf, score)
        j = int(np.argmax(score))
        picks[t] = j
        taken[j] = True
        run.add(j, 1.0 if curvature is None else float(curvature[j]))
    return picks


@dataclass
class APOSelector:
    """Active Preference Optimisation: the pair whose predicted preference is least certain in the
    H-norm of the logistic model (Das et al. 2024, "Active Preference Optimization for Sample Efficient
    RLHF", Alg. 1):

        b_t = argmax_b ||b||_{H_t^{-1}(theta_hat_t)},  H_t(theta) = lam I + sum_s sigma'(<theta, b_s>) b_s b_s^T,

    theta_hat refitted after every batch; inside a batch H += sigma'(<theta_hat, b>) b b^T for each pick.

    Args:
        allow_repeats: allow a pair twice in one batch.
    """

    allow_repeats: bool = False
    name: str = "apo"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    norm = "H"

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        as_generator(rng)  # validated for the protocol; the rule itself draws nothing
        B = differences(state)
        check_distinct_budget(T, B.shape[0], self.allow_repeats, self.name)
        labels = labels_in_use(state, self._received)
        theta = fit_theta(state, labels, B)
        if self.norm == "H":
            A, curvature = information(state, labels, B, theta), sigmoid_prime(B @ theta)
        else:
            A, curvature = information(state, labels, B), None
        picks = leverage_batch(B, A, T, curvature=curvature, allow_repeats=self.allow_repeats)
        return Batch.from_indices(
            picks, selector=self.name, params={"allow_repeats": self.allow_repeats, "norm": self.norm},
            seed=seed_of(rng), info={"theta_norm": float(np.linalg.norm(theta)),
                                     "n_labels_seen": 0 if labels is None else len(labels)},
        )

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the next refit (used when ``state.labels`` is not given)."""
        self._received.append(labels)


@dataclass
class PracticalAPOSelector(APOSelector):
    """Practical APO (Das et al. 2024, the practical variant of APO): the V-norm instead of the H-norm,
    which needs no curvature (and so no estimate of kappa):  b_t = argmax_b ||b||_{V_t^{-1}},  V_t = lam I + sum_s b_s b_s^T;
    in-batch V += b b^T. With no labels it is greedy D-optimal augmentation from lam I."""

    name: str = "apo_practical"

    norm = "V"


@dataclass
class GreedyLogDetSelector:
    """Greedy local D-optimal selection (Kveton et al. 2025, "Active Learning for Direct Preference
    Optimization", ADPO): repeatedly pick, among the candidates not yet in the batch,

        argmax_b v_b^T H^{-1} v_b,   v_b = sqrt(sigma'(<theta_hat, b>)) b,

    i.e. the largest gain log det(H + v v^T) - log det H = log(1 + v^T H^{-1} v), then H += v v^T
    (Sherman–Morrison: O(L d) per pick over all L candidates). H = lam I + sum over labels of v v^T at the
    current theta_hat.

    Args:
        allow_repeats: allow a pair twice in one batch (the greedy log-det rule may then repeat a pair).
    """

    allow_repeats: bool = False
    name: str = "greedy_logdet"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        as_generator(rng)
        B = differences(state)
        check_distinct_budget(T, B.shape[0], self.allow_repeats, self.name)
        labels = labels_in_use(state, self._received)
        theta = fit_theta(state, labels, B)
        curvature = sigmoid_prime(B @ theta)
        picks = leverage_batch(B, information(state, labels, B, theta), T, curvature=curvature,
                               weight_score=True, allow_repeats=self.allow_repeats)
        return Batch.from_indices(
            picks, selector=self.name, params={"allow_repeats": self.allow_repeats}, seed=seed_of(rng),
            info={"theta_norm": float(np.linalg.norm(theta))},
        )

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the next refit (used when ``state.labels`` is not given)."""
        self._received.append(labels)


def _ranked(key: np.ndarray, m: int, gen: np.random.Generator) -> np.ndarray:
    """The m candidates of smallest key, exact ties broken uniformly at random (vectorised: one sort)."""
    return np.lexsort((gen.random(key.shape[0]), key))[:m]


@dataclass
class MinMarginSelector:
    """Most uncertain predicted preference, by margin (uncertainty sampling): the m distinct pairs of
    smallest |<theta_hat, b>|, i.e. of largest entropy of Bernoulli(sigma(<theta_hat, b>)). Ranked once,
    no in-batch update, so no diversity within a batch. No guarantee; with theta_hat = 0 (no labels) the
    batch is uniformly random over pairs. Near-duplicate responses (b ~ 0) always look uncertain: on pools
    with many of them this rule spends labels on them.

    Not Muldrew et al. 2024's "entropy" acquisition, which is the predictive entropy of the language
    model's own generations; this is the margin of the linear reward model (hence the name).
    """

    name: str = "min_margin"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    sign = 1.0

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        gen = as_generator(rng)
        B = differences(state)
        check_distinct_budget(T, B.shape[0], False, self.name)
        theta = fit_theta(state, labels_in_use(state, self._received), B)
        picks = _ranked(self.sign * np.abs(B @ theta), T, gen)
        return Batch.from_indices(picks, selector=self.name, params={}, seed=seed_of(rng),
                                  info={"theta_norm": float(np.linalg.norm(theta))})

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the next refit (used when ``state.labels`` is not given)."""
        self._received.append(labels)


@dataclass
class EntropySelector(MinMarginSelector):
    """Deprecated alias of :class:`MinMarginSelector` (``"entropy"``): same rule, same batches; warns
    once per construction. The name claimed Muldrew et al. 2024's generation entropy, which it is not."""

    name: str = "entropy"

    def __post_init__(self) -> None:
        warnings.warn(
            "selector 'entropy' is deprecated: it is argmin |<theta_hat, b>| (margin uncertainty "
            "sampling), now named 'min_margin'; use --selector min_margin / make_selector('min_margin')",
            DeprecationWarning, stacklevel=3,
        )


@dataclass
class CertaintySelector(MinMarginSelector):
    """Largest predicted reward gap (Muldrew et al. 2024, the "certainty" acquisition): the m distinct
    pairs of largest |<theta_hat, b>|. Cheap, no guarantee; random with no labels."""

    name: str = "certainty"

    sign = -1.0


# the dueling-bandit selectors moved to duelbandit.select.dueling; these names stay importable from here
from duelbandit.select.dueling import CoLSTIMSelector as CoLSTIMSelector  # noqa: E402
from duelbandit.select.dueling import MaxInPSelector as MaxInPSelector  # noqa: E402
from duelbandit.select.dueling import pair_index as pair_index  # noqa: E402
from duelbandit.select.dueling import prompt_blocks as prompt_blocks  # noqa: E402
