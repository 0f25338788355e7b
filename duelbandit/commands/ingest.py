"""``duelbandit ingest``: read human labels back into a label log, checked line by line.

Input (``--in``): JSONL, CSV, Parquet or a saved ``datasets`` folder with ``pair_id`` and ``winner``
(a / b / tie) and optional ``annotator``; a Label Studio JSON export; or Argilla records flattened by the
SDK (see duelbandit.io.human). A malformed line, an unknown pair id, a label of another pool, (with
``--tasks``) a pair that was never sent out, or a collect log written by two runs is refused with its
file and line; nothing is written then. Ties become y = 0.5 (half a win each in the Bradley–Terry fit).
Argilla answers count only when ``submitted`` (``--include-drafts`` adds drafts); Label Studio annotations
with an empty result are skipped, with a counted warning.

Output (``--out``): a label log (the format of collect's labels.jsonl, with ``round`` null, ``ref`` = the
input's file:line and ``key`` = the answer's content key), usable by ``collect --annotator file:OUT`` and
``export --format trl``. An existing log is appended to; an answer already ingested (same content key:
the file's sha256 and the line, or the Label Studio / Argilla id) is skipped, so ingesting the same
export twice, through any path, adds nothing. A pair labelled more than once by the same annotator is
kept (repeats are data) with a warning (with ``--tasks``: only beyond the times the pair was sent out),
or only its first label with ``--dedup``. The output may not be
the input, the pool or the task file.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

from duelbandit.io import append_jsonl, open_pool
from duelbandit.io.human import read_human_file, read_tasks
from duelbandit.io.labels import log_rows, read_label_log
from duelbandit.io.safety import check_outputs
from duelbandit.types import Labels


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True, help="the pool the pair ids refer to (file, or bundled[:N])")
    p.add_argument("--in", dest="inp", metavar="FILE", required=True,
                   help="human labels (.jsonl, .csv, .parquet, a .json export, or a saved datasets folder)")
    p.add_argument("--out", required=True, help="label log to write or append to")
    p.add_argument("--tasks", help="the task file that was sent out; refuse labels of other pairs")
    p.add_argument("--source", default=None, help="label source recorded per label (default human:<file>)")
    p.add_argument("--include-drafts", action="store_true", help="Argilla: also take draft answers")
    p.add_argument("--dedup", action="store_true",
                   help="keep only the first label of a pair by the same annotator (default: keep all)")
    p.add_argument("--csv-field-limit", type=int, default=None, metavar="BYTES",
                   help="largest CSV field in bytes (default 131072)")
    p.add_argument("--skip-bad", action="store_true", help="skip malformed prompts of the pool file")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    check_outputs({"--out": out}, {"--in": args.inp, "--pool": args.pool, "--tasks": args.tasks}, force=False,
                  append=True)
    pool = open_pool(args.pool, on_error="skip" if args.skip_bad else "raise", csv_field_limit=args.csv_field_limit)
    tasks = None
    sent: dict[int, int] = {}  # pair -> times it was sent out (a design repeats pairs)
    selector = seed = None
    if args.tasks:
        index, _ = read_tasks(args.tasks, pool)
        tasks = set(pool.pairs().pair_ids(index))
        sent = dict(zip(*(a.tolist() for a in np.unique(index, return_counts=True))))
        design = Path(str(args.tasks) + ".design.json")  # written by `duelbandit select` next to its tasks
        if design.is_file():
            meta = json.loads(design.read_text(encoding="utf-8"))
            selector, seed = meta.get("selector"), meta.get("seed")
    got = read_human_file(args.inp, pool, tasks=tasks, source_name=args.source,
                          include_drafts=args.include_drafts, csv_field_limit=args.csv_field_limit)
    labels, refs, keys = got.labels, got.refs, got.keys
    keep = _first_of_each(labels) if args.dedup else np.arange(len(labels))
    _warn_repeats({k: c for k, c in got.repeats().items() if c > sent.get(k[0], 1)}, pool, dedup=args.dedup,
                  tasks=bool(args.tasks))
    labels = _subset(labels, keep)
    refs, keys = [refs[k] for k in keep], [keys[k] for k in keep]
    existing = read_label_log(out, pool) if out.exists() and out.stat().st_size else None
    seen_keys = set() if existing is None else {r["key"] for r in existing.rows if r.get("key")}
    # logs written before content keys: the old key (ref, pair, label, annotator)
    seen_old = set() if existing is None else {
        (r.get("ref"), r["pair_id"], float(r["y"]), r.get("annotator")) for r in existing.rows if not r.get("key")}
    rows = log_rows(labels, pool, start_index=0, round=None, selector=selector, refs=refs)
    fresh = []
    for r, key in zip(rows, keys):
        if key in seen_keys or (r["ref"], r["pair_id"], r["y"], r["annotator"]) in seen_old:
            continue
        seen_keys.add(key)
        r["key"] = key
        fresh.append(r)
    start = 0 if existing is None else len(existing)
    for k, r in enumerate(fresh):
        r["index"] = start + k
        r["seed"] = seed
    append_jsonl(out, fresh)
    skipped = len(rows) - len(fresh)
    ties = sum(r["winner"] == "tie" for r in fresh)
    print(f"ingested {len(fresh)} labels from {args.inp} into {out}"
          + (f" ({ties} ties, y = 0.5)" if ties else "")
          + (f"; {skipped} already there, skipped" if skipped else "")
          + (f"; {len(got.labels) - len(keep)} repeats dropped (--dedup)" if args.dedup else ""))
    return 0


def _first_of_each(labels: Labels) -> np.ndarray:
    """Indices of the first label of each (pair, annotator), in file order."""
    who = labels.annotator or ("",) * len(labels)
    seen, keep = set(), []
    for k, key in enumerate(zip(labels.pairs.tolist(), who)):
        if key not in seen:
            seen.add(key)
            keep.append(k)
    return np.asarray(keep, dtype=np.int64)


def _warn_repeats(repeats: dict, pool, *, dedup: bool, tasks: bool) -> None:
    """One warning for the pairs labelled more often (by one annotator) than they were sent out."""
    if not repeats:
        return
    (pair, who), most = max(repeats.items(), key=lambda kv: kv[1])
    pid = pool.pairs().pair_ids([pair])[0]
    by = f" by annotator {who!r}" if who else ""
    what = ("kept only the first of each (--dedup)" if dedup else
            "all kept (repeated labels of one pair are legitimate data); pass --dedup to keep only the first")
    often = "more often than they were sent out" if tasks else "more than once"
    warnings.warn(f"{len(repeats)} pair(s) are labelled {often} by the same annotator in this file (most: "
                  f"{pid}{by}, {most} times); {what}", stacklevel=2)


def _subset(labels: Labels, keep: np.ndarray) -> Labels:
    ann = None if labels.annotator is None else tuple(labels.annotator[k] for k in keep.tolist())
    return Labels(labels.pairs[keep], labels.y[keep], source=labels.source, seed=labels.seed, annotator=ann)
