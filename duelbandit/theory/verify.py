"""Regret-bound verification: the bounds of :mod:`duelbandit.theory.bounds` against runs of the real pipeline.

What has which rate (docs/concepts/bounds.md). On a FIXED well-specified instance with finitely many
responses per prompt the simple regret hits exactly 0 once every prompt is ranked right, so its log-log
slope is gap-dependent and not -1/2. What decays like sqrt(d/T) on any fixed instance is what the proof
bounds, so that is what is measured there:

- the worst-case prediction error E_T = max_b |<theta^P - theta*, b>| over every candidate difference b,
  and its log-log slope in T (target -1/2), with a cluster-bootstrap confidence interval over seeds;
- every link of the proof's chain R <= E_T <= ||theta^P - theta*||_V max_b ||b||_{V^{-1}} <= Theorem 1:
  the ellipsoid ||theta^P - theta*||_V <= beta_T (Lemma 2) must hold in >= 1 - delta of the runs (coverage),
  max_b ||b||^2_{V^{-1}} <= g_max / (T - p) always (ODPO), and the simple regret (max over prompts) must
  stay below Theorem 1 on every run (violations);
- on the hypercube instance of Theorem 3, whose gaps shrink like 1/sqrt(T) by construction, the regret
  itself: every selector's mean over random sign vectors against the lower bound d e^-5 / (4 sqrt(T)), its
  slope in T (target -1/2) and its growth in d (target +1).

theta^P is the theorem's estimator: the ridge MLE (lambda = 1/d) projected onto ||theta|| <= S when it is
outside (:class:`duelbandit.reward.BradleyTerry` with ``S``); how often the projection was active is
reported, and so is E_T of the unprojected MLE. Every comparison first asks
:func:`duelbandit.theory.bounds.applicability`; a bound whose assumptions fail is reported as "not applicable,
because ..." and left out of the counts.

Entry points: :func:`run_verification` (config -> JSON-ready dict) here, and
:func:`duelbandit.theory.report.write_outputs` (verify.json, verify.md and the PNGs; re-exported here with
``verdict_lines`` and ``plot_all``). ``duelbandit verify-bounds`` and ``benchmarks/verify_bounds.py`` call
them.
"""

from __future__ import annotations

import dataclasses
import math
import platform
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.linalg
from tqdm.auto import tqdm

from duelbandit.annotate import SimulatedBT
from duelbandit.theory.bounds import (
    applicability,
    confidence_radius,
    corollary1_bound,
    corollary1_expected_bound,
    self_normalized_radius,
    theorem1_bound,
    theorem3_lower_bound,
    upper_lower_ratio,
)
from duelbandit.design import leverages
from duelbandit.errors import ConfigError, DuelbanditError
from duelbandit.regret import greedy_policy, simple_regret
from duelbandit.reward import BradleyTerry, design_matrix
from duelbandit.select import SELECTORS, SelectionState, make_selector
from duelbandit.select.loop import collect
from duelbandit.select.model import pooled
from duelbandit.data.synthetic import SyntheticPool, make_synthetic_pool
from duelbandit.theory.instances import hypercube_regret, make_hypercube_instance
from duelbandit.theory.report import plot_all  # the report lives in verify_report; re-exported here
from duelbandit.theory.report import verdict_lines
from duelbandit.theory.report import write_outputs

try:  # the set of label-independent selectors, when the select package declares it
    from duelbandit.select import OFFLINE as _OFFLINE
except ImportError:  # pragma: no cover - older select package
    _OFFLINE = frozenset({"uniform", "odpo"})


