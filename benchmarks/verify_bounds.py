"""Do the paper's regret bounds hold, at the rates they claim, on our implementation?

Question (issue 5): on well-specified pools (d in {2, 4, 8, 16, 32}, T from the design's support size p to
1000 p, 20 seeds, odpo against uniform) does the worst-case prediction error E_T fall like T^-1/2, does the
Lemma 2 ellipsoid cover theta* in >= 1 - delta of the runs, and does ODPO's simple regret stay below
Theorem 1 on every run? On the hypercube instance of Theorem 3, does every selector's regret (mean over
random sign vectors) stay above the lower bound, fall like T^-1/2 and grow linearly in d?

Writes benchmarks/results/verify_bounds/{verify.json, verify.md, et_vs_T.png, regret_vs_T.png,
regret_vs_d.png}. The same code runs as ``duelbandit verify-bounds --out DIR``. Usage:

    python benchmarks/verify_bounds.py            # full run (~10-20 min on 2 cores)
    python benchmarks/verify_bounds.py --quick    # smoke run (< 1 min)
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from duelbandit.theory.verify import VerifyConfig, quick_config, run_verification
from duelbandit.theory.report import verdict_lines, write_outputs

OUT = Path(__file__).resolve().parent / "results" / "verify_bounds"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smoke run")
    ap.add_argument("--out", default=str(OUT), help=f"output folder (default {OUT})")
    ap.add_argument("--seed", type=int, default=0, help="base seed")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args()
    cfg = quick_config(args.seed) if args.quick else dataclasses.replace(VerifyConfig(), seed=args.seed)
    result = run_verification(cfg, verbose=not args.quiet)
    paths = write_outputs(result, args.out)
    print("\n".join(verdict_lines(result)))
    wrote = ", ".join(str(p) for p in paths)
    print(f"\n{result['runs']} runs in {result['seconds']['total']:.1f} s; wrote {wrote}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
