"""Is online IPO better than offline IPO at equal labels and equal KL (Tang et al. 2024, "Understanding the
performance gap between online and offline alignment algorithms")?

Tabular testbed (exact, no function approximation): N prompts, K responses each, features psi in R^d and a
Bradley–Terry truth P(y > y') = sigma(r(y) - r(y')), r = <theta*, psi>; a non-uniform reference mu per prompt
(Dirichlet). Every method gets the same label budget (``--labels`` per prompt) and is run over a grid of
tau; its points (KL(pi || mu), true win rate P(pi > mu)) form a curve; curves are compared at equal KL by
linear interpolation. Methods:
  - offline IPO, uniform pairs: pairs drawn uniformly among the within-prompt pairs, labelled by P; the
    exact empirical IPO optimum (min-norm least squares on h = log pi - log mu);
  - offline IPO, odpo pairs: the same budget spent on duelbandit's D-optimal design over the feature
    differences (ODPOSelector), spread over prompts by the design;
  - online IPO: batches of pairs drawn from the current policy, labelled by P, SGD on their IPO loss
    (duelbandit.finetune.online.online_ipo_sampled).
Also: pairwise classification accuracy of the implicit reward h on held-out pairs (all within-prompt pairs
the offline runs did not label; truth = sign(r(y) - r(y'))).

Tiny LM section (``--lm``): the built-in tiny LM; P prefers the completion whose first character has the
smaller code point; offline IPO on pairs sampled from the reference (duelbandit.finetune.trainer.train) vs
online IPO (train_online) with the same number of labels; win rate vs the reference under P and KL.

Usage:
    python benchmarks/bench_online.py            # 10 seeds tabular + tiny LM (~3-6 min on 2 shared cores)
    python benchmarks/bench_online.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from scipy.special import expit

from duelbandit.finetune.online import offline_ipo_optimum, online_ipo_sampled, win_prob
from duelbandit.finetune.online import kl as kl_div
from duelbandit.pool import Features, Pool
from duelbandit.select import ODPOSelector, SelectionState

OUT = Path(__file__).parent / "results"
TAUS = [0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
LM_LAMBDAS = [0.25, 0.5, 0.75, 1.0, 1.5, 2.0]


def instance(seed: int, n_prompts: int, K: int, d: int, scale: float):
    gen = np.random.default_rng(seed)
    X = gen.normal(size=(n_prompts * K, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    theta = gen.normal(size=d)
    theta *= scale / np.linalg.norm(theta)
    r = (X @ theta).reshape(n_prompts, K)
    P = expit(r[:, :, None] - r[:, None, :])
    mu = gen.dirichlet(np.ones(K), size=n_prompts)
    pool = Pool.from_lists([f"x{n}" for n in range(n_prompts)], [[f"y{n}_{k}" for k in range(K)] for n in range(n_prompts)])
    return gen, X, r, P, mu, pool


def metrics(pi, mu, P, r, heldout):
    """(mean KL(pi || mu), mean true win rate P(pi > mu), held-out pairwise accuracy of h = log pi - log mu)."""
    kl = float(np.mean([kl_div(pi[n], mu[n]) for n in range(len(pi))]))
    win = float(np.mean([pi[n] @ win_prob(P[n], mu[n]) for n in range(len(pi))]))
    h = np.log(pi) - np.log(mu)
    n, i, j = np.asarray(heldout).T
    dh, dr = h[n, i] - h[n, j], r[n, i] - r[n, j]
    acc = np.where(np.abs(dh) < 1e-9, 0.5, (np.sign(dh) == np.sign(dr)).astype(float))  # a tie is a coin flip
    return kl, win, float(acc.mean())


def run_seed(seed: int, args) -> dict:
    gen, X, r, P, mu, pool = instance(seed, args.prompts, args.K, args.d, args.scale)
    N, K = args.prompts, args.K
    budget = args.labels * N
    cand = pool.pairs()
    local = np.stack([cand.prompt, cand.i - pool.offsets[cand.prompt], cand.j - pool.offsets[cand.prompt]], 1)
    # pairs y, y' ~ mu x mu (the usual offline data: samples of the reference), as candidate indices
    lut = {(int(a), int(b), int(c)): k for k, (a, b, c) in enumerate(local)}
    ref_pairs = []
    for n in range(N):
        while sum(1 for q in ref_pairs if local[q][0] == n) < args.labels:
            y, y2 = gen.choice(K, size=2, p=mu[n])
            if y != y2:
                ref_pairs.append(lut[(n, min(y, y2), max(y, y2))])
    chosen = {
        "reference": np.asarray(ref_pairs),
        "uniform": gen.integers(0, len(cand), size=budget),
        "odpo": ODPOSelector().select(SelectionState(pool, Features(X, "synthetic", {})), budget, gen).expanded(),
    }
    out = {}
    held = local  # every within-prompt pair once: the expectation over fresh uniform (held-out) pairs
    for name, idx in chosen.items():
        n_, i_, j_ = local[idx].T
        first = gen.random(len(idx)) < P[n_, i_, j_]
        w, l = np.where(first, i_, j_), np.where(first, j_, i_)
        pts = []
        for tau in TAUS:
            pi = np.stack([offline_ipo_optimum(mu[n], w[n_ == n], l[n_ == n], tau) for n in range(N)])
            pts.append((tau, *metrics(pi, mu, P, r, held)))
        out[f"offline IPO ({name} pairs)"] = pts
    pts = []
    for tau in TAUS:
        pi = np.stack([online_ipo_sampled(mu[n], P[n], tau=tau, labels=args.labels, batch=args.batch,
                                          lr=args.lr, rng=gen) for n in range(N)])
        pts.append((tau, *metrics(pi, mu, P, r, held)))
    out["online IPO"] = pts
    return out


def at_equal_kl(pts, grid):
    kl = np.array([p[1] for p in pts])
    order = np.argsort(kl)
    win, acc = np.array([p[2] for p in pts])[order], np.array([p[3] for p in pts])[order]
    kl = kl[order]
    inside = (grid >= kl[0]) & (grid <= kl[-1])
    return (np.where(inside, np.interp(grid, kl, win), np.nan), np.where(inside, np.interp(grid, kl, acc), np.nan))


def lm_section(args) -> dict:
    """Tiny LM: offline IPO (pairs sampled from the reference) vs online IPO, same number of labels."""
    import torch

    torch.set_num_threads(1)
    from duelbandit.finetune.models import tiny_lm
    from duelbandit.finetune.online_lm import OnlineConfig, train_online
    from duelbandit.finetune.pairs import PreferenceRow
    from duelbandit.finetune.preference import CallablePreference
    from duelbandit.finetune.sampling import generate_mixture
    from duelbandit.finetune.trainer import TrainConfig, train

    prompts = ["What is 2 + 3?", "Name a colour.", "Capital of France?", "Spell cat.", "Count to three."]

    def key(t):
        return ord(t[0]) if t else 0x110000

    def pref(x, a, b):
        return 1.0 if key(a) < key(b) else 0.0 if key(a) > key(b) else 0.5

    res = {}
    n_labels = args.lm_steps * args.lm_batch
    for seed in range(args.lm_seeds):
        ref, tok = tiny_lm(seed=seed)
        # offline: label pairs of reference samples (ties dropped, as a TRL export would)
        xs = [prompts[k % len(prompts)] for k in range(3 * n_labels)]  # extra draws: ties are dropped
        g = torch.Generator().manual_seed(1000 + seed)
        a, _ = generate_mixture(ref, None, tok, xs, max_new_tokens=args.lm_tokens, generator=g, batch_size=64)
        b, _ = generate_mixture(ref, None, tok, xs, max_new_tokens=args.lm_tokens, generator=g, batch_size=64)
        gen = np.random.default_rng(seed)
        rows = []
        for x, ya, yb in zip(xs, a, b):
            p = pref(x, ya, yb)
            if p == 0.5 or not ya.strip() or not yb.strip():
                continue
            w = gen.random() < p
            rows.append(PreferenceRow(prompt=x, chosen=(ya if w else yb,), rejected=(yb if w else ya,)))
        rows = rows[:n_labels]  # the same number of labels (and of optimiser steps) as the online run
        models = {}
        off, _ = tiny_lm(seed=seed)
        train(off, tok, rows, TrainConfig(loss="ipo", tau=args.lm_tau, beta=args.lm_tau, lr=args.lm_lr,
                                          batch_size=args.lm_batch, epochs=args.lm_epochs, seed=seed),
              None, device="cpu", verbose=False)
        models["offline IPO"] = off
        on, _ = tiny_lm(seed=seed)
        train_online(on, tok, prompts, CallablePreference(pref),
                     OnlineConfig(mode="online_ipo", tau=args.lm_tau, lr=args.lm_lr, steps=args.lm_steps,
                                  prompts_per_step=args.lm_batch, max_new_tokens=args.lm_tokens, seed=seed),
                     None, reference=ref, verbose=False)
        models["online IPO"] = on
        from duelbandit.finetune.dera import realign_sweep

        evalx = prompts * 60
        refs, _ = generate_mixture(ref, None, tok, evalx, max_new_tokens=args.lm_tokens,
                                   generator=torch.Generator().manual_seed(78), batch_size=100)
        for name, m in models.items():
            # DeRa puts each trained model on a win-rate-vs-KL curve (lambda 1 = the model as trained)
            rows_, texts = realign_sweep(m, ref, tok, evalx, LM_LAMBDAS, max_new_tokens=args.lm_tokens, seed=77,
                                         batch_size=100, verbose=False)
            curve = [(r["lambda"], r["kl_per_token"],
                      float(np.mean([pref(x, y, z) for x, y, z in zip(evalx, texts[r["lambda"]], refs)])))
                     for r in rows_]
            at1 = next(c for c in curve if c[0] == 1.0)
            res.setdefault(name, []).append({"win_rate": at1[2], "kl_per_token": at1[1], "curve": curve,
                                             "labels": len(rows) if name == "offline IPO" else n_labels})
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--K", type=int, default=16)
    ap.add_argument("--d", type=int, default=4)
    ap.add_argument("--scale", type=float, default=3.0, help="||theta*||")
    ap.add_argument("--labels", type=int, default=32, help="labels per prompt")
    ap.add_argument("--batch", type=int, default=4, help="online pairs per step")
    ap.add_argument("--lr", type=float, default=0.5)
    ap.add_argument("--no-lm", action="store_true")
    ap.add_argument("--lm-seeds", type=int, default=3)
    ap.add_argument("--lm-steps", type=int, default=30)
    ap.add_argument("--lm-batch", type=int, default=8)
    ap.add_argument("--lm-tokens", type=int, default=1)
    ap.add_argument("--lm-tau", type=float, default=0.1)
    ap.add_argument("--lm-lr", type=float, default=2e-2)
    ap.add_argument("--lm-epochs", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.seeds, args.lm_seeds, args.lm_steps = 2, 1, 10
    t0 = time.time()
    load0 = os.getloadavg()
    runs = [run_seed(s, args) for s in range(args.seeds)]
    names = list(runs[0])
    kls = np.array([[p[1] for p in run[n]] for run in runs for n in names])  # (curves, taus)
    lo, hi = np.median(kls.min(1)), np.median(kls.max(1))  # KL range most curves cover
    grid = np.linspace(lo, hi, 12)
    table = {n: np.array([at_equal_kl(run[n], grid) for run in runs]) for n in names}  # (seeds, 2, G)
    lm = None if args.no_lm else lm_section(args)
    secs = time.time() - t0
    write(args, runs, names, grid, table, lm, secs, load0)


def band(x):
    m = np.nanmean(x, axis=0)
    se = np.nanstd(x, axis=0, ddof=1) / np.sqrt(np.sum(~np.isnan(x), axis=0))
    return m, se


def write(args, runs, names, grid, table, lm, secs, load0) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for n in names:
        for k, ax in enumerate(axes):
            m, se = band(table[n][:, k])
            ax.plot(grid, m, "o-", ms=3, label=n)
            ax.fill_between(grid, m - 1.96 * se, m + 1.96 * se, alpha=0.2)
    axes[0].set_ylabel("true win rate P(π > μ)")
    axes[1].set_ylabel("held-out pairwise accuracy of log π/μ")
    for ax in axes:
        ax.set_xlabel("KL(π || μ) (mean over prompts)")
        ax.legend(fontsize=8)
    fig.suptitle(f"Online vs offline IPO, tabular, {args.labels} labels per prompt, {args.seeds} seeds (95% bands)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(OUT / "bench_online.png", dpi=110)
    plt.close(fig)
    lines = ["# Online vs offline IPO at equal labels and equal KL (bench_online.py)", "",
             (f"Tabular testbed: {args.prompts} prompts x {args.K} responses, d = {args.d}, ||theta*|| = {args.scale}, "
             f"BT truth, Dirichlet(1) reference; {args.labels} labels per prompt for every method; tau grid {TAUS}; "
             f"online: batches of {args.batch} pairs from the current policy, SGD lr {args.lr}. {args.seeds} seeds; "
             "mean ± 1.96 se over seeds, at equal KL (linear interpolation on each seed's tau curve)."), "",
             "| KL(π‖μ) | " + " | ".join(f"win: {n}" for n in names) + " | " + " | ".join(f"acc: {n}" for n in names) + " |",
             "|---|" + "---|" * (2 * len(names))]
    for g in range(len(grid)):
        cells = []
        for k in (0, 1):
            for n in names:
                m, se = band(table[n][:, k])
                cells.append(f"{m[g]:.3f} ± {1.96 * se[g]:.3f}")
        lines.append(f"| {grid[g]:.3f} | " + " | ".join(cells) + " |")
    on = table["online IPO"]
    lines.append("")
    for n in names[:-1]:
        d_win, d_acc = on[:, 0] - table[n][:, 0], on[:, 1] - table[n][:, 1]
        lines.append(f"- online minus {n}, averaged over the KL grid: win rate {np.nanmean(d_win):+.3f} "
                     f"(online ahead on {np.nanmean(d_win > 0) * 100:.0f}% of seed x KL points), held-out accuracy "
                     f"{np.nanmean(d_acc):+.3f} (online ahead on {np.nanmean(d_acc > 0) * 100:.0f}%).")
    lines.append("")
    if lm is not None:
        lines += ["## Tiny LM: online vs offline IPO, same number of labels", "",
                  (f"Built-in tiny LM; P prefers the completion whose first character has the smaller code point; "
                  f"{args.lm_steps * args.lm_batch} labels (offline: pairs of reference samples, ties dropped), "
                  f"tau {args.lm_tau}, lr {args.lm_lr}, {args.lm_tokens} new token(s); {args.lm_seeds} seeds; "
                  "win rate vs reference samples under P (300 pairs) and exact per-token KL to the reference."), "",
                  "| method | win rate vs reference | KL per token | labels |", "|---|---|---|---|"]
        for n, rs in lm.items():
            w = np.array([r["win_rate"] for r in rs])
            k = np.array([r["kl_per_token"] for r in rs])
            lines.append(f"| {n} | {w.mean():.3f} ± {w.std(ddof=1) / np.sqrt(len(w)) if len(w) > 1 else 0:.3f} | "
                         f"{k.mean():.3f} | {int(np.mean([r['labels'] for r in rs]))} |")
        # equal KL through DeRa: interpolate each seed's (KL, win) curve over lambda at common KL levels
        kmax = min(max(c[1] for c in r["curve"]) for rs in lm.values() for r in rs)
        kmin = max(min(c[1] for c in r["curve"]) for rs in lm.values() for r in rs)
        if kmax > kmin:
            grid = np.linspace(kmin, kmax, 4)
            lines += ["", ("At equal KL (DeRa sweep of each trained model over lambda in "
                      f"{LM_LAMBDAS}, win rate interpolated at common KL per token, mean over seeds):"), "",
                      "| KL per token | " + " | ".join(lm) + " |", "|---|" + "---|" * len(lm)]
            for g in grid:
                cells = []
                for rs in lm.values():
                    vals = []
                    for r in rs:
                        c = sorted(r["curve"], key=lambda t: t[1])
                        vals.append(np.interp(g, [t[1] for t in c], [t[2] for t in c]))
                    cells.append(f"{np.mean(vals):.3f}")
                lines.append(f"| {g:.3f} | " + " | ".join(cells) + " |")
        else:
            lines += ["", "The two methods' DeRa curves do not overlap in KL: no equal-KL comparison."]
        lines.append("")
    import torch

    lines += ["## Machine", "", (f"{platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}, "
              f"torch threads 1 (LM section); load average at start {load0[0]:.1f}, at end {os.getloadavg()[0]:.1f} "
              f"(shared, loaded 2-core machine); total {secs:.0f} s. torch {torch.__version__}."), ""]
    (OUT / "bench_online.md").write_text("\n".join(lines))
    (OUT / "bench_online.json").write_text(json.dumps({"grid": grid.tolist(), "names": names,
                                                       "table": {n: table[n].tolist() for n in names},
                                                       "lm": lm}, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