@dataclass(frozen=True)
class VerifyConfig:
    """What the verification runs (defaults: the full run; :func:`quick_config` for a smoke run).

    Attributes:
        dims: dimensions of the well-specified pools.
        grid_points: T values per d, log-spaced from the design's support size p to grid_ratio * p.
        grid_ratio: top of the T grid over p (>= 100).
        seeds: seeds per (selector, d, T) on the well-specified pools (label noise, uniform's draws).
        selectors: selectors on the well-specified pools (odpo is the one Theorem 1 is about).
        n_prompts, n_responses, kind, S: the well-specified pools (make_synthetic_pool); S is also the
            projection radius of the fit.
        delta: failure probability of the high-probability statements.
        hard_dim: d of the hypercube T-sweep.
        hard_T_factors: the T-sweep's budgets, T = factor * hard_dim^2 (the theorem needs T >= d^2).
        hard_dims: d of the hypercube d-sweep, at T = hard_T (>= max(hard_dims)^2).
        hard_T: budget of the d-sweep.
        hard_seeds: random sign vectors per hypercube cell.
        hard_selectors: selectors on the hypercube; None = every selector in ``duelbandit.select.SELECTORS``.
        hard_rounds: rounds for adaptive selectors (offline ones get the whole budget in one round).
        hard_responses: vertices per query set of the hypercube pool (query sets: d).
        bootstrap: bootstrap resamples for the confidence intervals.
        level: confidence level of the intervals.
        seed: base seed; everything is a deterministic function of it.
    """

    dims: tuple[int, ...] = (2, 4, 8, 16, 32)
    grid_points: int = 9
    grid_ratio: float = 1000.0
    seeds: int = 20
    selectors: tuple[str, ...] = ("odpo", "uniform")
    n_prompts: int = 200
    n_responses: int = 4
    kind: str = "isotropic"
    S: float = 1.0
    delta: float = 0.05
    hard_dim: int = 16
    hard_T_factors: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    hard_dims: tuple[int, ...] = (2, 4, 8, 16, 32)
    hard_T: int = 4096
    hard_seeds: int = 20
    hard_selectors: tuple[str, ...] | None = None
    hard_rounds: int = 8
    hard_responses: int = 8
    bootstrap: int = 2000
    level: float = 0.95
    seed: int = 0

    def check(self) -> None:
        """Validate once, naming the field."""
        if not self.dims or any(d < 1 for d in self.dims):
            raise ConfigError(f"dims: expected dimensions >= 1, got {self.dims!r}")
        if self.grid_points < 2 or self.grid_ratio <= 1:
            raise ConfigError(f"grid_points >= 2 and grid_ratio > 1 expected, got {self.grid_points}, "
                              f"{self.grid_ratio}")
        if self.seeds < 2 or self.hard_seeds < 2:
            raise ConfigError(f"seeds, hard_seeds: expected >= 2 (a spread needs two), got {self.seeds}, "
                              f"{self.hard_seeds}")
        if not 0 < self.delta < 1 or not 0 < self.level < 1:
            raise ConfigError(f"delta, level: expected values in (0, 1), got {self.delta}, {self.level}")
        if self.hard_T < max(self.hard_dims) ** 2:
            raise ConfigError(f"hard_T: expected >= max(hard_dims)^2 = {max(self.hard_dims) ** 2} "
                              f"(Theorem 3's T >= d^2, and ||theta*|| <= 1), got {self.hard_T}")
        unknown = [s for s in (*self.selectors, *(self.hard_selectors or ())) if s not in SELECTORS]
        if unknown:
            raise ConfigError(f"selectors: unknown {unknown}; expected names from {sorted(SELECTORS)}")


