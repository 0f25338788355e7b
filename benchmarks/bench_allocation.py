"""Question: when annotator noise differs by skill cluster (and is unknown), does a RandQL agent that
allocates each batch of labels to a cluster lower the final simple regret, at equal labels, against
uniform-over-clusters and the noise-blind ODPO design?

Instance (per seed): a well-specified anisotropic synthetic pool (200 prompts, 4-6 responses, d = 8,
||theta*|| = 2) whose 4 prompt clusters are ``Pool.skills``. Labels flip with probability
eps = 0.5 / 0.25 / 0.1 / 0.0 by cluster (a coin, two noisy, one clean), assigned to the clusters by a
random permutation drawn from the seed. Budget T = 400 labels = H 8 batches of m = 50.

Contenders, all at T labels, final Bradley–Terry fit noise-blind (lambda = 1/d), regret of its greedy
policy over ALL prompts:

- ``uniform``: random prompt, random pair (sanity line).
- ``odpo``: D-optimal design on all candidates rounded to T (noise-blind).
- ``uniform_clusters``: batch h to cluster h mod 4 (equal shares), pairs inside by the same greedy
  log-det as the allocator: isolates the allocation decision.
- ``randql_allocator``: RandQL trained on simulated campaigns of the same pool (same noise, fresh label
  draws, never shown the noise) with the default MDP (state "step", reward "logdet"), then deployed.
- ablations: ``randql[loglik]`` (held-out likelihood reward), ``randql[visited]`` (S = 2^C states).
- ``etc_agreement``: no RL - one batch per cluster, estimate each cluster's reliability by held-out
  agreement (the same gold set and estimator as the reward), then every other batch to the best.
- ``oracle_cluster``: knows the noise, every batch to the clean cluster (a reference, not a contender).

Writes benchmarks/results/bench_allocation.md and .png. ``--quick``: 3 seeds, 60 training campaigns.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # a shared 2-core machine

import argparse
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from duelbandit.annotate import Labels
from duelbandit.regret import greedy_policy, simple_regret
from duelbandit.reward import BradleyTerry
from duelbandit.select.allocation import (
    AllocationConfig,
    AllocationEnv,
    ClusterNoiseBT,
    agreement_terms,
    gold_validation,
    prompt_clusters,
    train_allocator,
)
from duelbandit.select import ODPOSelector, SelectionState, UniformSelector
from duelbandit.select.allocator import RandQLAllocator
from duelbandit.data.synthetic import make_synthetic_pool

RESULTS = Path(__file__).parent / "results"
FLIPS = np.array([0.5, 0.25, 0.1, 0.0])
N_PROMPTS, RESPONSES, DIM, NORM = 200, (4, 6), 8, 2.0
M, H, N_VAL = 50, 8, 400
ORDER = ["uniform", "odpo", "uniform_clusters", "randql_allocator", "randql[loglik]", "randql[visited]",
         "etc_agreement", "oracle_cluster"]


def machine_info() -> str:
    cpu = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        cpu = next((ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith("Model name")), cpu)
    except OSError:
        pass
    return (f"{cpu}; {os.cpu_count()} logical CPUs (shared); Python {platform.python_version()}, numpy "
            f"{np.__version__}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}; load average "
            f"{' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


def one_hot(plan: list[int], C: int) -> np.ndarray:
    pi = np.zeros((len(plan), 1, C))
    pi[np.arange(len(plan)), 0, plan] = 1.0
    return pi


def regret_of(labels: Labels, pool, feats, rewards, lam: float) -> tuple[float, float, float]:
    B = pool.pairs().differences(feats.X, labels.pairs)
    theta = BradleyTerry(lam=lam).fit(B, labels.y).coef_
    r = simple_regret(rewards, greedy_policy(theta, feats.X, pool), pool)
    return r.max, r.mean, r.frac_optimal


def campaign(pool, feats, annotator, choose, gen) -> tuple[list[Labels], list[int]]:
    """H batches of M labels through RandQLAllocator.select (the selector path); ``choose(h, labels)``
    returns the selector of step h. Returns the labels of every step and the cluster of every step."""
    parts: list[Labels] = []
    clusters = []
    for h in range(H):
        so_far = Labels.concat(parts) if parts else None
        sel = choose(h, so_far)
        batch = sel.select(SelectionState(pool, feats, labels=so_far), M, gen)
        clusters.append(batch.info["cluster_per_step"][0])
        parts.append(annotator.label(batch))
    return parts, clusters


def run_seed(seed: int, episodes: int) -> dict:
    t0 = time.perf_counter()
    sp = make_synthetic_pool(N_PROMPTS, RESPONSES, DIM, S=NORM, kind="anisotropic", n_clusters=4, rng=seed)
    pool, feats, rewards = sp.pool, sp.features, sp.rewards
    ss = np.random.SeedSequence(seed).spawn(8)
    cl = prompt_clusters(pool, feats)
    C = cl.n
    flip = FLIPS[np.random.default_rng(ss[0]).permutation(C)]  # which cluster gets which noise
    coin, clean = int(np.argmax(flip)), int(np.argmin(flip))
    lam = 1.0 / DIM
    val = gold_validation(pool, feats, sp.theta_star, N_VAL, rng=np.random.default_rng(ss[1]))

    def annotator(gen_seed) -> ClusterNoiseBT:
        return ClusterNoiseBT(sp.theta_star, pool, feats, cl.of_prompt, flip, rng=np.random.default_rng(gen_seed))

    out: dict = {"seed": seed, "flip": flip.tolist(), "cluster_sizes": np.bincount(cl.of_prompt).tolist(),
                 "selectors": {}, "training": {}}
    # --- training on simulated campaigns (fresh label draws; the agent never sees `flip`)
    trained = {}
    for tag, cfg in (("randql_allocator", AllocationConfig(batch_size=M, horizon=H)),
                     ("randql[loglik]", AllocationConfig(batch_size=M, horizon=H, reward="loglik")),
                     ("randql[visited]", AllocationConfig(batch_size=M, horizon=H, state="visited"))):
        env = AllocationEnv(pool, feats, cl, annotator(ss[2]), val, cfg)
        t1 = time.perf_counter()
        tr = train_allocator(env, episodes, rng=np.random.default_rng(ss[3]))
        trained[tag] = RandQLAllocator.from_agent(tr.agent, env)
        out["training"][tag] = {
            "to_coin": (tr.actions[0] == coin).mean(axis=1).tolist(),
            "to_clean": (tr.actions[0] == clean).mean(axis=1).tolist(),
            "final_loglik": tr.final_loglik[0].tolist(),
            "seconds": time.perf_counter() - t1,
        }
    # --- deployment: every contender faces the same annotator seed
    dep = ss[4]
    state = SelectionState(pool, feats)
    cand = pool.pairs()
    of_cand = cl.of_prompt[cand.prompt]

    def record(name, prefix_labels, index_all):
        curve = [regret_of(lab, pool, feats, rewards, lam) for lab in prefix_labels]
        share = np.bincount(of_cand[index_all], minlength=C) / index_all.shape[0]
        out["selectors"][name] = {"max": [c[0] for c in curve], "mean": [c[1] for c in curve],
                                  "frac_optimal": [c[2] for c in curve], "share": share.tolist()}

    for name, sel in (("uniform", UniformSelector()), ("odpo", ODPOSelector())):
        prefix, last = [], None
        for h in range(1, H + 1):
            batch = sel.select(state, h * M, np.random.default_rng(ss[5]))
            last = annotator(dep).label(batch)
            prefix.append(last)
        record(name, prefix, last.pairs)

    def cumulative(parts):
        return [Labels.concat(parts[: h + 1]) for h in range(H)]

    rr = RandQLAllocator(policy=one_hot([h % C for h in range(H)], C), clusters=cl.of_prompt, batch_size=M)
    fixed = {
        "uniform_clusters": lambda h, lab: rr,
        "oracle_cluster": lambda h, lab: RandQLAllocator(policy=one_hot([clean] * H, C), clusters=cl.of_prompt,
                                                         batch_size=M),
    }
    for tag, sel in trained.items():
        fixed[tag] = lambda h, lab, sel=sel: sel
    for name, choose in fixed.items():
        parts, steps = campaign(pool, feats, annotator(dep), choose, np.random.default_rng(ss[6]))
        record(name, cumulative(parts), np.concatenate([p.pairs for p in parts]))
        out["selectors"][name]["steps"] = steps

    # explore-then-commit on held-out agreement (no RL): one batch per cluster, then the most reliable
    B = cand.differences(feats.X)
    theta_ref = BradleyTerry(lam=lam).fit(B[val.pairs], val.y).coef_

    def etc(h, lab):
        if h < C:
            a = h
        else:
            tx, xx = agreement_terms(theta_ref, B[lab.pairs], lab.y)
            c_of = of_cand[lab.pairs]
            slope = np.bincount(c_of, tx, minlength=C) / np.maximum(np.bincount(c_of, xx, minlength=C), 1e-300)
            a = int(np.argmax(slope))
        plan = [a] * H
        return RandQLAllocator(policy=one_hot(plan, C), clusters=cl.of_prompt, batch_size=M)

    parts, steps = campaign(pool, feats, annotator(dep), etc, np.random.default_rng(ss[6]))
    record("etc_agreement", cumulative(parts), np.concatenate([p.pairs for p in parts]))
    out["selectors"]["etc_agreement"]["steps"] = steps
    out["coin"], out["clean"] = coin, clean
    out["seconds"] = time.perf_counter() - t0
    return out


def summarise(runs: list[dict]) -> dict:
    S = {}
    for name in ORDER:
        mx = np.array([r["selectors"][name]["max"] for r in runs])  # (seeds, H)
        mn = np.array([r["selectors"][name]["mean"] for r in runs])
        fo = np.array([r["selectors"][name]["frac_optimal"] for r in runs])
        coin = np.array([r["selectors"][name]["share"][r["coin"]] for r in runs])
        clean = np.array([r["selectors"][name]["share"][r["clean"]] for r in runs])
        S[name] = {"max": mx, "mean": mn, "frac": fo, "coin": coin, "clean": clean}
    return S


def paired(S, a: str, b: str, key: str = "max") -> tuple[float, float, int, int]:
    diff = S[a][key][:, -1] - S[b][key][:, -1]
    n = diff.shape[0]
    return float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0, int((diff < 0).sum()), n


def write_markdown(runs: list[dict], S: dict, args, seconds: float) -> str:
    n = len(runs)
    T = H * M

    def ms(x):
        return f"{x.mean():.3f} ± {x.std(ddof=1) if x.shape[0] > 1 else 0.0:.3f}"

    lines = [
        "# RandQL allocates the label budget over skill clusters",
        "",
        (f"Anisotropic synthetic pool per seed ({N_PROMPTS} prompts, {RESPONSES[0]}-{RESPONSES[1]} responses, d = {DIM}, "
        f"||theta*|| = {NORM}, 4 clusters = `Pool.skills`); label flip probability by cluster {FLIPS.tolist()} "
        "(assigned by a random permutation per seed; 0.5 = a coin). Budget T = "
        f"{T} labels = {H} batches of {M}. Final BT fit noise-blind (lambda = 1/d); simple regret of its greedy "
        "policy over all prompts. RandQL (J = 10, kappa = 1, n0 = 1/S; unchanged) is trained on "
        f"{args.episodes} simulated campaigns per seed ({args.episodes * T:,} simulated labels, not counted in T, "
        f"plus {N_VAL} gold validation labels for the reward) and deployed through `randql_allocator`. "
        f"{n} seeds; mean ± std over seeds."),
        "",
        f"Machine: {machine_info()}. Wall-clock {seconds:.0f} s.",
        "",
        f"## Final simple regret at T = {T}",
        "",
        "| selector | max regret | mean regret | frac optimal | share to coin cluster | share to clean cluster |",
        "|:---|---:|---:|---:|---:|---:|",
    ]
    for name in ORDER:
        s = S[name]
        lines.append(f"| {name} | {ms(s['max'][:, -1])} | {ms(s['mean'][:, -1])} | {ms(s['frac'][:, -1])} | "
                     f"{ms(s['coin'])} | {ms(s['clean'])} |")
    lines += ["", ("Paired differences at T (per seed, same pool and annotator seed; negative = first is better; "
                   "± standard error; wins = seeds where the first is lower):"), "",
              "| comparison | max regret diff | wins | mean regret diff | wins |", "|:---|---:|---:|---:|---:|"]
    for a, b in (("randql_allocator", "uniform_clusters"), ("randql_allocator", "odpo"),
                 ("randql_allocator", "uniform"), ("randql_allocator", "etc_agreement"),
                 ("randql_allocator", "oracle_cluster"), ("randql_allocator", "randql[loglik]"),
                 ("randql_allocator", "randql[visited]"), ("uniform_clusters", "odpo")):
        d1, e1, w1, _ = paired(S, a, b, "max")
        d2, e2, w2, _ = paired(S, a, b, "mean")
        lines.append(f"| {a} - {b} | {d1:+.3f} ± {e1:.3f} | {w1}/{n} | {d2:+.4f} ± {e2:.4f} | {w2}/{n} |")
    lines += ["", "Max regret after each batch (mean over seeds):", "",
              "| selector | " + " | ".join(str(M * (h + 1)) for h in range(H)) + " |",
              "|:---|" + "---:|" * H]
    for name in ORDER:
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in S[name]["max"].mean(0)) + " |")
    tr = {tag: np.array([r["training"][tag]["to_coin"] for r in runs]) for tag in runs[0]["training"]}
    tc = {tag: np.array([r["training"][tag]["to_clean"] for r in runs]) for tag in runs[0]["training"]}
    secs = {tag: np.mean([r["training"][tag]["seconds"] for r in runs]) for tag in runs[0]["training"]}
    E = args.episodes
    tenth = max(E // 10, 1)
    lines += ["", ("Training (simulated campaigns): share of batches sent to the coin / the clean cluster, "
                   f"first and last {tenth} campaigns, mean over seeds:"), "",
              "| agent | coin, first | coin, last | clean, first | clean, last | seconds per training |",
              "|:---|---:|---:|---:|---:|---:|"]
    for tag in tr:
        lines.append(f"| {tag} | {tr[tag][:, :tenth].mean():.2f} | {tr[tag][:, -tenth:].mean():.2f} | "
                     f"{tc[tag][:, :tenth].mean():.2f} | {tc[tag][:, -tenth:].mean():.2f} | {secs[tag]:.1f} |")
    lines += ["", "Deployed cluster per step (coin = C, clean = K, other = .), seeds 0-2:", ""]
    for r in runs[:3]:
        def code(steps, r=r):
            return "".join("C" if a == r["coin"] else "K" if a == r["clean"] else "." for a in steps)
        lines.append(f"- seed {r['seed']}: randql_allocator `{code(r['selectors']['randql_allocator']['steps'])}`, "
                     f"[loglik] `{code(r['selectors']['randql[loglik]']['steps'])}`, "
                     f"[visited] `{code(r['selectors']['randql[visited]']['steps'])}`, "
                     f"etc `{code(r['selectors']['etc_agreement']['steps'])}`")
    return "\n".join(lines) + "\n"


def plot(runs, S, path: Path, episodes: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(runs)
    x = M * np.arange(1, H + 1)
    colors = dict(zip(ORDER, ["#999999", "#1f77b4", "#2ca02c", "#d62728", "#ff9896", "#e377c2", "#9467bd", "#000000"]))
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    for ax, key, title in ((axes[0, 0], "max", "max regret over prompts"), (axes[0, 1], "mean", "mean regret over prompts")):
        for name in ORDER:
            v = S[name][key]
            m, se = v.mean(0), v.std(0, ddof=1) / np.sqrt(n) if n > 1 else 0 * v.mean(0)
            main = name in ("odpo", "uniform_clusters", "randql_allocator")
            ls = "--" if name in ("oracle_cluster", "uniform") else "-" if main else ":"
            ax.plot(x, m, ls, color=colors[name], label=name, lw=2.2 if name == "randql_allocator" else 1.4 if main else 1)
            if main:  # bands for the three contenders only: the others would hide them
                ax.fill_between(x, m - se, m + se, color=colors[name], alpha=0.15)
        ax.set_xlabel("labels")
        ax.set_ylabel("simple regret")
        ax.set_title(f"{title}: mean over {n} seeds, bands ± 1 s.e.")
        ax.set_yscale("log")
    axes[0, 0].legend(fontsize=8)
    ax = axes[1, 0]
    names = ORDER
    coin = np.array([S[k]["coin"].mean() for k in names])
    clean = np.array([S[k]["clean"].mean() for k in names])
    other = 1 - coin - clean
    ax.barh(names, clean, color="#2ca02c", label="clean cluster (eps = 0)")
    ax.barh(names, other, left=clean, color="#cccccc", label="eps = 0.1, 0.25")
    ax.barh(names, coin, left=clean + other, color="#d62728", label="coin cluster (eps = 0.5)")
    ax.set_xlabel("share of the T labels (mean over seeds)")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3)
    ax.invert_yaxis()
    ax = axes[1, 1]
    for tag, c in (("randql_allocator", "#d62728"), ("randql[loglik]", "#ff9896"), ("randql[visited]", "#e377c2")):
        v = np.array([r["training"][tag]["to_coin"] for r in runs])
        w = max(episodes // 30, 1)
        k = np.ones(w) / w
        sm = np.array([np.convolve(row, k, mode="valid") for row in v])
        ax.plot(np.arange(sm.shape[1]) + w, sm.mean(0), color=c, label=f"{tag}: to coin")
        v = np.array([r["training"][tag]["to_clean"] for r in runs])
        sm = np.array([np.convolve(row, k, mode="valid") for row in v])
        ax.plot(np.arange(sm.shape[1]) + w, sm.mean(0), ":", color=c, label=f"{tag}: to clean")
    ax.axhline(0.25, color="#2ca02c", lw=0.8, label="uniform over clusters")
    ax.set_xlabel("training campaign")
    ax.set_ylabel("share of batches (moving avg., mean over seeds)")
    ax.set_title("what RandQL learns on the simulated campaigns")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--episodes", type=int, default=300, help="training campaigns per seed (default 300)")
    p.add_argument("--quick", action="store_true", help="3 seeds, 60 training campaigns")
    p.add_argument("--out", default=str(RESULTS))
    args = p.parse_args()
    if args.quick:
        args.seeds, args.episodes = 3, 60
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    runs = []
    for seed in range(args.seeds):
        runs.append(run_seed(seed, args.episodes))
        r = runs[-1]["selectors"]
        print(f"seed {seed}: {runs[-1]['seconds']:.1f} s; max regret at T: "
              + ", ".join(f"{k} {r[k]['max'][-1]:.3f}" for k in ORDER), flush=True)
    S = summarise(runs)
    seconds = time.perf_counter() - t0
    md = write_markdown(runs, S, args, seconds)
    (out / "bench_allocation.md").write_text(md, encoding="utf-8")
    plot(runs, S, out / "bench_allocation.png", args.episodes)
    print(md)


if __name__ == "__main__":
    main()
