"""The report of the regret-bound verification: verdict lines, verify.json / verify.md, and the figures.

Everything here reads the JSON-ready result of :func:`duelbandit.theory.verify.run_verification` alone (no run is
repeated), so a saved verify.json can be re-reported. :func:`write_outputs` writes verify.json, verify.md
and the three PNGs (E_T vs T with the Lemma 2 ellipsoid, regret vs T, regret vs d on the hypercube of
Theorem 3; Scheid et al. 2024).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from duelbandit.theory.bounds import theorem3_lower_bound
from duelbandit.io import write_json_atomic, write_text_atomic
from duelbandit.plots import _pyplot


def _fmt(x: object, nd: int = 3) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, (list, tuple)):
        return "[" + ", ".join(_fmt(v, nd) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v, nd)}" for k, v in x.items()) + "}"
    if isinstance(x, float):
        return f"{x:.{nd}g}"
    return str(x)


def verdict_lines(r: dict) -> list[str]:
    """One line per target of the issue: the value, the target, met or not."""
    lo, hi = r["slope_target"]
    s = r["slope"]
    lines = [
        (f"E_T slope (odpo, projected estimator, pooled over d): {_fmt(s)} CI {_fmt(r['slope_ci'])} "
         f"(target [{lo}, {hi}]): {'met' if lo <= s <= hi else 'NOT met'}"),
    ]
    mle = r["slopes"].get("odpo/E_T_mle", {}).get("pooled")
    up = r["slopes"].get("odpo/E_T", {}).get("upper_half")
    low = r["slopes"].get("odpo/E_T", {}).get("T_up_to_100p")
    if mle and up and low:
        lines.append(f"  unprojected MLE: {_fmt(mle['slope'])} CI {_fmt(mle['ci'])}; projected, upper half "
                     f"of each grid: {_fmt(up['slope'])} CI {_fmt(up['ci'])}; projected, T <= 100 p only: "
                     f"{_fmt(low['slope'])} CI {_fmt(low['ci'])}")
    cov = r["coverage"]
    lines.append(f"coverage of the Lemma 2 ellipsoid: {_fmt(cov, 4)} over {r['coverage_runs']} runs "
                 f"(target >= {r['coverage_target']}): "
                 + ("n/a" if cov is None else ("met" if cov >= r["coverage_target"] else "NOT met"))
                 + ("" if r["radius_tightness"]["max_over_cells"] is None else
                    f"; the error's {r['radius_tightness']['quantile']:g}-quantile reaches at most "
                    f"{r['radius_tightness']['max_over_cells']:.3g} of the radius"))
    lines.append(f"Theorem 1 violations (odpo, max regret > bound): {r['violations']} of "
                 f"{r['violations_runs']} runs (target 0): {'met' if r['violations'] == 0 else 'NOT met'}; "
                 f"proof-chain violations {r['chain_violations']}, leverage-link violations "
                 f"{r['leverage_link_violations']['runs']}")
    vac = r["theorem1_cells"].get("theorem1 >= 2 (vacuous)", 0)
    if vac:
        lines.append(f"  the Theorem 1 bound is >= 2 (the largest regret possible under H1) in {vac} of "
                     f"{sum(r['theorem1_cells'].values())} cells: VACUOUS there (zero violations is "
                     "guaranteed, not tested)")
    lines += nominal_lines(r)
    hs, hci = r["hard_slope"], r["hard_slope_ci"]
    lines.append(f"hypercube regret slope in T (odpo): {_fmt(hs)} CI {_fmt(hci)} (target ~ -0.5)"
                 + ("" if hs is None else (": met" if hci[0] is not None and hci[0] <= -0.5 <= hci[1]
                                           else (": near" if abs(hs + 0.5) <= 0.1 else ": NOT met"))))
    lines.append(f"hypercube regret growth in d (odpo): slope {_fmt(r['hard_d_slope'])} (linear growth = 1)")
    lb = r["lower_bound_respected"]
    lines.append(f"Theorem 3 lower bound respected (offline selectors, d >= 16, T >= d^2): "
                 f"{'n/a' if lb is None else ('yes' if lb else 'NO')} over {r['lower_bound_cells']} cells; "
                 f"adaptive selectors above it too: {'yes' if r['lower_bound_respected_adaptive'] else 'no'}")
    return lines


def nominal_lines(r: dict) -> list[str]:
    """The checks that can fail (issue 13, item 10); absent from results written before them."""
    if "nominal_coverage" not in r:
        return []
    nom, out = r["nominal_coverage"], []
    if nom["coverage"] is not None:
        where = f" at T >= {nom['min_ratio']} p, where the chi^2 law applies" if "min_ratio" in nom else ""
        out.append(f"nominal coverage of ||theta_hat - theta*||^2_H(theta*) <= chi2_d(1 - delta) (unprojected "
                   f"MLE{where}): {nom['coverage']:.4f} over {nom['runs']} runs (target {nom['target']:g}, band of "
                   f"a calibrated estimator {_fmt(nom['band'], 4)}): {'met' if nom['met'] else 'NOT met'}; "
                   f"by selector {_fmt(nom['by_selector'])}, by d {_fmt(nom['by_d'])}")
        low = nom.get("below") or {}
        if low.get("runs"):
            out.append(f"  below T = {nom['min_ratio']} p (1-9 labels per design point; not tested: the ridge's "
                       f"shrinkage and the curvature bias theta_hat there): coverage {low['coverage']:.4f} over "
                       f"{low['runs']} runs")
    rq = r["radius_over_quantile"]
    if rq["median"] is not None:
        out.append(f"Lemma 2 radius / real {rq['quantile']:g}-quantile of ||theta^P - theta*||_V: median "
                   f"{rq['median']:.3g}, min {rq['min']:.3g} over cells (the radius' slack; it hides a "
                   "wrong constant, so the checks below test the links at their own level)")
    cv = r["curvature"]
    out.append(f"curvature link ||theta^P - theta*||_V <= kappa ||g(theta^P) - g(theta*)||_V^-1 (kappa = "
               f"{_fmt(cv['kappa'])}): {cv['violations']} violations of {cv['runs']} runs, largest ratio "
               f"{_fmt(cv['max_ratio'])}: {'met' if cv['violations'] == 0 else 'NOT met'}")
    tc = r["theorem1_consistency"]
    out.append(f"Theorem 1 >= Lemma 2 radius x sqrt(g_max / (T - p)) (the links it is proved from): "
               f"{len(tc['inconsistent_cells'])} inconsistent cells; E_T > Theorem 1 in {tc['E_T_violations']} of "
               f"{tc['E_T_runs']} runs: {'met' if not tc['inconsistent_cells'] and not tc['E_T_violations'] else 'NOT met'}")
    nv = r["theorem1_nonvacuous"]
    if nv["cells"]:
        out.append(f"Theorem 1 where it is not vacuous (bound < 2): {nv['violations']} violations of {nv['runs']} "
                   f"runs in {nv['cells']} cells, largest regret / bound {_fmt(nv['max_regret_over_bound'])}: "
                   f"{'met' if nv['violations'] == 0 else 'NOT met'}")
    else:
        out.append("Theorem 1 is vacuous (>= 2) in every cell run: it is not falsifiable at these sizes")
    return out


def _compact(obj: object) -> object:
    """Floats to 7 significant digits (the JSON holds every per-seed value; full precision doubles it)."""
    if isinstance(obj, float):
        return float(f"{obj:.7g}")
    if isinstance(obj, dict):
        return {k: _compact(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_compact(v) for v in obj]
    return obj


def write_outputs(result: dict, out: str | Path) -> list[Path]:
    """verify.json, verify.md and the three PNGs under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "verify.json", _compact(result))
    pngs = plot_all(result, out)
    cfg = result["config"]
    intro = (f"Well-specified pools: d in {cfg['dims']}, {cfg['n_prompts']} prompts x "
             f"{cfg['n_responses']} responses ({cfg['kind']}, ||psi|| <= 1, ||theta*|| = S = {cfg['S']}), "
             f"T from the design's support size p to {cfg['grid_ratio']:g} p ({cfg['grid_points']} points), "
             f"{cfg['seeds']} seeds, selectors {cfg['selectors']}. Hypercube: d = {cfg['hard_dim']} at "
             f"T = d^2 x {cfg['hard_T_factors']}, and d in {cfg['hard_dims']} at T = {cfg['hard_T']}, "
             f"{cfg['hard_seeds']} random sign vectors, every selector. delta = {cfg['delta']}.")
    md = ["# Regret-bound verification (Scheid et al. 2024)", "", intro, "", "## Verdicts", ""]
    md += [f"- {x}" for x in verdict_lines(result)]
    md += ["", "## Hypercube, every selector", "",
           "| selector | offline | slope in T [CI] | slope in d [CI] |", "|:---|:---:|---:|---:|"]
    for name, e in result["hard"].items():
        st, sd = e.get("slope_T", {}), e.get("slope_d", {})
        md.append(f"| {name} | {'yes' if e['offline'] else 'no'} | {_fmt(st.get('slope'))} "
                  f"{_fmt(st.get('ci'))} | {_fmt(sd.get('slope'))} {_fmt(sd.get('ci'))} |")
    for f in result.get("hard_failed", []):
        md.append(f"\n{f['selector']} could not run at d = {f['d']}, T = {f['T']}: {f['error']}")
    md += ["", "## Bounds not applied, and why (count of cells)", ""]
    for bound, reasons in result["not_applicable"].items():
        for reason, n in reasons.items():
            md.append(f"- {bound}: {reason} ({n})")
    machine = result["machine"]
    md += ["", (f"Projection active in {_fmt(result['projection_active'])} of the well-specified runs. "
                f"Upper/lower bound ratio at d = 16: {_fmt(result['upper_lower_ratio'])}."), "",
           (f"Runs: {result['runs']}; {result['seconds']['total']:.0f} s on {machine['platform']} "
            f"(Python {machine['python']}, numpy {machine['numpy']})."), ""]
    md += [f"![{p.stem}]({p.name})" for p in pngs]
    write_text_atomic(out / "verify.md", "\n".join(md) + "\n")
    return [out / "verify.json", out / "verify.md", *pngs]


