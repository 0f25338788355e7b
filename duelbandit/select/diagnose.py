"""How far from linear are the labels? A held-out test of the linear Bradley–Terry model against a flexible one.

Optimal designs (odpo) put the labels on a few extreme pairs; that pays when the reward is linear in the
features and can hurt when it is not (the fit on the extreme pairs extrapolates to the rest of the pool;
Wiens 2015, "Robustness of design", Handbook of Design and Analysis of Experiments, ch. 20; Lattimore,
Szepesvári & Weisz 2020, "Learning with good feature representations in bandits and in RL with a
generative model", §3: a G-optimal design pays sqrt(d) times the misspecification). This module measures
the misspecification from the labels in hand:

- linear model: BT on psi_i - psi_j (lambda = state.lam), the model every selector's guarantee assumes;
- flexible model: BT on f(x_i) - f(x_j), f(x) = [psi(x), phi(x)], phi = random Fourier features (Rahimi &
  Recht 2007; scikit-learn's ``RBFSampler``) of the top principal components of psi. It nests the linear
  model, so with enough labels it fits at least as well when the truth is linear, and better when it is not.

Both are fitted on K - 1 folds and scored on the held-out fold, with folds grouped by pair (a held-out
pair is never in the training folds, so repeats cannot leak). Per held-out label, delta_s = log p_flex(y_s)
- log p_lin(y_s); the estimate is the mean of delta and a normal 95% interval mean +- 1.96 sd / sqrt(n).
An interval above 0 is evidence that the reward is not linear in the features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import SelectorError
from duelbandit.reward import BradleyTerry
from duelbandit.rng import as_generator
from duelbandit.select.base import SelectionState
from duelbandit.types import Labels


@dataclass(frozen=True)
class Diagnosis:
    """The held-out log-likelihood gain of the flexible model over the linear one, per label (nats).

    Attributes:
        delta: mean over held-out labels of log p_flex(y) - log p_lin(y).
        se: its standard error.
        lo, hi: the 95% interval delta -+ 1.96 se.
        loglik_linear: mean held-out log-likelihood of the linear model per label.
        n_labels: labels scored.
        verdict: "misspecified" (lo > 0), "linear fits" (hi < margin: no evidence against linearity) or
            "inconclusive".
    """

    delta: float
    se: float
    lo: float
    hi: float
    loglik_linear: float
    n_labels: int
    verdict: str

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def _log_lik(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-label log-likelihood y log sigma(z) + (1 - y) log sigma(-z), stable."""
    return -(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z))


def flexible_features(X: np.ndarray, *, n_components: int = 64, n_pcs: int = 16,
                      rng: np.random.Generator | int = 0) -> np.ndarray:
    """f(x) = [psi(x), phi(x)] with phi the RBF random features of the top ``n_pcs`` principal components.

    The kernel width is the median squared distance between responses (the median heuristic), so the
    features bend on the scale the pool varies on. (R, d + n_components).
    """
    from sklearn.kernel_approximation import RBFSampler

    gen = as_generator(rng)
    Xc = X - X.mean(axis=0)
    k = min(n_pcs, X.shape[1])
    _, _, Vt = np.linalg.svd(Xc, full_matrices=False)
    Z = Xc @ Vt[:k].T
    sub = Z[gen.choice(Z.shape[0], size=min(Z.shape[0], 500), replace=False)]
    d2 = np.sum((sub[:, None, :] - sub[None, :, :]) ** 2, axis=-1)
    med = float(np.median(d2[np.triu_indices_from(d2, 1)])) if sub.shape[0] > 1 else 1.0
    phi = RBFSampler(gamma=1.0 / max(med, 1e-12), n_components=n_components,
                     random_state=int(gen.integers(2**31 - 1))).fit_transform(Z)
    return np.concatenate([X, phi], axis=1)


