"""``duelbandit export``: annotation tasks for Label Studio / Argilla, or TRL preference pairs.

- ``--format label-studio --tasks TASKS --out tasks.json``: a JSON array of import tasks, plus
  ``tasks.json.config.xml``, the labeling config to paste into the project.
- ``--format argilla --tasks TASKS --out records.jsonl``: records for ``dataset.records.log``, plus
  ``records.jsonl.settings.py``, a script that creates the dataset and logs them.
- ``--format trl --labels LABELS --out train.jsonl``: ``{"prompt", "chosen", "rejected"}`` lines with
  provenance columns of a fixed type (see duelbandit.io.export.TRL_SCHEMA; ``--out train.parquet``
  writes Parquet); ``--ties skip`` (default) or ``both``.

An existing output is replaced only with ``--force``; an output that is one of the inputs is refused.

TASKS is any JSONL/CSV with a ``pair_id`` per line (``duelbandit select``'s output, a collect run's
``pending.jsonl``). LABELS is a label log (a collect run's ``labels.jsonl`` or ``duelbandit ingest``'s
output). The mapping is documented in duelbandit.io.export and docs/human_loop.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from duelbandit.errors import ConfigError
from duelbandit.io import dumps, open_pool, write_bytes_atomic, write_text_atomic
from duelbandit.io.export import (
    ARGILLA_SETTINGS_SNIPPET,
    LABEL_STUDIO_CONFIG,
    argilla_records,
    label_studio_tasks,
    trl_parquet_bytes,
    trl_rows,
)
from duelbandit.io.human import read_tasks
from duelbandit.io.labels import read_label_log
from duelbandit.io.safety import check_outputs, output_paths

FORMATS = ("label-studio", "argilla", "trl")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True, help="the pool the pair ids refer to (file, or bundled[:N])")
    p.add_argument("--format", required=True, choices=FORMATS)
    p.add_argument("--out", required=True, help="output file")
    p.add_argument("--tasks", help="label-studio / argilla: file of tasks with a pair_id per line")
    p.add_argument("--labels", help="trl: a label log (collect's labels.jsonl or ingest's output)")
    p.add_argument("--ties", default="skip", choices=("skip", "both"),
                   help="trl: leave ties out (default) or write both orders")
    p.add_argument("--skip-bad", action="store_true", help="skip malformed prompts of the pool file")
    p.add_argument("--force", action="store_true", help="replace existing output files (written atomically)")


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    side = {"label-studio": (".config.xml",), "argilla": (".settings.py",), "trl": ()}[args.format]
    check_outputs(output_paths(out, *side), {"--pool": args.pool, "--labels": args.labels, "--tasks": args.tasks},
                  force=args.force)
    pool = open_pool(args.pool, on_error="skip" if args.skip_bad else "raise")
    if args.format == "trl":
        if not args.labels:
            raise ConfigError("--labels: required with --format trl (a label log: labels.jsonl of a collect "
                              "run, or the output of duelbandit ingest)")
        log = read_label_log(args.labels, pool)
        rows = trl_rows(pool, log.rows, log.labels.pairs, ties=args.ties)
        if out.suffix.lower() == ".parquet":
            write_bytes_atomic(out, trl_parquet_bytes(rows))
        else:
            write_text_atomic(out, "".join(dumps(r) + "\n" for r in rows))
        ties = int((log.labels.y == 0.5).sum())
        print(f"wrote {len(rows)} preference pairs from {len(log)} labels to {out}"
              + (f" ({ties} ties {'skipped' if args.ties == 'skip' else 'written in both orders'})" if ties else ""))
        return 0
    if not args.tasks:
        raise ConfigError(f"--tasks: required with --format {args.format} (a file with a pair_id per line, "
                          "e.g. the output of duelbandit select or STATE/pending.jsonl)")
    index, task_ids = read_tasks(args.tasks, pool)
    if args.format == "label-studio":
        write_text_atomic(out, dumps(label_studio_tasks(pool, index, task_ids=task_ids), indent=1) + "\n")
        extra = Path(str(out) + ".config.xml")
        write_text_atomic(extra, LABEL_STUDIO_CONFIG)
    else:
        records = argilla_records(pool, index, task_ids=task_ids)
        write_text_atomic(out, "".join(dumps(r) + "\n" for r in records))
        extra = Path(str(out) + ".settings.py")
        write_text_atomic(extra, ARGILLA_SETTINGS_SNIPPET.replace("argilla_records.jsonl", out.name))
    print(f"wrote {index.shape[0]} tasks to {out} and {extra}")
    return 0
