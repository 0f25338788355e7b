"""``duelbandit select``: choose exactly T pairs of a user's pool and write annotation tasks.

OUT.jsonl gets one task per label (repeats are separate lines) with keys pair_id, prompt_id, prompt,
response_a, response_b; OUT.jsonl.design.json records the selector, budget, seed, feature settings and
the design certificate, so the batch can be reproduced and audited.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from duelbandit.design import certificate
from duelbandit.commands.embed import add_feature_arguments, features_from_args
from duelbandit.errors import ConfigError
from duelbandit.io import load_pool, write_json_atomic
from duelbandit.select import SELECTORS, SelectionState, make_selector


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True, help="prompts and responses (.jsonl or .csv)")
    p.add_argument("--budget", type=int, required=True, help="number of labels T (exactly T tasks)")
    p.add_argument("--out", required=True, help="annotation tasks, JSONL")
    p.add_argument("--selector", default="odpo", choices=sorted(SELECTORS), help="default: odpo")
    p.add_argument("--seed", type=int, default=0, help="seed for features and selection (default 0)")
    p.add_argument("--skip-bad", action="store_true", help="skip malformed prompts with a warning")
    p.add_argument("--quiet", action="store_true")
    add_feature_arguments(p)


def run(args: argparse.Namespace) -> int:
    if args.budget < 1:
        raise ConfigError(f"--budget: expected an integer >= 1, got {args.budget}")
    pool = load_pool(args.pool, on_error="skip" if args.skip_bad else "raise")
    features = features_from_args(args, pool, args.seed, verbose=not args.quiet)
    state = SelectionState(pool=pool, features=features)
    batch = make_selector(args.selector).select(state, args.budget, np.random.default_rng(args.seed))

    cand = pool.pairs()
    index = batch.expanded()
    # shuffled so that an annotator does not meet the repeats of one pair back to back
    index = index[np.random.default_rng(args.seed).permutation(index.shape[0])]
    ids = cand.pair_ids(index)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
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
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)

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
    write_json_atomic(Path(str(out) + ".design.json"), _json_safe(meta))
    if not args.quiet:
        fallback = meta.get("rounding", {}).get("fallback")
        if fallback:
            print(f"note: budget below the design's support size; used {fallback}")
        print(
            f"wrote {index.shape[0]} tasks ({batch.pairs.shape[0]} distinct pairs of {len(cand)}) to {out}\n"
            f"design: efficiency >= {cert['efficiency_lower_bound']:.4f}, "
            f"max leverage / d = {cert['max_leverage_over_d']:.4f}, support {cert['support_size']}"
        )
    return 0


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
