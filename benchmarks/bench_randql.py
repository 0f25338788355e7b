"""Question: how much faster is duelbandit's RandQL (batched over seeds, steps and ensemble members) than
a straightforward per-step implementation, on the paper's 10 x 10 grid-world (H = 50)?

All compute the same thing per episode: the RandQL updates of the paper (online, J = 10 members) and the
EXACT regret of the policy played (backward induction on the true model). Two straightforward versions, one
seed after the other and one step at a time: "literal" follows the pseudo-code (a Python loop over the J
members, scalar Beta draws); "reference-style" is written like the authors' code (numpy over the J
members). Also checks that all give the same regret statistically (different random streams).

Writes benchmarks/results/bench_randql.md and .png.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread: timings on a shared machine

import argparse
import platform
import time
from pathlib import Path

import numpy as np

from duelbandit.rl.envs import gridworld
from duelbandit.rl.mdp import optimal_values
from duelbandit.rl.randql import RandQL
from duelbandit.rl.runner import run_agent

RESULTS = Path(__file__).parent / "results"


def straightforward_randql(mdp, n_episodes: int, seed: int, J: int = 10, kappa: float = 1.0) -> np.ndarray:
    """RandQL one step at a time for ONE seed (reference-code style); returns the exact regret per episode."""
    rng = np.random.default_rng(seed)
    S, A, H = mdp.S, mdp.A, mdp.H
    P, R, mu0 = mdp.P, mdp.R, mdp.mu0
    n0 = 1.0 / S
    vmax = np.arange(H, 0, -1, dtype=float)
    n = np.full((H, S, A), n0 * kappa)
    Q = np.ones((J, H, S, A)) * vmax[None, :, None, None]
    Qbar = np.ones((H, S, A)) * vmax[:, None, None]
    V = np.zeros((H + 1, S))
    V[:H] = vmax[:, None]
    _, V_star = optimal_values(mdp)
    v_star = mu0 @ V_star[0]
    cdf = np.cumsum(P, axis=-1)
    cdf0 = np.cumsum(mu0)
    regret = np.empty(n_episodes)
    for t in range(n_episodes):
        # exact value of the greedy policy played this episode (ties split uniformly)
        Vpi = np.zeros(S)
        for h in range(H - 1, -1, -1):
            q = Qbar[h]
            pi = (q == q.max(axis=1, keepdims=True)).astype(float)
            pi /= pi.sum(axis=1, keepdims=True)
            Vpi = (pi * (R + P @ Vpi)).sum(axis=1)
        regret[t] = v_star - mu0 @ Vpi
        s = min(int(np.searchsorted(cdf0, rng.random(), side="right")), S - 1)
        for h in range(H):
            q = Qbar[h, s]
            best = np.flatnonzero(q == q.max())
            a = int(best[rng.integers(len(best))])
            s2 = min(int(np.searchsorted(cdf[s, a], rng.random(), side="right")), S - 1)
            r = R[s, a]
            n[h, s, a] += 1
            nn = n[h, s, a]
            u = rng.beta(nn, n0, size=J)
            w = rng.beta((H + 1) / kappa, nn / kappa, size=J)
            target = u * (r + V[h + 1, s2]) + (1 - u) * vmax[h]
            Q[:, h, s, a] = (1 - w) * Q[:, h, s, a] + w * target
            Qbar[h, s, a] = min(Qbar[h, s, a], Q[:, h, s, a].max())
            V[h, s] = min(vmax[h], Qbar[h, s].max())
            s = s2
    return regret


def literal_randql(mdp, n_episodes: int, seed: int, J: int = 10, kappa: float = 1.0) -> np.ndarray:
    """The pseudo-code taken literally for ONE seed: one step at a time, a Python loop over the J members,
    scalar Beta draws; exact regret by backward induction with explicit loops over h."""
    rng = np.random.default_rng(seed)
    S, A, H = mdp.S, mdp.A, mdp.H
    P, R, mu0 = mdp.P, mdp.R, mdp.mu0
    n0 = 1.0 / S
    vmax = [float(H - h) for h in range(H)]
    n = np.full((H, S, A), n0 * kappa)
    Q = np.ones((H, S, A, J)) * np.array(vmax)[:, None, None, None]
    Qbar = np.ones((H, S, A)) * np.array(vmax)[:, None, None]
    V = np.zeros((H + 1, S))
    V[:H] = np.array(vmax)[:, None]
    _, V_star = optimal_values(mdp)
    v_star = mu0 @ V_star[0]
    cdf = np.cumsum(P, axis=-1)
    cdf0 = np.cumsum(mu0)
    regret = np.empty(n_episodes)
    for t in range(n_episodes):
        Vpi = np.zeros(S)
        for h in range(H - 1, -1, -1):
            q = Qbar[h]
            pi = (q == q.max(axis=1, keepdims=True)).astype(float)
            pi /= pi.sum(axis=1, keepdims=True)
            Vpi = (pi * (R + P @ Vpi)).sum(axis=1)
        regret[t] = v_star - mu0 @ Vpi
        s = min(int(np.searchsorted(cdf0, rng.random(), side="right")), S - 1)
        for h in range(H):
            q = Qbar[h, s]
            best = np.flatnonzero(q == q.max())
            a = int(best[rng.integers(len(best))])
            s2 = min(int(np.searchsorted(cdf[s, a], rng.random(), side="right")), S - 1)
            r = R[s, a]
            n[h, s, a] += 1
            nn = n[h, s, a]
            top = -np.inf
            for j in range(J):
                u = rng.beta(nn, n0)
                w = rng.beta((H + 1) / kappa, nn / kappa)
                target = u * (r + V[h + 1, s2]) + (1 - u) * vmax[h]
                Q[h, s, a, j] = (1 - w) * Q[h, s, a, j] + w * target
                top = max(top, Q[h, s, a, j])
            Qbar[h, s, a] = min(Qbar[h, s, a], top)
            V[h, s] = min(vmax[h], Qbar[h, s].max())
            s = s2
    return regret


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    return (f"{cpu}; {os.cpu_count()} logical CPUs (shared); Python {platform.python_version()}, "
            f"numpy {np.__version__}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=300)
    p.add_argument("--seeds", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    mdp = gridworld()
    T, K = args.episodes, args.seeds

    t0 = time.perf_counter()
    naive = np.stack([straightforward_randql(mdp, T, args.seed + k) for k in range(K)])
    t_naive = time.perf_counter() - t0
    t0 = time.perf_counter()
    literal = np.stack([literal_randql(mdp, T, args.seed + 100 + k) for k in range(K)])
    t_literal = time.perf_counter() - t0

    rows = []
    ours = {}
    for k in sorted({K, 4 * K}):
        res = run_agent(mdp, RandQL(), T, k, args.seed)
        ours[k] = res
        rows.append((k, res.seconds))
    t_ours = ours[K].seconds

    lines = [
        "# RandQL: batched vs straightforward per-step implementation",
        "",
        (f"Grid-world 10 x 10, H = {mdp.H}, J = 10, {T} episodes per seed, exact regret every episode "
         "(all implementations). Per-step implementations run one seed after the other, one step at a time: "
         "'literal' follows the pseudo-code (Python loop over the J members, scalar Beta draws), "
         "'reference-style' has the authors' code structure (numpy over the members). Ours = "
         "`duelbandit.rl.RandQL` + `run_agent`: the seeds as a batch axis, each episode's H updates and the J "
         "members vectorised."),
        "",
        f"Machine: {machine()}",
        "",
        ("| implementation | seeds | wall-clock (s) | ms per episode (all seeds) | speed-up vs literal | "
        "speed-up vs reference-style |"),
        "|---|---:|---:|---:|---:|---:|",
        (f"| literal per-step pseudo-code (loop over members) | {K} | {t_literal:.2f} | {1e3 * t_literal / T:.2f} "
        f"| 1.0x | {t_naive / t_literal:.2f}x |"),
        (f"| reference-style per-step (numpy over members) | {K} | {t_naive:.2f} | {1e3 * t_naive / T:.2f} | "
        f"{t_literal / t_naive:.1f}x | 1.0x |"),
    ]
    for k, sec in rows:
        scale = k / K  # the per-step implementations' cost grows linearly with the seeds
        note = "" if k == K else " (per-step times scaled linearly)"
        lines.append(f"| batched (ours) | {k} | {sec:.2f} | {1e3 * sec / T:.2f} | {t_literal * scale / sec:.1f}x{note} "
                     f"| {t_naive * scale / sec:.1f}x{note} |")
    cr_lit, cr_naive, cr_ours = literal.sum(1), naive.sum(1), ours[K].regret.sum(1)
    lines += [
        "",
        (f"Same algorithm, different random streams: cumulative exact regret after {T} episodes, mean ± std "
         f"over {K} seeds: literal {cr_lit.mean():.1f} ± {cr_lit.std():.1f}, reference-style "
         f"{cr_naive.mean():.1f} ± {cr_naive.std():.1f}, batched {cr_ours.mean():.1f} ± {cr_ours.std():.1f}."),
        "",
        (f"Speed-up at {K} seeds: **{t_literal / t_ours:.1f}x** over the literal per-step implementation, "
         f"**{t_naive / t_ours:.1f}x** over the reference-style one (goal >= 10x). Timings on a shared machine "
         "vary from run to run; the ratios come from one run."),
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_randql.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
    names = [f"literal\n{K} seeds", f"reference-style\n{K} seeds"] + [f"batched\n{k} seeds" for k, _ in rows]
    ax0.bar(names, [1e3 * t_literal / T, 1e3 * t_naive / T] + [1e3 * s / T for _, s in rows],
            color=["lightgrey", "grey"] + ["C0"] * len(rows))
    ax0.set_ylabel("ms per episode (all seeds)")
    ax0.set_title("wall-clock per episode")
    x = np.arange(1, T + 1)
    for name, cr in (("literal", np.cumsum(literal, 1)), ("reference-style", np.cumsum(naive, 1)),
                     ("batched", ours[K].cumulative_regret)):
        (line,) = ax1.plot(x, cr.mean(0), label=name)
        ax1.fill_between(x, cr.mean(0) - cr.std(0), cr.mean(0) + cr.std(0), color=line.get_color(), alpha=0.2)
    ax1.set_xlabel("episode")
    ax1.set_ylabel("cumulative exact regret (± 1 std)")
    ax1.legend()
    ax1.set_title("same algorithm, same regret")
    fig.tight_layout()
    fig.savefig(RESULTS / "bench_randql.png", dpi=110)


if __name__ == "__main__":
    main()
