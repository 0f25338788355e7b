"""``duelbandit rl``: run RandQL and baselines on a tabular MDP and write exact regret curves.

DIR/results.json holds {"agents": {NAME: {"cumulative_regret_mean": [...], "cumulative_regret_std": [...],
"cumulative_realised_regret_mean": [...], ...}}, "env": ..., "episodes": ..., "seeds": ..., ...}, one value
per episode; DIR/regret.png plots the exact curves with ± 1 std bands.
"""

from __future__ import annotations

import argparse
import platform
import zlib
from pathlib import Path

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.io import write_json_atomic
from duelbandit.rl.envs import ENVS
from duelbandit.rl.envs import make_env
from duelbandit.rl.plot import plot_cumulative_regret
from duelbandit.rl.runner import AGENT_NAMES
from duelbandit.rl.runner import make_agent
from duelbandit.rl.runner import run_agent

REGRET_DEFINITION = (
    "cumulative_regret: sum over episodes of mu0 . (V*_0 - V^{pi_k}_0), pi_k the policy played in episode k "
    "(fixed within the episode for every agent here), evaluated exactly by backward induction; "
    "cumulative_realised_regret: sum of V*_0(s_0) - realised return (what the reference code plots). "
    "mean/std over the independent runs (seeds)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--env", default="gridworld", help=f"one of {', '.join(sorted(ENVS))} (default gridworld)")
    p.add_argument("--agents", default="randql,optql,ucbvi,psrl",
                   help=f"comma-separated, from {', '.join(AGENT_NAMES)} (default randql,optql,ucbvi,psrl)")
    p.add_argument("--episodes", type=int, default=1000, help="episodes per run (default 1000)")
    p.add_argument("--seeds", type=int, default=4, help="independent runs per agent (default 4)")
    p.add_argument("--horizon", type=int, default=None, help="episode length H (default: the env's)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--out", required=True, help="output folder for results.json and regret.png")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")


def agent_seed(seed: int, name: str) -> np.random.SeedSequence:
    """Each agent gets its own stream from (seed, name), so adding or removing agents changes nothing else."""
    return np.random.SeedSequence([seed, zlib.crc32(name.encode())])


def run(args: argparse.Namespace) -> int:
    if args.episodes < 1:
        raise ConfigError(f"--episodes: expected an integer >= 1, got {args.episodes}")
    if args.seeds < 1:
        raise ConfigError(f"--seeds: expected an integer >= 1, got {args.seeds}")
    if args.horizon is not None and args.horizon < 1:
        raise ConfigError(f"--horizon: expected an integer >= 1, got {args.horizon}")
    names = [a.strip() for a in args.agents.split(",") if a.strip()]
    if not names:
        raise ConfigError(f"--agents: expected a comma-separated list from {', '.join(AGENT_NAMES)}, got {args.agents!r}")
    unknown = [n for n in names if n not in AGENT_NAMES]
    if unknown:
        raise ConfigError(f"--agents: unknown {', '.join(map(repr, unknown))}; expected names from "
                          f"{', '.join(AGENT_NAMES)}")
    mdp = make_env(args.env, args.horizon)
    out = Path(args.out)
    results, curves = {}, {}
    for name in names:
        res = run_agent(mdp, make_agent(name), args.episodes, args.seeds,
                        np.random.default_rng(agent_seed(args.seed, name)), verbose=not args.quiet)
        results[name] = {k: _rounded(v) for k, v in res.summary().items()}
        cr = res.cumulative_regret
        curves[name] = (cr.mean(0), cr.std(0))
        if not args.quiet:
            print(f"{name:>15}: cumulative regret {cr[:, -1].mean():12.1f} ± {cr[:, -1].std():.1f} "
                  f"(realised {res.cumulative_realised_regret[:, -1].mean():.1f}) in {res.seconds:.1f}s")
    payload = {
        "agents": results,
        "env": {"name": mdp.name, "S": mdp.S, "A": mdp.A, "H": mdp.H, "info": mdp.info},
        "v_star": float(mdp.mu0 @ _v_star(mdp)),
        "episodes": args.episodes,
        "seeds": args.seeds,
        "seed": args.seed,
        "regret_definition": REGRET_DEFINITION,
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform()},
    }
    write_json_atomic(out / "results.json", payload, indent=None)  # compact: the curves are long
    plot_cumulative_regret(curves, out / "regret.png",
                           title=f"{mdp.name}, H={mdp.H}, {args.seeds} runs (exact regret)")
    if not args.quiet:
        print(f"wrote {out / 'results.json'} and {out / 'regret.png'}")
    return 0


def _v_star(mdp) -> np.ndarray:
    from duelbandit.rl.mdp import optimal_values

    return optimal_values(mdp)[1][0]


def _rounded(v):
    if isinstance(v, list):
        return [_rounded(x) for x in v]
    if isinstance(v, float):
        return round(v, 6)
    return v
