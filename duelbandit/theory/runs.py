"""The runs of the regret-bound verification: the real pipeline (selector -> collection loop -> simulated
Bradley–Terry annotator -> projected fit) on well-specified pools and on Theorem 3's hypercube, with every
quantity the proof bounds measured per run (see :mod:`duelbandit.theory.verify` for what is checked).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.linalg
from scipy.special import expit
from tqdm.auto import tqdm

from duelbandit.annotate import SimulatedBT
from duelbandit.data.synthetic import SyntheticPool
from duelbandit.design import leverages
from duelbandit.errors import DuelbanditError
from duelbandit.regret import greedy_policy, simple_regret
from duelbandit.reward import BradleyTerry, design_matrix, kappa, logistic_hessian
from duelbandit.select import SELECTORS, SelectionState, make_selector
from duelbandit.select.loop import collect
from duelbandit.select.model import pooled
from duelbandit.theory.bounds import (
    applicability,
    confidence_radius,
    corollary1_bound,
    corollary1_expected_bound,
    self_normalized_radius,
    theorem1_bound,
    theorem3_lower_bound,
)
from duelbandit.theory.instances import hypercube_regret, make_hypercube_instance

try:  # the set of label-independent selectors, when the select package declares it
    from duelbandit.select import OFFLINE as _OFFLINE
except ImportError:  # pragma: no cover - older select package
    _OFFLINE = frozenset({"uniform", "odpo"})


def T_grid(p: int, points: int, ratio: float) -> list[int]:
    """Log-spaced integer budgets from p to ceil(ratio * p) (distinct, increasing)."""
    raw = np.round(p * ratio ** (np.arange(points) / (points - 1)))
    return sorted({int(max(1, t)) for t in raw})



# ---------------------------------------------------------------------------------------------------
# one run


def _label(state: SelectionState, selector, theta_star: np.ndarray, T: int, seed: int, batch: int):
    """T labels from ``selector`` through the collection loop (rounds of ``batch``), BT annotator."""
    def annotator(gen: np.random.Generator, _labels) -> SimulatedBT:
        return SimulatedBT(theta_star, state.pool, state.features, rng=gen)

    return collect(state, selector, annotator, budget=T, batch_size=batch, seed=seed, verbose=False).labels


def fit_projected(B: np.ndarray, labels, *, lam: float, S: float) -> tuple[BradleyTerry, np.ndarray]:
    """The theorem's estimator on ``labels`` (repeats pooled, which leaves the likelihood unchanged) and
    V = lam I + sum_s b_s b_s^T over the labels (with repeats)."""
    u, n, y = pooled(labels, B.shape[0])
    model = BradleyTerry(lam=lam, S=S).fit(B[u], y, sample_weight=n)
    return model, design_matrix(B[u], lam, n)


def theorem1_threshold(d: int, *, lam: float, delta: float, eps: float, S: float, support: int,
                       cap: int = 10**9) -> int | None:
    """The smallest T > p at which :func:`theorem1_bound` drops below 2, the largest simple regret possible
    under H1 (||psi|| <= 1, ||theta*|| <= 1): below it the bound is vacuous and cannot be violated. The
    bound decreases in T once T >> p; bisection from p + 1 to ``cap`` (None when even ``cap`` is vacuous)."""
    def bound(T: int) -> float:
        return theorem1_bound(T, d, lam=lam, delta=delta, eps=eps, S=S, support=support)

    lo, hi = support + 1, max(support + 2, 2)
    while bound(hi) >= 2.0:
        if hi >= cap:
            return None
        lo, hi = hi, min(cap, 2 * hi)
    while hi - lo > 1:  # bound(lo) >= 2 > bound(hi) (or lo is p + 1)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if bound(mid) >= 2.0 else (lo, mid)
    return hi if bound(lo) >= 2.0 else lo


def run_measures(B: np.ndarray, labels, model: BradleyTerry, V: np.ndarray, theta: np.ndarray, *,
                 lam: float) -> dict:
    """Quantities of one run that checks at their nominal level can catch errors with (issue 13, item 10).

    - ``h_err2`` = ||theta_hat - theta*||^2_{H(theta*)} for the unprojected MLE, H(theta*) = lam I +
      sum_s sigma'(<theta*, b_s>) b_s b_s^T: asymptotically chi^2_d, so it is below chi2_d(1 - delta) in a
      fraction 1 - delta of the runs if the estimator is calibrated (a biased fit drops the coverage).
    - ``curv_ratio`` = ||theta^P - theta*||_V / ||g(theta^P) - g(theta*)||_{V^-1}, g(theta) = lam theta +
      sum_s sigma(<theta, b_s>) b_s: the step of Lemma 2's proof that costs kappa. By the mean-value
      theorem g(t1) - g(t2) = G (t1 - t2) with G >= V / kappa(S) when |<theta, b>| <= 2 S on the segment,
      so the ratio is <= kappa(S) on every run; a wrong kappa shows up as violations.
    """
    u, n, _ = pooled(labels, B.shape[0])
    Bu = B[u]
    err_mle = model.coef_unprojected_ - theta
    H_star = logistic_hessian(theta, Bu, lam, n)
    err = model.coef_ - theta
    dg = lam * err + Bu.T @ (n * (expit(Bu @ model.coef_) - expit(Bu @ theta)))
    g_norm = math.sqrt(max(float(dg @ scipy.linalg.cho_solve(scipy.linalg.cho_factor(V), dg)), 0.0))
    v_norm = math.sqrt(max(float(err @ V @ err), 0.0))
    return {"h_err2": float(err_mle @ H_star @ err_mle),
            "curv_ratio": v_norm / g_norm if g_norm > 0 else 0.0}


def _batch_size(name: str, T: int, L: int, rounds: int) -> int:
    """Offline selectors: the whole budget in one round. Adaptive ones: ``rounds`` rounds, each at most L
    labels (a selector that labels a pair once per batch cannot ask for more)."""
    return T if name in _OFFLINE else max(1, min(L, math.ceil(T / rounds)))


def _make(name: str, total: int):
    """A fresh selector by name; one that plans over a total budget (two_stage) is told T."""
    cls = SELECTORS[name]
    fields = {f.name for f in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else set()
    return make_selector(name, total=total) if "total" in fields else make_selector(name)


# ---------------------------------------------------------------------------------------------------
# well-specified pools


def verify_well_specified(
    instance: SyntheticPool,
    *,
    Ts: list[int] | None = None,
    selectors: tuple[str, ...] = ("odpo", "uniform"),
    seeds: int = 20,
    S: float = 1.0,
    delta: float = 0.05,
    grid_points: int = 9,
    grid_ratio: float = 1000.0,
    theorem1_factors: tuple[float, ...] = (1.25, 4.0),
    theorem1_max_T: int = 2_000_000,
    seed: int = 0,
    verbose: bool = False,
) -> list[dict]:
    """Run every selector at every T and seed on one pool; one dict per (selector, T) cell.

    Each cell holds per-seed lists (E_T, E_T of the unprojected MLE, ||theta^P - theta*||_V, max_b
    ||b||^2_{V^{-1}}, max and mean regret over prompts, projection flags, and :func:`run_measures`) and the
    bounds that apply there (None when not, with the reasons under ``applicability``).

    Args:
        instance: a pool with known theta* (make_synthetic_pool, or any :class:`SyntheticPool`).
        Ts: budgets; None = :func:`T_grid` from odpo's support size.
        selectors: names in ``duelbandit.select.SELECTORS``.
        seeds: runs per cell (seed index s uses collect seed ``seed + s`` for every selector and T).
        S: projection radius of the fit and the bounds' norm bound.
        delta: failure probability.
        grid_points, grid_ratio: the grid when ``Ts`` is None.
        theorem1_factors, theorem1_max_T: odpo also runs at T = factor x the threshold where Theorem 1
            stops being vacuous (:func:`theorem1_threshold`), up to ``theorem1_max_T``; those cells carry
            ``extra=True`` and stay out of the slope fits.
        seed: base seed.
        verbose: progress bar.
    """
    pool, X, theta = instance.pool, instance.features.X.astype(np.float64), instance.theta_star
    d = X.shape[1]
    lam = 1.0 / d
    state = SelectionState(pool=pool, features=instance.features, lam=lam)
    B = state.candidates.differences(X).astype(np.float64)
    odpo = make_selector("odpo")
    design = odpo.design(B)
    cert = design.certificate
    p, eps = int(cert.support_size), float(cert.max_leverage_over_d) - 1.0
    g_max = float(cert.max_leverage_over_d) * cert.dim
    if Ts is None:
        Ts = T_grid(p, grid_points, grid_ratio)
    max_norm = float(np.linalg.norm(X, axis=1).max())
    cells = []
    jobs = [(name, T, False) for name in selectors for T in Ts]
    threshold = theorem1_threshold(d, lam=lam, delta=delta, eps=eps, S=S, support=p) if "odpo" in selectors \
        else None
    if threshold is not None:  # grid points where Theorem 1 is not vacuous, so a violation is possible
        jobs += [("odpo", T, True) for T in sorted({math.ceil(f * threshold) for f in theorem1_factors})
                 if T <= theorem1_max_T and T not in Ts]
    for name, T, extra in tqdm(jobs, desc=f"well-specified d={d}", disable=not verbose, leave=False):
        is_odpo = name == "odpo"
        app = applicability(d=d, T=T, S=S, max_feature_norm=max_norm, theta_norm=float(np.linalg.norm(theta)),
                            lam=lam, delta=delta, design_eps=eps if is_odpo else None,
                            support=p if is_odpo else None, offline=name in _OFFLINE)
        cell: dict = {"selector": name, "d": d, "T": int(T), "support": p, "design_eps": eps,
                      "extra": extra, "theorem1_threshold": threshold, "kappa": kappa(S),
                      "applicability": {k: list(v.reasons) for k, v in app.items()},
                      "radius": confidence_radius(T, d, lam=lam, delta=delta, S=S),
                      "radius_derived": self_normalized_radius(T, d, lam=lam, delta=delta, S=S),
                      "theorem1": None, "corollary1": None, "corollary1_expected": None,
                      "leverage_bound": g_max / (T - p) if is_odpo and T > p else None}
        if app["theorem1"].applies:
            cell["theorem1"] = theorem1_bound(T, d, lam=lam, delta=delta, eps=eps, S=S, support=p)
        if app["corollary1"].applies:
            cell["corollary1"] = corollary1_bound(T, d, delta=delta, support=p)
            cell["corollary1_expected"] = corollary1_expected_bound(T - p, d)
        keys = ("E_T", "E_T_mle", "v_err", "max_lev", "regret_max", "regret_mean", "theta_norm_mle", "h_err2",
                "curv_ratio")
        runs: dict[str, list] = {k: [] for k in (*keys, "projected")}
        selector = odpo if is_odpo else None  # odpo keeps its (label-free) design cached across runs
        for s in range(seeds):
            sel = selector if selector is not None else _make(name, T)
            labels = _label(state, sel, theta, T, seed + s, _batch_size(name, T, B.shape[0], 8))
            model, V = fit_projected(B, labels, lam=lam, S=S)
            err = model.coef_ - theta
            V_inv = scipy.linalg.cho_solve(scipy.linalg.cho_factor(V), np.eye(d))
            reg = simple_regret(instance.rewards, greedy_policy(model.coef_, X, pool), pool)
            runs["E_T"].append(float(np.abs(B @ err).max()))
            runs["E_T_mle"].append(float(np.abs(B @ (model.coef_unprojected_ - theta)).max()))
            runs["v_err"].append(float(np.sqrt(max(err @ V @ err, 0.0))))
            runs["max_lev"].append(float(leverages(B, V_inv).max()))
            runs["regret_max"].append(reg.max)
            runs["regret_mean"].append(reg.mean)
            runs["theta_norm_mle"].append(float(np.linalg.norm(model.coef_unprojected_)))
            runs["projected"].append(bool(model.projected_))
            for k, v in run_measures(B, labels, model, V, theta, lam=lam).items():
                runs[k].append(v)
        cell.update(runs)
        cells.append(cell)
    return cells


# ---------------------------------------------------------------------------------------------------
# the hypercube instance


def verify_hypercube(
    cells: list[tuple[int, int]],
    *,
    selectors: tuple[str, ...] | None = None,
    seeds: int = 20,
    rounds: int = 8,
    n_responses: int = 8,
    S: float = 1.0,
    delta: float = 0.05,
    seed: int = 0,
    verbose: bool = False,
) -> list[dict]:
    """Every selector on Theorem 3's instance at each (d, T): the cube regret per random sign vector.

    Sign vector s of cell (d, T) is drawn from seed ``seed + s`` (every selector faces the same instances).
    Offline selectors get the budget in one round; adaptive ones in ``rounds`` rounds (at most one pass
    over the candidates per round when they label a pair at most once per batch).

    Returns:
        One dict per (selector, d, T): per-seed ``regret`` (the cube's, :func:`hypercube_regret`), the lower
        bound, the Theorem 1 value for scale, and the applicability reasons. A selector that refuses the
        pool (a :class:`~duelbandit.errors.DuelbanditError`) gets ``error`` set and no regret.
    """
    names = tuple(SELECTORS) if selectors is None else tuple(selectors)
    out = []
    jobs = [(d, T, name) for d, T in cells for name in names]
    insts: dict[tuple[int, int, int], object] = {}
    for d, T, name in tqdm(jobs, desc="hypercube", disable=not verbose, leave=False):
        regret, projected, support, eps, error = [], [], None, None, None
        for s in range(seeds):
            key = (d, T, s)
            if key not in insts:
                insts[key] = make_hypercube_instance(d, T, rng=seed + 7919 * s + 104729 * d + T,
                                                     n_responses=n_responses)
            inst = insts[key]
            state = SelectionState(pool=inst.pool, features=inst.features, lam=1.0 / d)
            sel = _make(name, T)
            batch = _batch_size(name, T, inst.pool.n_pairs, rounds)
            try:
                labels = _label(state, sel, inst.theta_star, T, seed + s, batch)
            except DuelbanditError as exc:  # a selector that cannot run on this pool is reported, not fatal
                error = f"{type(exc).__name__}: {exc}"
                regret, projected = [], []
                break
            B = state.candidates.differences(inst.features.X)
            model, _ = fit_projected(B, labels, lam=1.0 / d, S=S)
            regret.append(hypercube_regret(model.coef_, inst.theta_star))
            projected.append(bool(model.projected_))
            if name == "odpo" and support is None:
                cert = sel.design(B.astype(np.float64)).certificate
                support, eps = int(cert.support_size), float(cert.max_leverage_over_d) - 1.0
        app = applicability(d=d, T=T, S=S, max_feature_norm=1.0, theta_norm=d / math.sqrt(T), lam=1.0 / d,
                            delta=delta, offline=name in _OFFLINE, hard_instance=True,
                            design_eps=eps, support=support)
        theorem1 = None
        if support is not None and T > support:
            theorem1 = theorem1_bound(T, d, lam=1.0 / d, delta=delta, eps=eps, S=S, support=support)
        out.append({"selector": name, "d": d, "T": T, "regret": regret, "projected": projected,
                    "lower_bound": theorem3_lower_bound(T, d), "theorem1_scale": theorem1,
                    "offline": name in _OFFLINE, "error": error,
                    "applicability": {"theorem3": list(app["theorem3"].reasons)}})
    return out
