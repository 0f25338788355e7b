"""``duelbandit select``: choose exactly T pairs of a user's pool and write annotation tasks.

OUT.jsonl gets one task per label (repeats are separate lines) with keys pair_id, prompt_id, prompt,
response_a, response_b; OUT.jsonl.design.json records the selector, budget, seed, feature settings and
the design certificate, so the batch can be reproduced and audited.

Two efficiencies are printed and stored: the continuous design's (its Kiefer–Wolfowitz certificate) and
the rounded batch's, the T labels actually written (its own certificate over all candidates, and its
D-efficiency relative to the continuous design). With a budget below the design's support size the batch
cannot hold the design, and a warning says so.

Existing outputs are replaced only with ``--force``; an output that is the pool file is always refused.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from duelbandit.design import certificate
from duelbandit.commands._common import (
    add_csv_argument,
    add_memory_argument,
    check_memory,
    memory_limit,
    select_bytes_per_label,
)
from duelbandit.commands.embed import add_feature_arguments, features_from_args
from duelbandit.errors import ConfigError
from duelbandit.io import open_pool, write_json_atomic, write_text_atomic
from duelbandit.io.safety import check_outputs, output_paths
from duelbandit.select import SELECTORS, SelectionState, make_selector
from duelbandit.select.diagnose import explain_unlabelled


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True,
                   help="prompts and responses (.jsonl, .csv, .parquet, a saved HF dataset folder), or "
                        "'bundled' / 'bundled:N'")
    p.add_argument("--budget", type=int, required=True, help="number of labels T (exactly T tasks)")
    p.add_argument("--out", required=True, help="annotation tasks, JSONL")
    p.add_argument("--selector", default="robust", choices=sorted(SELECTORS),
                   help="default: robust (safe under misspecification; odpo is the paper's design)")
    p.add_argument("--seed", type=int, default=0, help="seed for features and selection (default 0)")
    p.add_argument("--skip-bad", action="store_true", help="skip malformed prompts with a warning")
    p.add_argument("--force", action="store_true", help="replace existing output files (written atomically)")
    add_memory_argument(p)
    add_csv_argument(p)
    p.add_argument("--quiet", action="store_true")
    add_feature_arguments(p)


def run(args: argparse.Namespace) -> int:
    if args.budget < 1:
        raise ConfigError(f"--budget: expected an integer >= 1, got {args.budget}")
    out = Path(args.out)
    check_outputs(output_paths(out, ".design.json"), {"--pool": args.pool}, force=args.force)
    pool = open_pool(args.pool, on_error="skip" if args.skip_bad else "raise",
                     csv_field_limit=args.csv_field_limit)
    # the asked width is checked before embedding (an absurd --dim never allocates), the real width after
    if args.dim is not None:
        if args.dim < 1:
            raise ConfigError(f"--dim: expected an integer >= 1, got {args.dim}")
        check_memory(pool, args.dim, args.budget, memory_limit(args), select_bytes_per_label(pool))
    features = features_from_args(args, pool, args.seed, verbose=not args.quiet)
    check_memory(pool, features.dim, args.budget, memory_limit(args), select_bytes_per_label(pool))
    state = SelectionState(pool=pool, features=features)
    batch = make_selector(args.selector).select(state, args.budget, np.random.default_rng(args.seed))

    cand = pool.pairs()
    index = batch.expanded()
    # shuffled so that an annotator does not meet the repeats of one pair back to back
    index = index[np.random.default_rng(args.seed).permutation(index.shape[0])]
    ids = cand.pair_ids(index)
    lines = []
    for pid, k in zip(ids, index):
        n = int(cand.prompt[k])
        lines.append(
            json.dumps(
                {
                    "pair_id": pid,
                    "prompt_id": pool.prompt_ids[n],
                    "prompt": pool.prompts[n],
                    "response_a": pool.responses[int(cand.i[k])],
                    "response_b": pool.responses[int(cand.j[k])],
                },
                ensure_ascii=False,
            )
        )
    write_text_atomic(out, "\n".join(lines) + "\n")

    # the batch's own design, certified over ALL candidates (not just the chosen ones)
    w = np.zeros(len(cand))
    w[batch.pairs] = batch.counts / batch.counts.sum()
    empirical = certificate(cand.differences(features.X), w)
    cert = batch.info.get("certificate") or empirical.as_dict()
    meta = {
        "selector": args.selector,
        "selector_params": batch.params,
        "budget": args.budget,
        "seed": args.seed,
        "pool": {"path": str(args.pool), "prompts": pool.n_prompts, "responses": pool.n_responses,
                 "candidate_pairs": len(cand), "fingerprint": pool.fingerprint()},
        "features": {"name": features.name, **features.config},
        "certificate": cert,
        "batch_certificate": empirical.as_dict(),
        "distinct_pairs": int(batch.pairs.shape[0]),
        "tasks": int(index.shape[0]),
    }
    if "rounding" in batch.info:
        meta["rounding"] = batch.info["rounding"]
    meta["batch_efficiency"] = _batch_efficiency(cert, empirical.as_dict(), features.dim)
    write_json_atomic(Path(str(out) + ".design.json"), _json_safe(meta))
    support = cert.get("support_size")
    if support is not None and args.budget < support:
        warnings.warn(
            f"--budget {args.budget} is below the design's support size {support}: the {args.budget} labels "
            "cannot hold the continuous design, so its guarantee does not apply to this batch (the rounded "
            f"batch's own efficiency is printed and stored). Raise --budget to at least {support}, or lower --dim", stacklevel=1)
    if not args.quiet:
        eff = meta["batch_efficiency"]
        rel = eff["relative_to_continuous"]
        print(
            f"wrote {index.shape[0]} tasks ({batch.pairs.shape[0]} distinct pairs of {len(cand)}) to {out}\n"
            f"continuous design: D-efficiency >= {cert['efficiency_lower_bound']:.4f} "
            f"(max leverage / d = {cert['max_leverage_over_d']:.4f}, support {cert['support_size']})\n"
            f"rounded batch of {index.shape[0]} labels: D-efficiency >= {eff['lower_bound']:.4f} by its own "
            f"certificate (max leverage / d = {empirical.max_leverage_over_d:.4f})"
            + ("" if rel is None else f"; {rel:.4f} of the continuous design's determinant (per dimension)")
        )
        print(explain_unlabelled(args.selector))
    return 0


def _batch_efficiency(cont: dict, batch: dict, dim: int) -> dict:
    """The rounded batch's D-efficiency: its Kiefer–Wolfowitz lower bound d / max_i g_i (0 for a singular
    batch), and (det M_batch / det M_continuous)^(1/d) when both log dets are finite and full rank."""
    rel = None
    both_full = cont.get("rank_handling", "full rank") == "full rank" == batch.get("rank_handling", "full rank")
    if both_full and np.isfinite(cont.get("logdet", np.nan)) and np.isfinite(batch.get("logdet", np.nan)):
        rel = float(np.exp((batch["logdet"] - cont["logdet"]) / dim))
    elif not np.isfinite(batch.get("logdet", np.nan)):
        rel = 0.0
    return {"lower_bound": float(batch["efficiency_lower_bound"]), "relative_to_continuous": rel,
            "continuous_lower_bound": float(cont["efficiency_lower_bound"])}


def _json_safe(obj):
    """Non-finite floats (a singular batch design has infinite max leverage) become None: JSON has no inf."""
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _json_safe(obj.tolist())
    return obj