def quick_config(seed: int = 0) -> VerifyConfig:
    """A smoke run (< 1 minute on 2 cores): small grids and few seeds, every selector on the hypercube."""
    return VerifyConfig(dims=(2, 4, 8), grid_points=4, grid_ratio=1000.0, seeds=6, n_prompts=60,
                        hard_dim=16, hard_T_factors=(1, 4), hard_dims=(4, 16), hard_T=256, hard_seeds=4,
                        hard_rounds=4, bootstrap=400, seed=seed)


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
    seed: int = 0,
    verbose: bool = False,
) -> list[dict]:
    """Run every selector at every T and seed on one pool; one dict per (selector, T) cell.

    Each cell holds per-seed lists (E_T, E_T of the unprojected MLE, ||theta^P - theta*||_V, max_b
    ||b||^2_{V^{-1}}, max and mean regret over prompts, projection flags) and the bounds that apply there
    (None when not, with the reasons under ``applicability``).

    Args:
        instance: a pool with known theta* (make_synthetic_pool, or any :class:`SyntheticPool`).
        Ts: budgets; None = :func:`T_grid` from odpo's support size.
        selectors: names in ``duelbandit.select.SELECTORS``.
        seeds: runs per cell (seed index s uses collect seed ``seed + s`` for every selector and T).
        S: projection radius of the fit and the bounds' norm bound.
        delta: failure probability.
        grid_points, grid_ratio: the grid when ``Ts`` is None.
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
    jobs = [(name, T) for name in selectors for T in Ts]
    for name, T in tqdm(jobs, desc=f"well-specified d={d}", disable=not verbose, leave=False):
        is_odpo = name == "odpo"
        app = applicability(d=d, T=T, S=S, max_feature_norm=max_norm, theta_norm=float(np.linalg.norm(theta)),
                            lam=lam, delta=delta, design_eps=eps if is_odpo else None,
                            support=p if is_odpo else None, offline=name in _OFFLINE)
        cell: dict = {"selector": name, "d": d, "T": int(T), "support": p, "design_eps": eps,
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
        keys = ("E_T", "E_T_mle", "v_err", "max_lev", "regret_max", "regret_mean", "theta_norm_mle")
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


# ---------------------------------------------------------------------------------------------------
# statistics


def _ols_slope(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> float:
    """Least-squares slope of y on x (with one intercept per group when ``groups`` is given)."""
    if groups is None:
        groups = np.zeros(x.shape[0], dtype=np.int64)
    xc, yc = x.astype(np.float64).copy(), y.astype(np.float64).copy()
    for g in np.unique(groups):
        m = groups == g
        xc[m] -= xc[m].mean()
        yc[m] -= yc[m].mean()
    den = float(xc @ xc)
    return float(xc @ yc / den) if den > 0 else float("nan")


def slope_with_ci(
    values: dict[int, np.ndarray], xs: dict[int, np.ndarray], *, boot: int, level: float,
    gen: np.random.Generator, of_mean: bool = False,
) -> dict:
    """Log-log slope of a per-seed quantity against x, pooled over groups (one intercept per group), with a
    cluster bootstrap over seed indices (the same resample for every group and x: runs of one seed index
    share their randomness).

    Args:
        values: group -> (n_seeds, n_x) positive values.
        xs: group -> (n_x,) abscissae (T, or d).
        boot, level, gen: bootstrap resamples, confidence level, Generator.
        of_mean: fit log(mean over seeds) instead of every log value (for quantities that can be 0,
            such as a regret).

    Returns:
        {"slope", "ci": [lo, hi], "n_boot_used"}.
    """
    n_seeds = next(iter(values.values())).shape[0]

    def fit(idx: np.ndarray) -> float:
        xx, yy, gg = [], [], []
        for g, v in values.items():
            sub = v[idx]
            if of_mean:
                m = sub.mean(axis=0)
                if np.any(m <= 0):
                    return float("nan")
                xx.append(np.log(xs[g]))
                yy.append(np.log(m))
                gg.append(np.full(m.shape[0], g))
            else:
                xx.append(np.tile(np.log(xs[g]), sub.shape[0]))
                yy.append(np.log(np.maximum(sub, 1e-300)).ravel())
                gg.append(np.full(sub.size, g))
        return _ols_slope(np.concatenate(xx), np.concatenate(yy), np.concatenate(gg))

    est = fit(np.arange(n_seeds))
    draws = np.array([fit(gen.integers(0, n_seeds, size=n_seeds)) for _ in range(boot)])
    draws = draws[np.isfinite(draws)]
    a = (1.0 - level) / 2
    ci = [float(np.quantile(draws, a)), float(np.quantile(draws, 1 - a))] if draws.size else [None, None]
    return {"slope": est, "ci": ci, "n_boot_used": int(draws.size)}


def summarise(ws: list[dict], hard: list[dict], config: VerifyConfig) -> dict:
    """The verdicts (JSON-ready): slopes with intervals, coverage, violations, lower bound, assumptions."""
    gen = np.random.default_rng(config.seed + 99)
    delta = config.delta
    out: dict = {}
    # --- E_T slopes on the well-specified pools
    slopes: dict = {}
    for name in config.selectors:
        for key in ("E_T", "E_T_mle"):
            vals, xs = {}, {}
            for d in config.dims:
                cs = sorted((c for c in ws if c["selector"] == name and c["d"] == d), key=lambda c: c["T"])
                if cs:
                    vals[d] = np.array([c[key] for c in cs]).T
                    xs[d] = np.array([c["T"] for c in cs], dtype=np.float64)
            ci = {"boot": config.bootstrap, "level": config.level, "gen": gen}
            pooled_fit = slope_with_ci(vals, xs, **ci)
            per_d = {str(d): slope_with_ci({d: vals[d]}, {d: xs[d]}, **ci) for d in vals}
            # the upper half of each grid: past the regime where the projection caps the error
            half = {d: xs[d].shape[0] // 2 for d in vals}
            upper_fit = slope_with_ci({d: vals[d][:, half[d]:] for d in vals},
                                      {d: xs[d][half[d]:] for d in vals},
                                      **ci)
            # the same runs, only T <= 100 p (the least the issue asks for): how much the range matters
            low = {d: xs[d] <= 100.0 * xs[d][0] * (1 + 1e-9) for d in vals}
            low_fit = slope_with_ci({d: vals[d][:, low[d]] for d in vals if low[d].sum() >= 2},
                                    {d: xs[d][low[d]] for d in vals if low[d].sum() >= 2}, **ci)
            slopes[f"{name}/{key}"] = {"pooled": pooled_fit, "per_d": per_d, "upper_half": upper_fit,
                                       "T_up_to_100p": low_fit}
    main = slopes.get("odpo/E_T") or next(iter(slopes.values()))
    out["slope"] = main["pooled"]["slope"]
    out["slope_ci"] = main["pooled"]["ci"]
    out["slope_target"] = [-0.6, -0.4]
    out["slopes"] = slopes
    # --- coverage, violations, chain
    cov_hit = cov_n = 0
    coverage_by: dict = {}
    viol = viol_n = cor_viol = cor_n = exp_viol = exp_n = 0
    chain_fail = lev_fail = lev_n = 0
    tight = []
    vacuous = Counter()
    for c in ws:
        v_err = np.array(c["v_err"])
        if not c["applicability"]["lemma2"]:
            hit = v_err <= c["radius"]
            cov_hit += int(hit.sum())
            cov_n += hit.size
            b = coverage_by.setdefault(c["selector"], [0, 0])
            b[0] += int(hit.sum())
            b[1] += hit.size
            tight.append(float(np.quantile(v_err, 1 - delta)) / c["radius"])
        reg = np.array(c["regret_max"])
        E = np.array(c["E_T"])
        chain = v_err * np.sqrt(np.array(c["max_lev"]))
        chain_fail += int(np.sum(reg > E * (1 + 1e-9) + 1e-12) + np.sum(E > chain * (1 + 1e-9) + 1e-12))
        if c["theorem1"] is not None:
            viol += int(np.sum(reg > c["theorem1"]))
            viol_n += reg.size
            vacuous["theorem1 >= 2 (vacuous)" if c["theorem1"] >= 2 else "theorem1 < 2"] += 1
        if c["corollary1"] is not None:
            cor_viol += int(np.sum(reg > c["corollary1"]))
            cor_n += reg.size
            exp_viol += int(reg.mean() > c["corollary1_expected"])
            exp_n += 1
        if c["leverage_bound"] is not None:
            lev_fail += int(np.sum(np.array(c["max_lev"]) > c["leverage_bound"] * (1 + 1e-9)))
            lev_n += len(c["max_lev"])
    out["coverage"] = cov_hit / cov_n if cov_n else None
    out["coverage_target"] = 1 - delta
    out["coverage_by_selector"] = {k: v[0] / v[1] for k, v in coverage_by.items()}
    out["coverage_runs"] = cov_n
    out["radius_tightness"] = {"quantile": 1 - delta, "max_over_cells": max(tight) if tight else None,
                               "median_over_cells": float(np.median(tight)) if tight else None,
                               "note": "(1 - delta)-quantile of ||theta^P - theta*||_V over seeds / beta_T"}
    out["violations"] = viol
    out["violations_runs"] = viol_n
    out["corollary1_violations"] = cor_viol
    out["corollary1_expected_violations"] = {"cells": exp_viol, "of": exp_n}
    out["chain_violations"] = chain_fail
    out["leverage_link_violations"] = {"runs": lev_fail, "of": lev_n}
    out["theorem1_cells"] = dict(vacuous)
    proj = [x for c in ws for x in c["projected"]]
    out["projection_active"] = float(np.mean(proj)) if proj else None
    # --- hypercube
    hs: dict = {}
    failed = [{k: c[k] for k in ("selector", "d", "T", "error")} for c in hard if c.get("error")]
    hard = [c for c in hard if c["regret"]]
    names = list(dict.fromkeys(c["selector"] for c in hard))
    t_cells = [c for c in hard if c["d"] == config.hard_dim]
    d_cells = [c for c in hard if c["T"] == config.hard_T]
    for name in names:
        tc = sorted((c for c in t_cells if c["selector"] == name), key=lambda c: c["T"])
        dc = sorted((c for c in d_cells if c["selector"] == name), key=lambda c: c["d"])
        entry: dict = {"offline": name in _OFFLINE}
        if len(tc) >= 2:
            entry["slope_T"] = slope_with_ci({0: np.array([c["regret"] for c in tc]).T},
                                             {0: np.array([c["T"] for c in tc], dtype=np.float64)},
                                             boot=config.bootstrap, level=config.level, gen=gen, of_mean=True)
        if len(dc) >= 2:
            entry["slope_d"] = slope_with_ci({0: np.array([c["regret"] for c in dc]).T},
                                             {0: np.array([c["d"] for c in dc], dtype=np.float64)},
                                             boot=config.bootstrap, level=config.level, gen=gen, of_mean=True)
        hs[name] = entry
    out["hard_slope"] = hs.get("odpo", {}).get("slope_T", {}).get("slope")
    out["hard_slope_ci"] = hs.get("odpo", {}).get("slope_T", {}).get("ci")
    out["hard_d_slope"] = hs.get("odpo", {}).get("slope_d", {}).get("slope")
    out["hard"] = hs
    out["hard_failed"] = failed
    lb_cells, lb_ok, lb_all_ok, ratios = 0, True, True, []
    below = []
    for c in hard:
        m = float(np.mean(c["regret"]))
        c_ok = m >= c["lower_bound"]
        covered = not c["applicability"]["theorem3"]
        if covered:
            lb_cells += 1
            lb_ok &= c_ok
        elif c["d"] >= 16 and c["T"] >= c["d"] ** 2:
            lb_all_ok &= c_ok
        if not c_ok:
            below.append({"selector": c["selector"], "d": c["d"], "T": c["T"], "mean_regret": m,
                          "lower_bound": c["lower_bound"], "covered_by_theorem3": covered})
        if c["d"] >= 16:
            ratios.append(m / c["lower_bound"])
    out["lower_bound_respected"] = bool(lb_ok) if lb_cells else None
    out["lower_bound_cells"] = lb_cells
    out["lower_bound_respected_adaptive"] = bool(lb_all_ok)
    out["below_lower_bound"] = below
    out["regret_over_lower_bound"] = {"min": min(ratios), "max": max(ratios)} if ratios else None
    # --- constants and assumptions
    out["upper_lower_ratio"] = {str(T): upper_lower_ratio(T, 16, delta=delta) for T in (256, 4096, 65536)}
    na: dict = {}
    for c in ws + hard:
        for bound, reasons in c["applicability"].items():
            for r in reasons:
                na.setdefault(bound, Counter())[r] += 1
    out["not_applicable"] = {b: dict(cn) for b, cn in na.items()}
    out["runs"] = sum(len(c["E_T"]) for c in ws) + sum(len(c["regret"]) for c in hard)
    return out


# ---------------------------------------------------------------------------------------------------
# the whole verification


def run_verification(config: VerifyConfig, *, verbose: bool = True) -> dict:
    """Build the pools, run both experiments, summarise. Returns the JSON-ready result (``cells`` and
    ``hard_cells`` carry every per-seed value, so figures and verdicts can be recomputed from it)."""
    config.check()
    t0 = time.perf_counter()
    ws: list[dict] = []
    pools = {}
    for d in config.dims:
        inst = make_synthetic_pool(config.n_prompts, config.n_responses, d, S=config.S, kind=config.kind,
                                   rng=config.seed + 1000 * d)
        pools[str(d)] = {"prompts": inst.pool.n_prompts, "pairs": inst.pool.n_pairs,
                         "max_feature_norm": float(np.linalg.norm(inst.features.X, axis=1).max()),
                         "theta_norm": float(np.linalg.norm(inst.theta_star))}
        ws += verify_well_specified(inst, selectors=config.selectors, seeds=config.seeds, S=config.S,
                                    delta=config.delta, grid_points=config.grid_points,
                                    grid_ratio=config.grid_ratio, seed=config.seed, verbose=verbose)
    t1 = time.perf_counter()
    cells = [(config.hard_dim, f * config.hard_dim**2) for f in config.hard_T_factors]
    cells += [(d, config.hard_T) for d in config.hard_dims if (d, config.hard_T) not in cells]
    hard = verify_hypercube(cells, selectors=config.hard_selectors, seeds=config.hard_seeds,
                            rounds=config.hard_rounds, n_responses=config.hard_responses, S=config.S,
                            delta=config.delta, seed=config.seed, verbose=verbose)
    t2 = time.perf_counter()
    result = summarise(ws, hard, config)
    result["config"] = dataclasses.asdict(config)
    result["pools"] = pools
    result["seconds"] = {"well_specified": t1 - t0, "hypercube": t2 - t1, "total": time.perf_counter() - t0}
    result["machine"] = {"platform": platform.platform(), "machine": platform.machine(),
                         "python": platform.python_version(), "numpy": np.__version__}
    result["cells"] = ws
    result["hard_cells"] = hard
    return result


__all__ = [
    "T_grid",
    "VerifyConfig",
    "fit_projected",
    "plot_all",
    "quick_config",
    "run_verification",
    "slope_with_ci",
    "summarise",
    "verdict_lines",
    "verify_hypercube",
    "verify_well_specified",
    "write_outputs",
]
