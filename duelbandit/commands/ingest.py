"""``duelbandit ingest``: read human labels back into a label log, checked line by line.

Input (``--in``): JSONL or CSV with ``pair_id`` and ``winner`` (a / b / tie) and optional ``annotator``;
a Label Studio JSON export; or Argilla records flattened by the SDK (see duelbandit.io.labels). A
malformed line, an unknown pair id, a label of another pool, or (with ``--tasks``) a pair that was never
sent out is refused with its file and line; nothing is written then. Ties become y = 0.5 (half a win
each in the Bradley–Terry fit).

Output (``--out``): a label log (the format of collect's labels.jsonl, with ``round`` null and ``ref``
= the input's file:line), usable by ``collect --annotator file:OUT`` and ``export --format trl``.
An existing log is appended to; a label already ingested (same ref, pair, label and annotator) is
skipped, so ingesting the same export twice adds nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from duelbandit.io import append_jsonl, open_pool
from duelbandit.io.labels import log_rows, read_human_labels, read_label_log, read_tasks


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True, help="the pool the pair ids refer to (file, or bundled[:N])")
    p.add_argument("--in", dest="inp", metavar="FILE", required=True, help="human labels (.jsonl, .csv, or a .json export)")
    p.add_argument("--out", required=True, help="label log to write or append to")
    p.add_argument("--tasks", help="the task file that was sent out; refuse labels of other pairs")
    p.add_argument("--source", default=None, help="label source recorded per label (default human:<file>)")
    p.add_argument("--skip-bad", action="store_true", help="skip malformed prompts of the pool file")


def run(args: argparse.Namespace) -> int:
    pool = open_pool(args.pool, on_error="skip" if args.skip_bad else "raise")
    tasks = None
    selector = seed = None
    if args.tasks:
        index, _ = read_tasks(args.tasks, pool)
        tasks = set(pool.pairs().pair_ids(index))
        design = Path(str(args.tasks) + ".design.json")  # written by `duelbandit select` next to its tasks
        if design.is_file():
            meta = json.loads(design.read_text(encoding="utf-8"))
            selector, seed = meta.get("selector"), meta.get("seed")
    labels, refs = read_human_labels(args.inp, pool, tasks=tasks, source=args.source)
    out = Path(args.out)
    existing = read_label_log(out, pool) if out.exists() and out.stat().st_size else None
    seen = set()
    if existing is not None:
        seen = {(r.get("ref"), r["pair_id"], float(r["y"]), r.get("annotator")) for r in existing.rows}
    rows = log_rows(labels, pool, start_index=0, round=None, selector=selector, refs=refs)
    fresh = [r for r in rows if (r["ref"], r["pair_id"], r["y"], r["annotator"]) not in seen]
    start = 0 if existing is None else len(existing)
    for k, r in enumerate(fresh):
        r["index"] = start + k
        r["seed"] = seed
    append_jsonl(out, fresh)
    skipped = len(rows) - len(fresh)
    ties = sum(r["winner"] == "tie" for r in fresh)
    print(f"ingested {len(fresh)} labels from {args.inp} into {out}"
          + (f" ({ties} ties, y = 0.5)" if ties else "")
          + (f"; {skipped} already there, skipped" if skipped else ""))
    return 0
