"""Question: how fast are duelbandit's RandQL and baselines against the authors' own code (d-tiapkin/rand-ql on
rlberry 0.4.0), per episode and seed, and do they reach the same regret?

Part 1, the paper's 10 x 10 grid-world (H = 50): the authors' RandQL (``RandomizedQLAgent`` from a checkout
given by ``--reference-repo``, run in a Python that has rlberry 0.4.0, ``--reference-python``) one seed after
the other, against ``duelbandit.rl.RandQL`` + ``run_agent`` with the seeds batched, at 1, 4 and 16 seeds. Time
is CPU time of the learning loop (``time.process_time``; wall-clock is also shown): the machine is shared,
and CPU time is what the load distorts least. Ours also computes the EXACT regret of every episode's policy,
which the authors' loop does not; theirs is timed without any evaluation (a "learning only" row of ours does
the same work). Regret agreement, on a longer run (``--agreement-episodes``, 4 seeds): the realised regret
(V*_0 - the episode's return, what the authors' plots show), mean ± std over seeds.

Part 2, ms per episode and seed of our default agents on the grid-world, FrozenLake 8x8 and Taxi (4 seeds
batched), beside rlberry's UCBVIAgent on the same MDP in the same run; and the wall-clock/CPU time of
``duelbandit rl --env taxi`` with its defaults (4 agents, 4 seeds, 1000 episodes).

Part 3, rlberry-exact UCBVI: realised regret of rlberry's UCBVIAgent and of ours with
``bonus_update="visited", v_clip="H", tie_break="first"`` and with the defaults, on the grid-world.

Without ``--reference-repo`` the authors' rows are copied from the last measured run
(benchmarks/results/bench_randql_reference.json, with its date and commit) and the table says so.
Writes benchmarks/results/bench_randql.md and .png.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread: timings on a shared machine
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import argparse
import datetime
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from duelbandit.rl.envs import make_env
from duelbandit.rl.randql import RandQL
from duelbandit.rl.runner import make_agent
from duelbandit.rl.runner import run_agent
from duelbandit.rl.ucbvi import UCBVI
from duelbandit.rl.ucbvi import UCBVIConfig

RESULTS = Path(__file__).parent / "results"
REFERENCE_JSON = RESULTS / "bench_randql_reference.json"

# Run inside the reference Python (rlberry 0.4.0); imports the authors' agent from the checkout given on
# the command line. Prints one JSON object.
DRIVER = r'''
import json, sys, time
import numpy as np
args = json.loads(sys.argv[1])
sys.path.insert(0, args["repo"])
from rlberry.envs.finite import GridWorld, FiniteMDP
if args["env"] == "gridworld":
    make = lambda: GridWorld(nrows=10, ncols=10, walls=(), success_probability=0.8)
else:
    d = np.load(args["env"])
    make = lambda: FiniteMDP(d["R"], d["P"], initial_state_distribution=d["mu0"])
if args["agent"] == "randql":
    from algorithms.rand_ql.rand_ql import RandomizedQLAgent as Agent
    kwargs = dict(gamma=1.0, horizon=args["H"], scheduled=False, sampling=False)
else:
    from rlberry.agents import UCBVIAgent as Agent
    kwargs = dict(gamma=1.0, horizon=args["H"])
Agent(make(), seeder=0, **kwargs)._run_episode()  # compile rlberry's numba functions before timing
returns, cpu, wall = [], 0.0, 0.0
for seed in range(args["seeds"]):
    env = make()
    agent = Agent(env, seeder=args["seed"] + seed, **kwargs)
    rets = []
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(args["episodes"]):
        rets.append(agent._run_episode())
    cpu += time.process_time() - c0
    wall += time.perf_counter() - w0
    returns.append(rets)
env = make()
P, R = np.asarray(env.P), np.asarray(env.R)
V = np.zeros(P.shape[0])
for _ in range(args["H"]):
    V = (R + P @ V).max(1)
s0 = env.reset()
print(json.dumps({"returns": returns, "cpu": cpu, "wall": wall, "v_star_s0": float(V[s0])}))
'''


def run_reference(python: str, repo: str, agent: str, env: str, H: int, seeds: int, episodes: int,
                  seed: int) -> dict:
    """The authors' code (or rlberry's agent) in the reference Python; returns its JSON answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(DRIVER)
    payload = json.dumps({"repo": repo, "agent": agent, "env": env, "H": H, "seeds": seeds,
                          "episodes": episodes, "seed": seed})
    try:
        out = subprocess.run([python, f.name, payload], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout.strip().splitlines()[-1])