# ---------------------------------------------------------------------------------------------------
# figures


def _styles(names: list[str], plt) -> dict[str, dict]:
    """One look per selector, the same in every figure: odpo and uniform stand out."""
    cycle = [plt.cm.tab10(i) for i in (1, 2, 4, 5, 6, 7, 8, 9)] + [plt.cm.Set2(i) for i in range(8)]
    out, k = {}, 0
    for n in names:
        if n == "odpo":
            out[n] = {"color": "tab:blue", "lw": 2.5, "marker": "o", "zorder": 5}
        elif n == "uniform":
            out[n] = {"color": "tab:red", "lw": 2.0, "marker": "s", "ms": 4, "zorder": 4}
        else:
            out[n] = {"color": cycle[k % len(cycle)], "lw": 1.0, "marker": ".", "alpha": 0.9}
            k += 1
    return out


def _log_axes(ax, ticks: list | None = None) -> None:
    from matplotlib.ticker import NullFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    if ticks is not None:
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(int(t)) for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.grid(True, which="both", alpha=0.3)


def plot_all(r: dict, out: Path) -> list[Path]:
    """E_T vs T, regret vs T, regret vs d (log-log), from the result dict alone."""
    plt = _pyplot()
    ws, cfg = r["cells"], r["config"]
    hard = [c for c in r["hard_cells"] if c["regret"]]
    dims = cfg["dims"]
    colors = {d: plt.cm.viridis(i / max(1, len(dims) - 1)) for i, d in enumerate(dims)}
    styles = _styles(list(dict.fromkeys(c["selector"] for c in hard)), plt)
    paths = []

    def series(sel: str, d: int, key: str):
        cs = sorted((c for c in ws if c["selector"] == sel and c["d"] == d), key=lambda c: c["T"])
        return np.array([c["T"] for c in cs], float), np.array([np.mean(c[key]) for c in cs]), cs

    def save(fig, name: str) -> None:
        fig.tight_layout()
        paths.append(out / name)
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)

    # 1. E_T vs T and the ellipsoid
    fig, ax = plt.subplots(1, 2, figsize=(13, 5.4))
    for d in dims:
        T, m, cs = series("odpo", d, "E_T")
        if not cs:
            continue
        ax[0].plot(T, m, "o-", color=colors[d], label=f"d={d}")
        if "uniform" in cfg["selectors"]:
            Tu, mu, _ = series("uniform", d, "E_T")
            ax[0].plot(Tu, mu, "s--", color=colors[d], alpha=0.6, ms=3)
        tb = [(c["T"], c["theorem1"]) for c in cs if c["theorem1"] is not None]
        if tb:
            ax[0].plot(*zip(*tb), ":", color=colors[d], lw=1)
        ax[0].plot(T, m[-1] * np.sqrt(T[-1] / T), color="grey", lw=0.6, alpha=0.6)
        ax[1].plot(T, [max(c["v_err"]) / c["radius"] for c in cs], "o-", color=colors[d], label=f"d={d}")
        ax[1].plot(T, [np.median(c["v_err"]) / c["radius"] for c in cs], ".:", color=colors[d])
    lvl = round(cfg["level"] * 100)
    ax[0].set_title(f"E_T = max_b |<theta^P - theta*, b>|, mean over {cfg['seeds']} seeds: odpo (solid), "
                    f"uniform (dashed),\nTheorem 1 (dotted), slope -1/2 (grey). odpo slope {r['slope']:.3f}, "
                    f"{lvl}% CI {_fmt(r['slope_ci'])}", fontsize=9)
    ax[0].set(xlabel="labels T", ylabel="E_T")
    ax[1].axhline(1.0, color="k", lw=1)
    ax[1].set_title(f"Lemma 2 ellipsoid: ||theta^P - theta*||_V / beta_T, max (solid) and median (dotted)\n"
                    f"over seeds; coverage {_fmt(r['coverage'], 4)} (target >= {r['coverage_target']:g}); "
                    "1 = the radius", fontsize=9)
    ax[1].set(xlabel="labels T", ylabel="||theta^P - theta*||_V / beta_T")
    for a in ax:
        _log_axes(a)
        a.legend(fontsize=7)
    save(fig, "et_vs_T.png")

    # 2. regret vs T: well-specified (odpo) and hypercube (every selector)
    fig, ax = plt.subplots(1, 2, figsize=(15, 5.6), gridspec_kw={"width_ratios": [1, 1]})
    for d in dims:
        T, m, cs = series("odpo", d, "regret_max")
        if not cs:
            continue
        ax[0].plot(T[m > 0], m[m > 0], "o-", color=colors[d], label=f"d={d}")
        _, mm, _ = series("odpo", d, "regret_mean")
        ax[0].plot(T[mm > 0], mm[mm > 0], "x--", color=colors[d], alpha=0.7, ms=4)
        tb = [(c["T"], c["theorem1"]) for c in cs if c["theorem1"] is not None]
        if tb:
            ax[0].plot(*zip(*tb), ":", color=colors[d], lw=1)
    ax[0].axhline(2.0, color="k", lw=0.8, ls="-.")
    ax[0].set_title("well-specified pools, odpo: simple regret, max (solid) / mean (dashed) over prompts;\n"
                    "Theorem 1 (dotted); -. = 2, the largest possible regret. Fixed instance: regret\n"
                    "reaches 0 (gap-dependent), so no -1/2 slope is fitted here; zeros omitted on the log "
                    "scale",
                    fontsize=9)
    ax[0].set(xlabel="labels T", ylabel="simple regret (mean over seeds)")
    _log_axes(ax[0])
    ax[0].legend(fontsize=7, loc="lower left")
    tc = [c for c in hard if c["d"] == cfg["hard_dim"]]
    for name in dict.fromkeys(c["selector"] for c in tc):
        cs = sorted((c for c in tc if c["selector"] == name), key=lambda c: c["T"])
        T = np.array([c["T"] for c in cs], float)
        m = np.array([np.mean(c["regret"]) for c in cs])
        ax[1].plot(T[m > 0], m[m > 0], label=name, **styles[name])
    Ts = sorted({c["T"] for c in tc})
    if tc:
        d = cfg["hard_dim"]
        ax[1].plot(Ts, [theorem3_lower_bound(int(t), d) for t in Ts], "k--", lw=2,
                   label="Theorem 3 lower bound")
        sc = sorted({(c["T"], c["theorem1_scale"]) for c in tc if c["theorem1_scale"] is not None})
        if sc:
            ax[1].plot(*zip(*sc), color="grey", ls=":", lw=1.5, label="Theorem 1 at odpo's design (scale)")
    ax[1].set_title(f"hypercube instance (Theorem 3), d = {cfg['hard_dim']}: cube regret, mean over "
                    f"{cfg['hard_seeds']} random sign vectors;\nodpo slope {_fmt(r['hard_slope'])}, "
                    f"{lvl}% CI "
                    f"{_fmt(r['hard_slope_ci'])}", fontsize=9)
    ax[1].set(xlabel="labels T", ylabel="cube regret")
    _log_axes(ax[1], Ts or None)
    ax[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, "regret_vs_T.png")

    # 3. regret vs d on the hypercube
    fig, ax = plt.subplots(figsize=(10, 5.6))
    dc = [c for c in hard if c["T"] == cfg["hard_T"]]
    for name in dict.fromkeys(c["selector"] for c in dc):
        cs = sorted((c for c in dc if c["selector"] == name), key=lambda c: c["d"])
        D = np.array([c["d"] for c in cs], float)
        m = np.array([np.mean(c["regret"]) for c in cs])
        ax.plot(D[m > 0], m[m > 0], label=name, **styles[name])
    D_all = sorted({c["d"] for c in dc})
    if dc:
        D = np.array(D_all, float)
        lb = np.array([theorem3_lower_bound(cfg["hard_T"], int(d)) for d in D])
        ax.plot(D, lb, "k:", lw=1, label="d e^-5 / (4 sqrt T), outside Theorem 3 (d < 16)")
        ax.plot(D[D >= 16], lb[D >= 16], "k--", lw=2.5, label="Theorem 3 lower bound (d >= 16, T >= d^2)")
    ax.set_title(f"hypercube instance at T = {cfg['hard_T']}: cube regret vs d, mean over "
                 f"{cfg['hard_seeds']} "
                 f"sign vectors\nodpo slope in log d {_fmt(r['hard_d_slope'])} (linear growth = 1)",
                 fontsize=9)
    ax.set(xlabel="dimension d", ylabel="cube regret")
    _log_axes(ax, D_all or None)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, "regret_vs_d.png")
    return paths


__all__ = [
    "plot_all",
    "verdict_lines",
    "write_outputs",
]
