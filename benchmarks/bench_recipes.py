"""Question: which features let a linear Bradley–Terry model pick the best response on the bundled text pool,
and does the fit / design stay fast at the width the best recipe needs?

For each feature recipe (hashing at d = 32 / 128, joint and concat; MiniLM in the joint, response and
interaction modes, at full width and PCA to 32 / 64 / 128 / 256) it computes the linear-BT "ceiling"
(:func:`duelbandit.theory.experiment.best_linear_fit`: the BT fit on ALL candidate pairs with the judge's exact
preference probabilities as soft labels; the fraction of prompts where its greedy policy picks the best
response, and its max / mean simple regret). A random pick gets mean(1/K_n).

It also times, per width d: the BT fit on all pairs, and one ODPO selection (design on all candidates +
rounding) at budget 400, so the cost of a wide recipe is on the same table.

Writes benchmarks/results/bench_recipes.md and .png.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--budget", type=int, default=400, help="ODPO budget for the timing column")
    ap.add_argument("--odpo-max-d", type=int, default=128, help="time ODPO only up to this width")
    ap.add_argument("--cache", default=None, help="vector cache folder (default: a fresh temporary one)")
    ap.add_argument("--out", default=str(RESULTS / "bench_recipes"))
    args = ap.parse_args()

    import torch

    from duelbandit.data.textpool import make_text_pool, text_pool_rewards
    from duelbandit.embed import HashingEmbedder, TransformerEmbedder
    from duelbandit.theory.experiment import best_linear_fit
    from duelbandit.select import ODPOSelector, SelectionState

    pool = make_text_pool(args.prompts, seed=args.seed)
    rewards = text_pool_rewards(pool)
    random_pick = float(np.mean(1 / pool.response_counts))
    rows = []

    def measure(label: str, feats) -> None:
        state = SelectionState(pool=pool, features=feats)
        t0 = time.perf_counter()
        _, rep = best_linear_fit(state, rewards)
        fit_s = time.perf_counter() - t0
        sel_s = float("nan")
        if feats.dim <= args.odpo_max_d:
            t0 = time.perf_counter()
            ODPOSelector().select(state, args.budget, np.random.default_rng(args.seed))
            sel_s = time.perf_counter() - t0
        rows.append({"recipe": label, "d": feats.dim, "frac_optimal": rep.frac_optimal, "max": rep.max,
                     "mean": rep.mean, "fit_s": fit_s, "odpo_s": sel_s})
        print(f"{label:32s} d={feats.dim:4d} best on {rep.frac_optimal:.1%}  fit {fit_s:.2f}s  odpo {sel_s:.2f}s",
              flush=True)

    for d in (32, 128):
        for mode in ("joint", "concat"):
            measure(f"hashing {mode}", HashingEmbedder(dim=d, mode=mode, seed=args.seed).embed(pool))
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache or tmp
        for mode in ("joint", "response", "interaction"):
            emb = TransformerEmbedder("minilm", mode=mode, seed=args.seed, cache=cache)
            Z = emb.raw(pool)  # encoded once per mode; PCA variants reuse the raw rows
            for dim in (None, 32, 64, 128, 256):
                e = TransformerEmbedder("minilm", mode=mode, dim=dim, seed=args.seed, cache=cache)
                measure(f"minilm {mode}" + ("" if dim is None else f" + PCA {dim}"), e.features_from_raw(Z, pool))

    load = os.getloadavg()
    lines = [
        "# Feature recipes on the bundled text pool: the linear-BT ceiling", "",
        (f"Pool: bundled text pool, {pool.n_prompts} prompts, {pool.n_responses} responses, {pool.n_pairs} pairs; "
         f"judge rewards. Ceiling = BT fit on ALL pairs with the judge's exact probabilities (lambda = 1/d); "
         f"a random pick is best on {random_pick:.1%} of prompts. Times: BT fit on all pairs, and one ODPO "
         f"selection (design + rounding) at budget {args.budget}, timed only up to d = {args.odpo_max_d} "
         "(at d = 384 one selection took 537 s in a first run on this loaded machine)."), "",
        "| recipe | d | best response picked | max regret | mean regret | BT fit (s) | ODPO select (s) |",
        "|:---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['recipe']} | {r['d']} | {r['frac_optimal']:.1%} | {r['max']:.3f} | {r['mean']:.3f} | "
                     f"{r['fit_s']:.2f} | " + ("—" if np.isnan(r["odpo_s"]) else f"{r['odpo_s']:.2f}") + " |")
    lines += ["", (f"Machine: {platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), load average "
                   f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}; torch threads {torch.get_num_threads()}, "
                   f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; python {platform.python_version()}."),
              "Timings are noisy on this loaded machine; the ceiling columns are exact (deterministic)."]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.5))
    labels = [f"{r['recipe']} ({r['d']})" for r in rows]
    ax.barh(labels, [100 * r["frac_optimal"] for r in rows], color="tab:blue")
    ax.axvline(100 * random_pick, color="grey", ls="--", label="random pick")
    ax.set_xlabel("% of prompts where the best linear BT model picks the best response")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    ax.set_title("linear-BT ceiling per feature recipe (bundled text pool)")
    fig.tight_layout()
    fig.savefig(out.with_suffix(".png"), dpi=110)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