def repo_commit(repo: str) -> str:
    return subprocess.run(["git", "-C", repo, "log", "-1", "--format=%H %cs"], capture_output=True, text=True,
                          check=True).stdout.strip()


def rlberry_version(python: str) -> str:
    code = "import rlberry, numpy, sys; print(rlberry.__version__, numpy.__version__, sys.version.split()[0])"
    out = subprocess.run([python, "-W", "ignore", "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def timed(fn):
    c0, w0 = time.process_time(), time.perf_counter()
    res = fn()
    return res, time.process_time() - c0, time.perf_counter() - w0


def machine() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    import numba

    return (f"{cpu}; {os.cpu_count()} logical CPUs (shared with other jobs); Python {platform.python_version()}, "
            f"numpy {np.__version__}, numba {numba.__version__}; OPENBLAS_NUM_THREADS="
            f"{os.environ.get('OPENBLAS_NUM_THREADS')}, NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS')}")


def load() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def regret_stats(returns: np.ndarray, v_star: float) -> tuple[float, float]:
    """Cumulative realised regret over the episodes: mean, std over seeds. returns: (seeds, T)."""
    cr = (v_star - returns).sum(1)
    return float(cr.mean()), float(cr.std())


def part1(args, mdp, v_star):
    rows, curves = [], {}
    # warm the compiled kernels (numba caches them on disk; the first call in a fresh process loads them)
    run_agent(mdp, RandQL(), 2, 1, 0)
    for K in args.seed_counts:
        res, cpu, wall = timed(lambda K=K: run_agent(mdp, RandQL(), args.episodes, K, args.seed))
        rr = res.realised_regret
        _, cpu_l, wall_l = timed(lambda K=K: run_agent(mdp, RandQL(), args.episodes, K, args.seed,
                                                      exact_regret=False))
        rows.append({"impl": "ours", "seeds": K, "cpu": cpu, "wall": wall, "cpu_learn": cpu_l, "wall_learn": wall_l,
                     "regret": (float(rr.sum(1).mean()), float(rr.sum(1).std())),
                     "exact": (float(res.regret.sum(1).mean()), float(res.regret.sum(1).std()))})
        curves[("ours", K)] = np.cumsum(rr, 1)
    res = run_agent(mdp, RandQL(), args.agreement_episodes, 4, args.seed + 1)
    agree = {"realised": (float(res.realised_regret.sum(1).mean()), float(res.realised_regret.sum(1).std())),
             "exact": (float(res.regret.sum(1).mean()), float(res.regret.sum(1).std())),
             "curve": np.cumsum(res.realised_regret, 1)}
    ref = None
    if args.reference_repo:
        ref = {"commit": repo_commit(args.reference_repo), "versions": rlberry_version(args.reference_python),
               "date": datetime.date.today().isoformat(), "episodes": args.episodes, "rows": []}
        for K in args.seed_counts:
            out = run_reference(args.reference_python, args.reference_repo, "randql", "gridworld", mdp.H, K,
                                args.episodes, args.seed)
            rets = np.asarray(out["returns"])
            ref["rows"].append({"seeds": K, "cpu": out["cpu"], "wall": out["wall"],
                                "regret": regret_stats(rets, v_star), "v_star": out["v_star_s0"],
                                "curve_mean": np.cumsum(v_star - rets, 1).mean(0).tolist()})
        out = run_reference(args.reference_python, args.reference_repo, "randql", "gridworld", mdp.H, 4,
                            args.agreement_episodes, args.seed)
        rets = np.asarray(out["returns"])
        ref["agreement"] = {"episodes": args.agreement_episodes, "seeds": 4, "regret": regret_stats(rets, v_star),
                            "curve_mean": np.cumsum(v_star - rets, 1).mean(0)[99::100].tolist(),
                            "curve_std": np.cumsum(v_star - rets, 1).std(0)[99::100].tolist()}
        REFERENCE_JSON.write_text(json.dumps(ref, indent=1) + "\n")
        ref["fresh"] = True
    elif REFERENCE_JSON.exists():
        ref = json.loads(REFERENCE_JSON.read_text())
        ref["fresh"] = False
    return rows, curves, ref, agree


def part2(args):
    envs = {"gridworld": make_env("gridworld"), "frozenlake8x8": make_env("frozenlake8x8"), "taxi": make_env("taxi")}
    table = []
    for env_name, mdp in envs.items():
        row = {"env": env_name, "S": mdp.S, "A": mdp.A, "H": mdp.H}
        for name in ("randql", "optql", "ucbvi", "psrl"):
            run_agent(mdp, make_agent(name), 2, 1, 0)  # load the compiled kernels
            _, cpu, _ = timed(lambda n=name, m=mdp: run_agent(m, make_agent(n), args.env_episodes, 4, args.seed))
            row[name] = 1e3 * cpu / (args.env_episodes * 4)
        if args.reference_python:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "mdp.npz"
                np.savez(path, P=mdp.P, R=mdp.R, mu0=mdp.mu0)
                env_arg = "gridworld" if env_name == "gridworld" else str(path)
                T = args.env_episodes if env_name == "gridworld" else max(10, args.env_episodes // 10)
                out = run_reference(args.reference_python, args.reference_repo or ".", "ucbvi", env_arg, mdp.H, 1,
                                    T, args.seed)
            row["rlberry_ucbvi"] = 1e3 * out["cpu"] / T
        table.append(row)
    taxi = None
    if not args.skip_taxi_command:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        w0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "duelbandit.cli", "rl", "--env", "taxi", "--out", tmp, "--quiet"],
                           check=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        taxi = {"wall": time.perf_counter() - w0, "cpu": (after.ru_utime - before.ru_utime)
                + (after.ru_stime - before.ru_stime), "load": load()}
    return table, taxi


def part3(args, mdp, v_star):
    T, K = args.ucbvi_episodes, 4
    out = {}
    exact = UCBVI(UCBVIConfig(bonus_update="visited", v_clip="H", tie_break="first"))
    for name, agent in (("ours, rlberry options", exact), ("ours, defaults", UCBVI())):
        res = run_agent(mdp, agent, T, K, args.seed)
        out[name] = (float(res.realised_regret.sum(1).mean()), float(res.realised_regret.sum(1).std()))
    if args.reference_python:
        ref = run_reference(args.reference_python, args.reference_repo or ".", "ucbvi", "gridworld", mdp.H, K, T,
                            args.seed)
        out["rlberry 0.4.0 UCBVIAgent"] = regret_stats(np.asarray(ref["returns"]), v_star)
    return out


def write(args, rows, curves, ref, agree, table, taxi, ucb, load_before, mdp, v_star):
    T = args.episodes
    lines = [
        "# RandQL and baselines against the authors' code (rlberry 0.4.0)",
        "",
        (f"Grid-world 10 x 10, H = {mdp.H}, V*_0(s_0) = {v_star:.6f}, J = 10 members, {T} episodes per seed. "
         "Time = CPU time of the learning loop per episode and seed (wall-clock in brackets). Ours batches the seeds "
         "and also computes the exact regret of every episode's policy; the authors' loop is timed without any "
         "evaluation. Regret = cumulative realised regret (V*_0 - the episode's return), mean ± std over seeds."),
        "",
        (f"Machine: {machine()}. Load average (1/5/15 min) at start: {load_before}; at end: {load()}. "
        "Measured on a loaded shared 2-core machine: absolute times are inflated, the ratios come from one run."),
        "",
    ]
    if ref is None:
        lines += ["Authors' code: not measured (no --reference-repo given and no earlier measurement stored).", ""]
    else:
        src = ("measured in this run" if ref.get("fresh") else
               f"NOT re-measured in this run (no --reference-repo): rows copied from the run of {ref['date']}")
        lines += [(f"Authors' code: d-tiapkin/rand-ql commit {ref['commit']} ({src}; rlberry, numpy, Python: "
                  f"{ref['versions']}; {ref['episodes']} episodes per seed)."), ""]
    lines += [("| implementation | seeds | CPU ms per episode-seed (wall) | speed-up (CPU, per episode-seed) | "
              "realised regret |"), "|---|---:|---:|---:|---:|"]
    ref_by_k = {r["seeds"]: r for r in ref["rows"]} if ref else {}
    for r in rows:
        K = r["seeds"]
        ours_ms = 1e3 * r["cpu"] / (T * K)
        theirs = ref_by_k.get(K)
        if theirs:
            t_eps = ref["episodes"] * K
            th_ms = 1e3 * theirs["cpu"] / t_eps
            lines.append(f"| authors' code ({ref['commit'][:7]}) | {K} | {th_ms:.3f} ({1e3 * theirs['wall'] / t_eps:.3f}) "
                         f"| 1.0x | {theirs['regret'][0]:,.0f} ± {theirs['regret'][1]:,.0f} |")
        speed = f"**{th_ms / ours_ms:.1f}x**" if theirs else "n/a"
        lines.append(f"| ours, learning + exact regret of every episode | {K} | {ours_ms:.3f} "
                     f"({1e3 * r['wall'] / (T * K):.3f}) | {speed} | "
                     f"{r['regret'][0]:,.0f} ± {r['regret'][1]:,.0f} (exact {r['exact'][0]:,.0f}) |")
        learn_ms = 1e3 * r["cpu_learn"] / (T * K)
        speed = f"**{th_ms / learn_ms:.1f}x**" if theirs else "n/a"
        lines.append(f"| ours, learning only (the authors' loop's work) | {K} | {learn_ms:.3f} "
                     f"({1e3 * r['wall_learn'] / (T * K):.3f}) | {speed} | same episodes |")
    lines += ["", "Goal: >= 10x per episode-seed at every seed count, 20x at 16 seeds.", "",
              (f"In {T} episodes neither code reaches the rewarding corner often (regret ~ {T} x V*), so regret "
               f"agreement is checked on a longer run: {args.agreement_episodes} episodes, 4 seeds, realised regret: "
               f"ours {agree['realised'][0]:,.0f} ± {agree['realised'][1]:,.0f} (exact {agree['exact'][0]:,.0f} ± "
               f"{agree['exact'][1]:,.0f})"
               + (f", authors' code {ref['agreement']['regret'][0]:,.0f} ± {ref['agreement']['regret'][1]:,.0f}"
                  f" ({ref['agreement']['episodes']} episodes)." if ref and "agreement" in ref
                  else ", authors' code not measured.")), ""]
    lines += ["## ms per episode and seed, 4 seeds batched (CPU)", "",
              (f"{args.env_episodes} episodes per seed for ours; rlberry's UCBVIAgent (1 seed, dense backward induction "
              "in numba) on the same MDP in the same run, fewer episodes off the grid-world."), "",
              "| env | S | A | H | randql | optql | ucbvi | psrl | rlberry UCBVI | ucbvi speed-up |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for t in table:
        rb = t.get("rlberry_ucbvi")
        rb_ms = "n/a" if rb is None else f"{rb:.2f}"
        rb_x = "n/a" if rb is None else f"{rb / t['ucbvi']:.0f}x"
        lines.append(f"| {t['env']} | {t['S']} | {t['A']} | {t['H']} | {t['randql']:.3f} | {t['optql']:.3f} | "
                     f"{t['ucbvi']:.3f} | {t['psrl']:.3f} | {rb_ms} | {rb_x} |")
    if taxi:
        lines += ["", (f"`duelbandit rl --env taxi` (randql, optql, ucbvi, psrl; 4 seeds; 1000 episodes): "
                       f"**{taxi['wall']:.1f} s wall-clock, {taxi['cpu']:.1f} s CPU** (one process, one thread; "
                       f"load average at its end {taxi['load']}). Goal <= 60 s on 2 cores.")]
    lines += ["", f"## UCBVI: rlberry's bookkeeping as options ({args.ucbvi_episodes} episodes, 4 seeds, grid-world)", "",
              "| agent | realised regret |", "|---|---:|"]
    for name, (m, s) in ucb.items():
        lines.append(f"| {name} | {m:,.0f} ± {s:,.0f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_randql.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
    ks = [r["seeds"] for r in rows]
    x = np.arange(len(ks))
    ax0.bar(x + 0.2, [1e3 * r["cpu"] / (T * r["seeds"]) for r in rows], 0.4, label="ours", color="C0")
    if ref:
        ax0.bar(x - 0.2, [1e3 * ref_by_k[k]["cpu"] / (ref["episodes"] * k) if k in ref_by_k else 0 for k in ks], 0.4,
                label=f"authors' code ({ref['commit'][:7]})", color="grey")
    ax0.set_xticks(x, [f"{k} seeds" for k in ks])
    ax0.set_yscale("log")
    ax0.set_ylabel("CPU ms per episode and seed")
    ax0.legend()
    ax0.set_title("RandQL, grid-world 10x10, H=50")
    Ta = args.agreement_episodes
    ep = np.arange(1, Ta + 1)
    c = agree["curve"]
    ax1.plot(ep, c.mean(0), label="ours (4 seeds)")
    ax1.fill_between(ep, c.mean(0) - c.std(0), c.mean(0) + c.std(0), alpha=0.2)
    if ref and "agreement" in ref and ref["agreement"]["episodes"] == Ta:
        m, sd = np.asarray(ref["agreement"]["curve_mean"]), np.asarray(ref["agreement"]["curve_std"])
        x = np.arange(100, Ta + 1, 100)
        ax1.errorbar(x, m, yerr=sd, fmt="--", label=f"authors' code ({ref['commit'][:7]}, 4 seeds)")
    ax1.set_xlabel("episode")
    ax1.set_ylabel("cumulative realised regret (mean)")
    ax1.legend()
    ax1.set_title("same algorithm, same regret")
    fig.tight_layout()
    fig.savefig(RESULTS / "bench_randql.png", dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reference-repo", default=None, help="checkout of d-tiapkin/rand-ql (git)")
    p.add_argument("--reference-python", default=None,
                   help="Python with rlberry 0.4.0 (e.g. /work/venvs/rlberry/bin/python); needed for the rlberry rows")
    p.add_argument("--episodes", type=int, default=300, help="episodes per seed, part 1")
    p.add_argument("--seed-counts", default="1,4,16")
    p.add_argument("--agreement-episodes", type=int, default=5000, help="episodes of the regret-agreement run")
    p.add_argument("--env-episodes", type=int, default=100, help="episodes per seed, part 2")
    p.add_argument("--ucbvi-episodes", type=int, default=3000, help="episodes per seed, part 3")
    p.add_argument("--skip-taxi-command", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    args.seed_counts = [int(k) for k in args.seed_counts.split(",")]
    if args.reference_repo and not args.reference_python:
        p.error("--reference-repo needs --reference-python (a Python with rlberry 0.4.0)")
    np.random.seed(args.seed)  # nothing below draws from the global stream; seeds are passed explicitly
    load_before = load()
    mdp = make_env("gridworld")
    v_star = float(run_agent(mdp, RandQL(), 1, 1, 0).v_star)
    rows, curves, ref, agree = part1(args, mdp, v_star)
    table, taxi = part2(args)
    ucb = part3(args, mdp, v_star)
    write(args, rows, curves, ref, agree, table, taxi, ucb, load_before, mdp, v_star)


if __name__ == "__main__":
    main()
