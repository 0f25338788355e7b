"""The statistics of the regret-bound verification: log-log slopes with cluster-bootstrap intervals, and
the verdicts (:func:`summarise`) computed from the per-run values of :mod:`duelbandit.theory.runs`."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import binom, chi2

from duelbandit.theory.bounds import upper_lower_ratio

if TYPE_CHECKING:
    from duelbandit.theory.verify import VerifyConfig

try:  # the set of label-independent selectors, when the select package declares it
    from duelbandit.select import OFFLINE as _OFFLINE
except ImportError:  # pragma: no cover - older select package
    _OFFLINE = frozenset({"uniform", "odpo"})


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


def nominal_coverage(values: list[float], dims: list[int], delta: float) -> dict:
    """Fraction of runs with ||theta_hat - theta*||^2_{H(theta*)} <= chi2_d(1 - delta), and the two-sided
    band a calibrated estimator stays in with probability 0.999 (binomial, n runs, p = 1 - delta)."""
    v, d = np.asarray(values, dtype=np.float64), np.asarray(dims)
    n = v.size
    if n == 0:
        return {"coverage": None, "runs": 0, "target": 1 - delta, "band": None, "met": None}
    cov = float(np.mean(v <= chi2.ppf(1 - delta, d)))
    band = [float(binom.ppf(0.0005, n, 1 - delta) / n), float(binom.ppf(0.9995, n, 1 - delta) / n)]
    return {"coverage": cov, "runs": int(n), "target": 1 - delta, "band": band,
            "met": bool(band[0] <= cov <= band[1])}


# The chi^2 law of the MLE's error is asymptotic: with T < 10 p labels (p = the design's support, 1-9 labels
# per design point) the ridge's shrinkage and the logistic curvature bias theta_hat and coverage falls to
# 0.72-0.86 (measured: benchmarks/results/verify_bounds/, coverage by T / p), while from T = 10 p on it sits at
# the nominal level. The check is made where the approximation holds; below, the coverage is reported.
ASYMPTOTIC_RATIO = 10


def nominal_checks(ws: list[dict], delta: float) -> dict:
    """The checks that can fail (issue 13, item 10), from the per-run values of the well-specified cells:

    - ``nominal_coverage``: the chi^2 coverage of the MLE at its nominal level (runs with T >= 10 p, where
      the chi^2 approximation holds, and by selector and d; ``below``: the coverage of the runs with fewer
      labels, reported, not tested); a planted bias of norm 0.05 moves it out of its band;
    - ``radius_over_quantile``: Lemma 2's radius over the real (1 - delta)-quantile of
      ||theta^P - theta*||_V in each cell (how much of the radius is slack);
    - ``curvature``: runs whose ||theta^P - theta*||_V / ||g(theta^P) - g(theta*)||_{V^-1} exceeds
      kappa(S) (a wrong kappa makes them appear);
    - ``theorem1_consistency``: cells where Theorem 1's bound is below the product of the links it is
      proved from, beta_T sqrt(g_max / (T - p)) (a bound scaled by 0.1 is caught here), and runs whose E_T
      exceeds Theorem 1 (the proof bounds E_T, not only the regret);
    - ``theorem1_nonvacuous``: the regret check restricted to cells where the bound is < 2.
    """
    rows = [c for c in ws if c.get("h_err2") and c["T"] >= ASYMPTOTIC_RATIO * c["support"]]
    small = [c for c in ws if c.get("h_err2") and c["T"] < ASYMPTOTIC_RATIO * c["support"]]
    vals = [x for c in rows for x in c["h_err2"]]
    dims = [c["d"] for c in rows for _ in c["h_err2"]]
    nom = nominal_coverage(vals, dims, delta)
    nom["min_ratio"] = ASYMPTOTIC_RATIO
    below = nominal_coverage([x for c in small for x in c["h_err2"]],
                             [c["d"] for c in small for _ in c["h_err2"]], delta)
    nom["below"] = {"coverage": below["coverage"], "runs": below["runs"]}
    for key in ("selector", "d"):
        groups = sorted({c[key] for c in rows}, key=str)
        nom[f"by_{key}"] = {str(g): nominal_coverage([x for c in rows if c[key] == g for x in c["h_err2"]],
                                                     [c["d"] for c in rows if c[key] == g for _ in c["h_err2"]],
                                                     delta)["coverage"] for g in groups}
    ratios = [c["radius"] / q for c in ws if c["v_err"] and (q := float(np.quantile(c["v_err"], 1 - delta))) > 0]
    curv = [(x, c["kappa"]) for c in ws if c.get("curv_ratio") for x in c["curv_ratio"]]
    inconsistent, et_viol, et_n = [], 0, 0
    nv_cells = nv_runs = nv_viol = 0
    nv_ratio = []
    for c in ws:
        if c["theorem1"] is None or c["leverage_bound"] is None:
            continue
        chain = c["radius"] * float(np.sqrt(c["leverage_bound"]))
        if c["theorem1"] < chain * (1 - 1e-12):
            inconsistent.append({"d": c["d"], "T": c["T"], "theorem1": c["theorem1"], "chain": chain})
        E = np.array(c["E_T"])
        et_viol += int(np.sum(E > c["theorem1"]))
        et_n += E.size
        if c["theorem1"] < 2.0:
            reg = np.array(c["regret_max"])
            nv_cells += 1
            nv_runs += reg.size
            nv_viol += int(np.sum(reg > c["theorem1"]))
            nv_ratio.append(float(reg.max() / c["theorem1"]))
    return {
        "nominal_coverage": nom,
        "radius_over_quantile": {"median": float(np.median(ratios)) if ratios else None,
                                 "min": float(np.min(ratios)) if ratios else None,
                                 "quantile": 1 - delta},
        "curvature": {"violations": int(sum(x > k * (1 + 1e-9) for x, k in curv)), "runs": len(curv),
                      "max_ratio": max((x for x, _ in curv), default=None),
                      "kappa": curv[0][1] if curv else None},
        "theorem1_consistency": {"inconsistent_cells": inconsistent, "E_T_violations": et_viol,
                                 "E_T_runs": et_n},
        "theorem1_nonvacuous": {"cells": nv_cells, "runs": nv_runs, "violations": nv_viol,
                                "max_regret_over_bound": max(nv_ratio) if nv_ratio else None},
    }


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
                cs = sorted((c for c in ws if c["selector"] == name and c["d"] == d and not c.get("extra")),
                            key=lambda c: c["T"])
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
    out.update(nominal_checks(ws, delta))
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
