"""``duelbandit verify-bounds``: check the regret bounds of Scheid et al. 2024 against the implementation.

Runs :func:`duelbandit.theory.verify.run_verification` (well-specified pools: E_T and its slope, the Lemma 2
ellipsoid's coverage, regret against Theorem 1; the hypercube instance: every selector against the
Theorem 3 lower bound) and writes OUT/verify.json, OUT/verify.md and three PNGs. ``--quick`` is a smoke
run (well under a minute on 2 cores); the full run takes minutes. Exit status 0 even when a target is
missed: the verdicts (printed, and in verify.md) say which and why.
"""

from __future__ import annotations

import argparse
import dataclasses

from duelbandit.theory.verify import VerifyConfig, quick_config, run_verification
from duelbandit.theory.report import verdict_lines, write_outputs


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="output folder (verify.json, verify.md, PNGs)")
    p.add_argument("--quick", action="store_true", help="small grids and few seeds (< 1 minute)")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 20; quick: 6)")
    p.add_argument("--delta", type=float, default=None, help="failure probability (default 0.05)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def config_from_args(args: argparse.Namespace) -> VerifyConfig:
    """The run's configuration: quick or full, with the overrides given on the command line."""
    cfg = quick_config(args.seed) if args.quick else VerifyConfig(seed=args.seed)
    over = {}
    if args.seeds is not None:
        over.update(seeds=args.seeds, hard_seeds=args.seeds)
    if args.delta is not None:
        over["delta"] = args.delta
    return dataclasses.replace(cfg, **over)


def run(args: argparse.Namespace) -> int:
    result = run_verification(config_from_args(args), verbose=not args.quiet)
    paths = write_outputs(result, args.out)
    print("\n".join(verdict_lines(result)))
    wrote = ", ".join(str(p) for p in paths)
    print(f"\n{result['runs']} runs in {result['seconds']['total']:.1f} s; wrote {wrote}")
    return 0
