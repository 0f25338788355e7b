"""Which selector gets the lowest simple regret for a given number of labels?

Question: simple regret of the greedy policy of the Bradley–Terry fit (max over prompts — the paper's
metric — and mean over prompts) against the number of labels T, for every selector in
``duelbandit.select.SELECTORS``, and how many labels each needs to reach uniform's regret at the largest
budget (the goal for odpo / two_stage on the synthetic pools: <= 50% of uniform's labels).

Pools (a new pool and theta* per seed, so the bands include instance-to-instance variation):
  - synthetic, well-specified, ||psi|| <= 1, ||theta*|| = S: isotropic and anisotropic (decaying spectrum,
    prompt clusters, 40% near-duplicate responses; duelbandit.data.synthetic), d = 8 and 32;
  - the bundled text pool with hashing features (d = 32): judge labels (misspecified, with the ceiling of
    the best linear model) and its well-specified twin (theta* = best linear fit of the judge).

How each selector spends T labels:
  - uniform, odpo: one offline batch of T (a separate call per T);
  - two_stage: ceil(0.3 T) odpo labels, fit, then T - ceil(0.3 T) on the local design (a separate run per T);
  - online selectors: the collection loop (duelbandit.select.loop.collect, in memory) in rounds of
    ``--batch`` labels up to the largest T; the regret at T is that of the fit on the first T labels, which
    is what a run with budget T collects (their choices do not depend on the total budget).
Every selector faces the same label noise at a seed (the annotator is rebuilt with the same seed).
Wall time: seconds to choose the largest budget (for online selectors: the whole loop with its refits).

Usage:
    python benchmarks/bench_selectors.py            # full run (10 seeds, ~10-15 min on 2 shared cores)
    python benchmarks/bench_selectors.py --quick    # smoke run (~1 min)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from duelbandit.annotate import JudgeAnnotator, SimulatedBT
from duelbandit.data.textpool import make_text_pool, text_pool_rewards
from duelbandit.embed import HashingEmbedder
from duelbandit.theory.experiment import RunResult, best_linear_fit, summarise
from duelbandit.regret import greedy_policy, simple_regret
from duelbandit.reward import BradleyTerry, kappa
from duelbandit.select import OFFLINE, SELECTORS, SelectionState, make_selector, offline
from duelbandit.select.loop import collect
from duelbandit.data.synthetic import make_synthetic_pool

OUT = Path(__file__).parent / "results"
ORDER = ["uniform", "odpo", "two_stage", "greedy_logdet", "apo", "apo_practical", "maxinp", "colstim",
         "min_margin", "certainty", "dts"]


def regret_at(state: SelectionState, pairs: np.ndarray, y: np.ndarray, rewards: np.ndarray):
    B = state.candidates.differences(state.features.X, pairs)
    theta = BradleyTerry(lam=state.lam).fit(B, y).coef_
    return simple_regret(rewards, greedy_policy(theta, state.features.X, state.pool), state.pool)


def run_pool(state, make_annotator, rewards, budgets, seed, batch, selectors):
    """RunResults of every selector at every budget for one pool and seed, and seconds per selector."""
    out, seconds = [], {}
    T_max = max(budgets)
    for name in selectors:
        if name in OFFLINE or name == "two_stage":
            for T in budgets:
                if T == T_max:
                    offline._DESIGNS.clear()  # time the design solve too, not a cache hit
                t0 = time.perf_counter()
                if name == "two_stage":
                    sel = make_selector(name, total=T)
                    ann = make_annotator()
                    n1 = math.ceil(sel.fraction * T)
                    first = ann.label(sel.select(state, n1, np.random.default_rng(seed)))
                    view = SelectionState(state.pool, state.features, labels=first, lam=state.lam)
                    second = ann.label(sel.select(view, T - n1, np.random.default_rng(seed)))
                    pairs, y = np.concatenate([first.pairs, second.pairs]), np.concatenate([first.y, second.y])
                else:
                    labels = make_annotator().label(make_selector(name).select(state, T, np.random.default_rng(seed)))
                    pairs, y = labels.pairs, labels.y
                if T == T_max:
                    seconds[name] = time.perf_counter() - t0
                out.append(RunResult(name, T, seed, regret_at(state, pairs, y, rewards), 0.0))
            continue
        t0 = time.perf_counter()
        res = collect(state, make_selector(name), lambda gen, done: make_annotator(), budget=T_max,
                      batch_size=batch, seed=seed, verbose=False)
        seconds[name] = time.perf_counter() - t0
        for T in budgets:
            out.append(RunResult(name, T, seed, regret_at(state, res.labels.pairs[:T], res.labels.y[:T], rewards),
                                 0.0))
    return out, seconds


def labels_to_reach(rows, target: float, metric: str) -> float:
    """Smallest T (log-linear interpolation between budgets) where the mean regret <= target; inf if never."""
    pts = sorted((r.budget, getattr(r, metric)) for r in rows)
    for k, (T, v) in enumerate(pts):
        if v <= target:
            if k == 0:
                return float(T)
            (T0, v0) = pts[k - 1]
            frac = (v0 - target) / (v0 - v) if v0 != v else 1.0
            return float(np.exp(np.log(T0) + frac * (np.log(T) - np.log(T0))))
    return math.inf


def main() -> None:
    # The matrices here are d x d with d <= 32: BLAS threads only add overhead, and on a shared 2-core
    # machine OpenBLAS threads spin-wait (a 32 x 32 cho_solve took ~30 ms with 2 threads, ~40 us with 1).
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        _main()


def _main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few seeds, small budgets (smoke run)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 10, quick 2)")
    ap.add_argument("--S", default="1,3",
                    help="comma-separated ||theta*|| of the synthetic pools (default 1,3: the paper's H1 and a "
                         "less noisy setting)")
    ap.add_argument("--prompts", type=int, default=None, help="prompts per synthetic pool (default 200)")
    ap.add_argument("--batch", type=int, default=None, help="labels per round of the online selectors")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    quick = args.quick
    seeds = list(range(args.seeds or (2 if quick else 10)))
    budgets = [50, 100, 200, 400] if quick else [50, 100, 200, 400, 800, 1600, 3200]
    batch = args.batch or 50
    n_prompts = args.prompts or (80 if quick else 200)
    selectors = [s for s in ORDER if s in SELECTORS]  # the selectors of the comparison (issue 4)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    load_before = os.getloadavg()

    panels: dict[str, list] = {}
    notes: dict[str, str] = {}
    secs: dict[str, dict[str, list[float]]] = {}
    dims = [8] if quick else [8, 32]
    norms = [float(x) for x in str(args.S).split(",")][: 1 if quick else None]
    for S, kind, d in [(S, kind, d) for S in norms for kind in ("isotropic", "anisotropic") for d in dims]:
        name = f"synthetic {kind}, d={d}, S={S:g}"
        results = []
        for seed in seeds:
            syn = make_synthetic_pool(n_prompts, (4, 8), d, S=S, kind=kind, rng=seed)
            state = SelectionState(syn.pool, syn.features)
            rs, sec = run_pool(state, lambda s=syn, k=seed: SimulatedBT(s.theta_star, s.pool, s.features,
                                                                       rng=10_000 + k),
                               syn.rewards, budgets, seed, batch, selectors)
            results += rs
            for k, v in sec.items():
                secs.setdefault(name, {}).setdefault(k, []).append(v)
            print(f"  {name}: seed {seed} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
        panels[name] = summarise(results)
        notes[name] = (f"{n_prompts} prompts with 4-8 responses (L ~ {syn.pool.n_pairs} pairs), a new pool "
                       f"and theta* per seed; kappa = 1/sigma'(2S) = {kappa(S):.1f}.")

    # the bundled text pool: judge labels (misspecified) and the well-specified twin
    pool = make_text_pool(120 if quick else 300, seed=0)
    feats = HashingEmbedder(dim=32, seed=0).embed(pool)
    state = SelectionState(pool, feats)
    judge = text_pool_rewards(pool)
    theta_lin, ceiling = best_linear_fit(state, judge)
    for label, rewards, make in (
        ("text pool, judge labels (misspecified)", judge,
         lambda k: (lambda: JudgeAnnotator(judge, pool, rng=10_000 + k))),
        (f"text pool, well-specified twin (||theta*|| = {np.linalg.norm(theta_lin):.2f})", feats.X @ theta_lin,
         lambda k: (lambda: SimulatedBT(theta_lin, pool, feats, rng=10_000 + k))),
    ):
        results = []
        for seed in seeds:
            rs, sec = run_pool(state, make(seed), rewards, budgets, seed, batch, selectors)
            results += rs
            for k, v in sec.items():
                secs.setdefault(label, {}).setdefault(k, []).append(v)
            print(f"  {label}: seed {seed} done ({time.perf_counter() - t_start:.0f} s)", flush=True)
        panels[label] = summarise(results)
        notes[label] = (f"{pool.n_prompts} prompts, {pool.n_pairs} pairs, hashing features d=32; one pool, the "
                        "seeds vary the selection and the label noise.")
    notes["text pool, judge labels (misspecified)"] += (
        f" Ceiling: the best linear BT model fitted on all pairs with exact judge probabilities has max regret "
        f"{ceiling.max:.3f}, mean {ceiling.mean:.3f}: no selector can go below it.")

    elapsed = time.perf_counter() - t_start
    write_report(out, panels, notes, secs, budgets, seeds, batch, args, elapsed, load_before)


def write_report(out, panels, notes, secs, budgets, seeds, batch, args, elapsed, load_before):
    T_max = max(budgets)
    lines = ["# Selectors: simple regret vs number of labels", "",
             (f"Generated by `python benchmarks/bench_selectors.py{' --quick' if args.quick else ''}` "
              f"({len(seeds)} seeds, budgets {budgets}, online selectors in rounds of {batch} labels)."), "",
             ("Simple regret of the greedy policy of the Bradley–Terry fit (lambda = 1/d) on the collected labels: "
             "**max over prompts** (the paper's metric) and mean over prompts, mean ± standard error over seeds. "
             "`labels to reach uniform` = labels a selector needs for its mean regret to fall to uniform's "
             f"mean regret at T = {T_max} (log-interpolated between budgets; `> {T_max}` = not reached; "
             f"`<= {budgets[0]}` = already at the smallest budget), and "
             f"its ratio to {T_max}. Wall time: seconds to choose {T_max} labels (online: the whole loop)."), ""]
    summary_rows = []
    for name, rows in panels.items():
        by = {(r.selector, r.budget): r for r in rows}
        sels = list(dict.fromkeys(r.selector for r in rows))
        lines += [f"## {name}", "", notes[name], ""]
        head = "| selector | " + " | ".join(f"T={T} max / mean" for T in budgets) + \
               " | labels to reach uniform (max) | (mean) | seconds |"
        lines += [head, "|:---|" + "---:|" * (len(budgets) + 3)]
        targets = {m: getattr(by[("uniform", T_max)], f"{m}_regret_mean") for m in ("max", "mean")}
        for s in sels:
            cells = []
            for T in budgets:
                r = by[(s, T)]
                se = np.sqrt(r.n_seeds)
                cells.append(f"{r.max_regret_mean:.3f}±{r.max_regret_std / se:.3f} / "
                             f"{r.mean_regret_mean:.4f}±{r.mean_regret_std / se:.4f}")
            reach = {}
            for m in ("max", "mean"):
                n = labels_to_reach([by[(s, T)] for T in budgets], targets[m], f"{m}_regret_mean")
                reach[m] = n
            fmt = {m: (f"> {T_max}" if not np.isfinite(v) else
                       f"<= {v:.0f} ({v / T_max:.0%})" if v == budgets[0] else f"{v:.0f} ({v / T_max:.0%})")
                   for m, v in reach.items()}
            sec = float(np.mean(secs[name].get(s, [np.nan])))
            lines.append(f"| {s} | " + " | ".join(cells) + f" | {fmt['max']} | {fmt['mean']} | {sec:.2f} |")
            summary_rows.append({"pool": name, "selector": s, "labels_to_reach_max": reach["max"],
                                 "labels_to_reach_mean": reach["mean"], "seconds": sec})
        lines.append("")
    lines += ["## Goal: odpo / two_stage need <= 50% of uniform's labels on the synthetic pools", ""]
    for row in summary_rows:
        if row["selector"] in ("odpo", "two_stage") and row["pool"].startswith("synthetic"):
            parts = []
            for m in ("max", "mean"):
                v = row[f"labels_to_reach_{m}"]
                ratio = v / T_max if np.isfinite(v) else math.inf
                verdict = "met" if ratio <= 0.5 else "not met"
                parts.append(f"{m}: {'> ' + str(T_max) if not np.isfinite(v) else f'{v:.0f} = {ratio:.0%}'} "
                             f"({verdict})")
            lines.append(f"- {row['pool']}, {row['selector']}: " + "; ".join(parts))
    lines += ["", "## Machine", ""]
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
                         for i in threadpool_info() if i.get("user_api") == "blas")
    except ImportError:
        blas = "unknown"
    load_after = os.getloadavg()
    before, after = (" / ".join(f"{x:.2f}" for x in v) for v in (load_before, load_after))
    lines += [(f"- {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"numpy {np.__version__}; BLAS: {blas} (limited to 1 thread, see main())"),
              (f"- total {elapsed / 60:.1f} min; load average (1/5/15 min) before {before}, after {after} "
               "(the machine is shared: wall times are noisy and pessimistic).")]
    stem = "bench_selectors_quick" if args.quick else "bench_selectors"
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / f"{stem}.json").write_text(json.dumps({
        "panels": {k: [asdict(r) for r in v] for k, v in panels.items()}, "notes": notes,
        "seconds": secs, "reach": summary_rows, "budgets": budgets, "seeds": seeds, "batch": batch,
    }, default=lambda o: None if isinstance(o, float) and not np.isfinite(o) else str(o), indent=1))
    plot_panels(panels, out / f"{stem}.png", "max", "simple regret, max over prompts (the paper's metric)")
    plot_panels(panels, out / f"{stem}_mean.png", "mean", "simple regret, mean over prompts")
    print("\n".join(lines))


def plot_panels(panels: dict, path: Path, metric: str, title: str) -> None:
    """One panel per pool (4 per row): mean regret vs labels per selector, bands = ± one standard error."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(panels)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.6 * rows), squeeze=False)
    colors = plt.get_cmap("tab20").colors
    for k, name in enumerate(names):
        ax = axes[k // cols, k % cols]
        sels = list(dict.fromkeys(r.selector for r in panels[name]))
        for c, sel in enumerate(sels):
            rs = sorted((r for r in panels[name] if r.selector == sel), key=lambda r: r.budget)
            x = np.array([r.budget for r in rs], dtype=float)
            mu = np.array([getattr(r, f"{metric}_regret_mean") for r in rs])
            se = np.array([getattr(r, f"{metric}_regret_std") / np.sqrt(r.n_seeds) for r in rs])
            bold = sel in ("uniform", "odpo", "two_stage")
            ax.plot(x, mu, marker="o", ms=3, lw=2.2 if bold else 1.1, color="black" if sel == "uniform" else
                    colors[(2 * c) % 20], label=sel, zorder=3 if bold else 2)
            ax.fill_between(x, np.maximum(mu - se, 0), mu + se, color="black" if sel == "uniform" else
                            colors[(2 * c) % 20], alpha=0.15)
        ax.set_xscale("log")
        budgets = sorted({r.budget for r in panels[name]})
        ax.set_xticks(budgets, [str(b) for b in budgets], fontsize=7)
        ax.minorticks_off()
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("labels T")
        ax.grid(True, which="both", alpha=0.3)
    for k in range(len(names), rows * cols):
        axes[k // cols, k % cols].axis("off")
    axes[0, 0].set_ylabel("regret")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(11, len(labels)), fontsize=9, frameon=False)
    fig.suptitle(f"{title} vs labels; bands: ± one standard error over seeds")
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