def misspecification(
    state: SelectionState,
    labels: Labels,
    *,
    folds: int = 5,
    margin: float = 0.002,
    max_dim: int = 128,
    rng: np.random.Generator | int = 0,
) -> Diagnosis:
    """Estimate misspecification from labels: held-out log-likelihood, flexible BT minus linear BT.

    Args:
        state: pool, features and lambda (the linear model's ridge; the flexible model uses the same).
        labels: the labels collected so far (at least 2 distinct pairs per fold).
        folds: K of the K-fold split (grouped by pair).
        margin: an interval entirely below this (nats per label) reads "linear fits".
        max_dim: above this dimension both models use the top ``max_dim`` principal components of psi
            (the test asks about the shape of the reward; it must cost little next to a round of labels).
        rng: fold assignment and random features.

    Returns:
        :class:`Diagnosis`.

    Raises:
        SelectorError: fewer distinct labelled pairs than 2 * folds.
    """
    gen = as_generator(rng)
    pairs = np.asarray(labels.pairs)
    u, inv = np.unique(pairs, return_inverse=True)
    if u.shape[0] < 2 * folds:
        raise SelectorError(f"labels: misspecification needs at least {2 * folds} distinct labelled pairs "
                            f"for {folds} folds, got {u.shape[0]}")
    X = np.asarray(state.features.X, dtype=np.float64)
    if X.shape[1] > max_dim:
        Xc = X - X.mean(axis=0)
        X = Xc @ np.linalg.svd(Xc, full_matrices=False)[2][:max_dim].T
    F = flexible_features(X, rng=gen)
    cand = state.candidates
    Bl = X[cand.i[u]] - X[cand.j[u]]
    Bf = F[cand.i[u]] - F[cand.j[u]]
    fold_of_pair = gen.permutation(u.shape[0]) % folds
    fold = fold_of_pair[inv]
    y = np.asarray(labels.y, dtype=np.float64)
    ll_lin = np.empty(y.shape[0])
    ll_flex = np.empty(y.shape[0])
    for k in range(folds):
        test = fold == k
        train_pairs = np.flatnonzero(fold_of_pair != k)
        # pool repeats of a pair into one weighted row with the mean label (the same likelihood)
        n = np.bincount(inv[~test], minlength=u.shape[0])[train_pairs].astype(np.float64)
        ybar = np.bincount(inv[~test], weights=y[~test], minlength=u.shape[0])[train_pairs] / np.maximum(n, 1)
        keep = n > 0
        tp = train_pairs[keep]
        for B, out in ((Bl, ll_lin), (Bf, ll_flex)):
            coef = BradleyTerry(lam=state.lam).fit(B[tp], ybar[keep], sample_weight=n[keep]).coef_
            out[test] = _log_lik(B[inv[test]] @ coef, y[test])
    diff = ll_flex - ll_lin
    delta = float(diff.mean())
    se = float(diff.std(ddof=1) / np.sqrt(diff.shape[0])) if diff.shape[0] > 1 else float("inf")
    lo, hi = delta - 1.96 * se, delta + 1.96 * se
    verdict = "misspecified" if lo > 0 else ("linear fits" if hi < margin else "inconclusive")
    return Diagnosis(delta=delta, se=se, lo=lo, hi=hi, loglik_linear=float(ll_lin.mean()),
                     n_labels=int(y.shape[0]), verdict=verdict)


def explain(diag: Diagnosis) -> str:
    """One plain paragraph: the estimate, its interval, and what it means for the selector and features."""
    head = (f"Misspecification check ({diag.n_labels} labels, 5-fold held out): a flexible reward model "
            f"predicts held-out labels {diag.delta:+.4f} nats/label better than the linear one "
            f"(95% interval {diag.lo:+.4f} to {diag.hi:+.4f}).")
    if diag.verdict == "misspecified":
        tail = (" The reward is not linear in these features. Optimal designs (odpo) concentrate labels on a "
                "few extreme pairs and can then do worse than uniform sampling; prefer `robust` (30% uniform, "
                "35% on each prompt's top-two pair under the fit) or `uniform`, or `two_phase` (it moves "
                "the rest of the budget to uniform on this evidence), and consider richer features (a "
                "transformer embedding, more PCA dimensions).")
    elif diag.verdict == "linear fits":
        tail = (" No evidence of misspecification at this label count: the flexible model does no better "
                "(it needs more labels than the linear one to show a non-linearity, so this is not proof of "
                "linearity; the judge's own accuracy, e.g. the fraction of best responses found, is the other "
                "check). If the reward is close to linear, `odpo` saves the most labels; `robust` keeps 30% "
                "of them uniform and 35% on contender pairs as insurance.")
    else:
        tail = (" The labels do not yet tell linear from non-linear; `robust` hedges (35% design, 30% "
                "uniform, 35% contender pairs). More labels narrow the interval.")
    return head + tail


def report_misspecification(state: SelectionState, labels: Labels | None, *, seed: int = 0) -> str:
    """The paragraph ``collect`` prints: :func:`explain` of :func:`misspecification` on the labels in hand,
    or why there is no estimate yet."""
    try:
        if labels is None or len(labels) == 0:
            raise SelectorError("no labels")
        return explain(misspecification(state, labels, rng=seed))
    except SelectorError:
        n = 0 if labels is None else len(labels)
        return (f"Misspecification check: {n} labels are too few to compare a linear reward model with a "
                "flexible one (it needs at least 10 distinct labelled pairs); `robust` hedges (35% design, "
                "30% uniform, 35% contender pairs) meanwhile.")


def explain_unlabelled(selector: str) -> str:
    """The paragraph ``select`` prints: no labels are in hand yet, so no estimate; what the choice means."""
    what = {
        "odpo": "odpo puts the labels on a few extreme pairs: best when the reward is linear in the features, "
                "and it can lose to uniform sampling when it is not",
        "robust": "robust puts 30% of the labels on uniform pairs, 35% on the design (odpo first, then, once "
                  "labels come back in rounds, the design at the fitted model) and 35% on each prompt's two "
                  "leading responses under the fit (uniform pairs until there is one): it keeps most of "
                  "the design's gain when the reward is linear in the features and gains over uniform when "
                  "it is not",
        "contenders": "contenders puts half the labels on uniform pairs and, once labels come back in rounds, "
                      "the rest on each prompt's two leading responses under the fitted model (in one call "
                      "without labels, all of them are uniform)",
    }.get(selector, f"{selector} does not adapt to misspecification")
    return (f"Misspecification check: no labels are in hand yet, so there is no estimate; {what}. "
            "`duelbandit collect` prints the held-out test of linear vs flexible reward models on its labels.")
