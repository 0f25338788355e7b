"""Human label files (what ``ingest`` and the file annotator read), and task files.

Accepted inputs (see :mod:`duelbandit.io.labels` for the label convention):

- JSON lines, CSV (read strictly: :mod:`duelbandit.io.tables`), Parquet, or a Hugging Face ``datasets``
  table (a ``save_to_disk`` folder or an in-memory ``Dataset``) with a ``pair_id`` column and ``winner``
  (``a``/``b``/``tie``, any case) or ``y`` in [0, 1]; optional ``annotator`` (or ``annotator_id``). The
  ingest output and the collect log are valid input too.
- A Label Studio JSON export (a ``.json`` array) of the tasks written by ``duelbandit export``: each task's
  ``data.pair_id`` and every non-cancelled annotation's ``preference`` choice (A / B / Tie; a ``Pairwise``
  control's left / right). An annotation whose ``result`` is empty (submitted without a choice) is skipped
  and counted, with one warning. The JSON-MIN export (flat ``pair_id`` + ``preference``) works too.
- Argilla records flattened by the SDK (``dataset.records.to_list(flatten=True)``): ``pair_id`` and the
  answers ``preference.responses`` with ``.users`` and ``.status``. Only ``submitted`` answers are labels;
  ``draft`` ones are skipped (counted, one warning) unless ``include_drafts``; ``discarded`` ones always.

Every answer gets a **content key** that does not depend on the path the file was reached by:
``label-studio:annotation:<id>``, ``argilla:<record id>:<user>``, else ``sha256:<file digest>:<place>``
(the file's content hash and the line or item). ``ingest`` skips answers whose key is already in its log,
so the same export ingested twice, through any path, adds nothing.

A collect label log given as input is checked for what two writers would leave: a repeated ``index``
(two runs appending to one log) and more labels than the budget of the checkpoint beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from duelbandit.errors import LabelError
from duelbandit.io.jsonl import _decode, _warn, read_jsonl
from duelbandit.io.labels import WINNERS, _pair_index, _winner, _y_of
from duelbandit.io.tables import PARQUET_SUFFIXES, csv_rows, dataset_records, is_dataset_dir, parquet_records
from duelbandit.types import Labels, Pool


@dataclass(frozen=True)
class HumanLabels:
    """A human label file, read and checked.

    Attributes:
        labels: one label per answer, in file order.
        refs: where each came from (``"label-studio:annotation:<id>"``, ``"argilla:<id>:<user>"`` or
            ``"<file>:<line>"``).
        keys: each answer's content key (see the module docstring).
        skipped: answers left out, by reason (``"empty Label Studio result"``, ``"Argilla draft"``, ...).
    """

    labels: Labels
    refs: list[str]
    keys: list[str]
    skipped: dict[str, int] = field(default_factory=dict)

    def repeats(self) -> dict[tuple[int, str], int]:
        """(pair index, annotator) -> count, for those labelled more than once."""
        c = Counter(zip(self.labels.pairs.tolist(), self.labels.annotator or ("",) * len(self.labels)))
        return {k: v for k, v in c.items() if v > 1}


def _digest(source: Any) -> str:
    if isinstance(source, Path) and source.is_file():
        return hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    if isinstance(source, Path):  # a datasets folder: hash its files in name order
        h = hashlib.sha256()
        for f in sorted(p for p in source.rglob("*") if p.is_file()):
            h.update(f.relative_to(source).as_posix().encode() + b"\0" + f.read_bytes())
        return h.hexdigest()[:16]
    return str(getattr(source, "_fingerprint", "dataset"))[:16]


def _records(source: Any, csv_field_limit: int | None) -> Iterator[tuple[str, str, dict]]:
    """(where, place within the file, object) for every record of a supported file or dataset."""
    if not isinstance(source, (str, os.PathLike)):
        for k, row in dataset_records(source, LabelError):
            yield f"dataset: row {k}", f"row {k}", row
        return
    path = Path(source)
    if is_dataset_dir(path):
        for k, row in dataset_records(path, LabelError):
            yield f"{path}: row {k}", f"row {k}", row
        return
    if not path.is_file():
        raise LabelError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        for k, row in parquet_records(path, LabelError):
            yield f"{path}: row {k}", f"row {k}", row
        return
    if suffix == ".csv":
        yield from _csv_records(path, csv_field_limit)
        return
    if suffix == ".json":
        text = _decode(path, path.read_bytes())
        if text.lstrip().startswith("["):
            try:
                items = json.loads(text)
            except ValueError as exc:
                raise LabelError(f"{path}: malformed JSON array ({exc})") from None
            for k, item in enumerate(items):
                if not isinstance(item, dict):
                    raise LabelError(f"{path}: item {k}: expected a JSON object, got {type(item).__name__}")
                yield f"{path}: item {k}", f"item {k}", item
            return
    if suffix not in (".jsonl", ".json", ".ndjson"):
        raise LabelError(f"{path}: unknown extension {path.suffix!r}; expected .jsonl, .json, .ndjson, .csv, "
                         ".parquet or a datasets folder")
    for line, obj in read_jsonl(path, error=LabelError):
        yield f"{path}:{line}", f"line {line}", obj


def _csv_records(path: Path, field_limit: int | None) -> Iterator[tuple[str, str, dict]]:
    header = None
    for line, cells in csv_rows(path, LabelError, field_limit=field_limit):
        if header is None:
            header = [h.strip() for h in cells]
            if "pair_id" not in header:
                raise LabelError(f"{path}:{line}: missing column 'pair_id' in the header (found {header})")
            continue
        if len(cells) > len(header):
            raise LabelError(f"{path}:{line}: the row has more cells than the header")
        row = {h: c.strip() for h, c in zip(header, cells)}
        if not any(row.values()):
            continue
        yield f"{path}:{line}", f"line {line}", row
    if header is None:
        raise LabelError(f"{path}: empty file (no header)")


def _label_studio(row: dict, where: str, skipped: Counter) -> tuple[Any, list[tuple[float, str, str]]]:
    pid = row["data"].get("pair_id")
    out = []
    for a, ann in enumerate(row["annotations"] or []):
        if ann.get("was_cancelled"):
            continue
        if not ann.get("result"):  # submitted without a choice: not a label
            skipped["empty Label Studio result"] += 1
            continue
        who = "" if ann.get("completed_by") is None else str(ann["completed_by"])
        hit = None
        for res in ann["result"]:
            value = res.get("value") or {}
            if res.get("type") == "choices" and res.get("from_name", "preference") == "preference":
                choices = value.get("choices") or []
                if len(choices) != 1:
                    raise LabelError(f"{where}: annotation {a}: expected one choice, got {choices!r}")
                hit = _winner(choices[0], f"{where}: annotation {a}", "choices")
            elif res.get("type") == "pairwise":
                hit = _winner(value.get("selected"), f"{where}: annotation {a}", "selected")
        if hit is None:
            raise LabelError(f"{where}: annotation {a} has no 'preference' choice")
        ref = f"label-studio:annotation:{ann['id']}" if ann.get("id") is not None else f"{where}#{a}"
        out.append((WINNERS[hit], who, ref))
    return pid, out


def _argilla(row: dict, where: str, skipped: Counter, include_drafts: bool) -> tuple[Any, list]:
    values = row["preference.responses"] or []
    users = row.get("preference.responses.users") or [""] * len(values)
    status = row.get("preference.responses.status") or ["submitted"] * len(values)  # older exports: none
    if not len(users) == len(values) == len(status):
        raise LabelError(f"{where}: {len(values)} answers, {len(users)} users and {len(status)} statuses")
    keep = ("submitted", "draft") if include_drafts else ("submitted",)
    rid = row.get("id")
    out = []
    for k, (v, u, st) in enumerate(zip(values, users, status)):
        if st not in keep:
            skipped[f"Argilla {st}"] += 1
            continue
        ref = f"argilla:{rid}:{u}" if rid is not None else f"{where}#{k}"
        out.append((WINNERS[_winner(v, where, "preference.responses")], str(u), ref))
    return row.get("pair_id"), out


def _answers(row: dict, where: str, skipped: Counter, include_drafts: bool
             ) -> tuple[Any, list[tuple[float, str, str]]]:
    """(pair_id, [(y, annotator, ref), ...]) of one record in any supported layout."""
    if isinstance(row.get("data"), dict) and "annotations" in row:  # Label Studio, full JSON export
        return _label_studio(row, where, skipped)
    if "preference.responses" in row:  # Argilla, records.to_list(flatten=True)
        return _argilla(row, where, skipped, include_drafts)
    pid = row.get("pair_id")
    who = row.get("annotator", row.get("annotator_id"))
    who = "" if who is None else str(who)
    if "preference" in row and "winner" not in row and "y" not in row:  # Label Studio JSON-MIN
        ref = f"label-studio:annotation:{row['annotation_id']}" if row.get("annotation_id") is not None else where
        return pid, [(WINNERS[_winner(row["preference"], where, "preference")], who, ref)]
    return pid, [(_y_of(row, where), who, where)]


class _LogCheck:
    """Catches what two writers leave in a collect label log: a repeated index, more labels than the
    budget of the checkpoint beside the file, a (pair, annotator, round) labelled more often than the
    round's batch scheduled the pair (the log's ``scheduled`` field)."""

    def __init__(self, source: Any) -> None:
        self.first: dict[Any, str] = {}
        self.seen: dict[tuple, list[str]] = {}  # (pair, annotator, round) -> where each label of it is
        self.n = 0
        self.budget = None
        self.where = source
        ckpt = Path(source).parent / "checkpoint.json" if isinstance(source, (str, os.PathLike)) else None
        if ckpt is not None and ckpt.is_file():
            try:
                self.budget = int(json.loads(ckpt.read_text(encoding="utf-8"))["settings"]["budget"])
                self.ckpt = ckpt
            except (ValueError, KeyError, TypeError):
                self.budget = None

    def row(self, row: dict, where: str) -> None:
        if "index" not in row or "pool" not in row or row.get("round") is None:
            return
        key = row["index"]
        if key in self.first:
            raise LabelError(f"{where}: label index {key!r} repeats {self.first[key]}: two runs wrote into this "
                             "log (one writer per state folder); refusing it")
        self.first[key] = where
        self.n += 1
        slot = (row.get("pair_id"), row.get("annotator"), row["round"])
        self.seen.setdefault(slot, []).append(where)
        times = row.get("scheduled")
        if isinstance(times, int) and len(self.seen[slot]) > times:
            at = ", ".join(w.rsplit(":", 1)[-1] for w in self.seen[slot])
            raise LabelError(f"{where}: pair {slot[0]!r} labelled by annotator {slot[1]!r} in round {slot[2]} "
                             f"{len(self.seen[slot])} times (lines {at}), but the round's batch scheduled it "
                             f"{times} time(s): the round was written twice, as two runs leave; refusing it")
        if self.budget is not None and self.n > self.budget:
            raise LabelError(f"{where}: label {self.n} of a log whose run had a budget of {self.budget} labels "
                             f"({self.ckpt}): more labels than the budget, as two concurrent runs leave; "
                             "refusing it")


def read_human_file(
    source: str | os.PathLike | Any,
    pool: Pool,
    *,
    tasks: set[str] | None = None,
    source_name: str | None = None,
    include_drafts: bool = False,
    csv_field_limit: int | None = None,
) -> HumanLabels:
    """Read human labels (see the module docstring) for ``pool``.

    Args:
        source: a file, a ``datasets`` folder, or an in-memory ``datasets.Dataset``.
        pool: the pool the pair ids refer to.
        tasks: when given, the pair ids that were sent out; a label for any other pair is refused.
        source_name: the labels' ``source`` (default ``"human:<file name>"``).
        include_drafts: also take Argilla ``draft`` answers.
        csv_field_limit: the largest CSV field in bytes (default 128 KiB).

    Raises:
        LabelError naming the file and line (or item, or row) of the first malformed record, unknown pair
        id, label of another pool, pair not among ``tasks``, or a label log written by two runs.
    """
    fp = pool.fingerprint()
    is_path = isinstance(source, (str, os.PathLike))
    digest = _digest(Path(source) if is_path else source)
    name = Path(source).name if is_path else "dataset"
    pairs, ys, who, refs, keys = [], [], [], [], []
    skipped: Counter = Counter()
    check = _LogCheck(source)
    for where, place, row in _records(source, csv_field_limit):
        if row.get("pool") not in (None, "", fp):
            raise LabelError(f"{where}: this label belongs to pool {row['pool']!r}, not to {pool.name!r} "
                             f"(fingerprint {fp}): labels from another pool are refused")
        check.row(row, where)
        pid, answers = _answers(row, where, skipped, include_drafts)
        p = _pair_index(pool, pid, where)
        if tasks is not None and pid not in tasks:
            raise LabelError(f"{where}: pair_id {pid!r} was not among the exported tasks")
        for k, (y, a, ref) in enumerate(answers):
            pairs.append(p)
            ys.append(y)
            who.append(a)
            refs.append(ref)
            content = ref.startswith(("label-studio:", "argilla:"))
            keys.append(ref if content else f"sha256:{digest}:{place}#{k}")
    for reason, count in skipped.items():
        _warn(f"{source}: skipped {count} answer(s): {reason}"
              + (" (pass --include-drafts to take drafts)" if reason == "Argilla draft" else ""))
    labels = Labels(np.asarray(pairs, dtype=np.int64), np.asarray(ys, dtype=np.float64),
                    source=source_name or f"human:{name}", annotator=tuple(who))
    return HumanLabels(labels=labels, refs=refs, keys=keys, skipped=dict(skipped))


def read_human_labels(
    path: str | os.PathLike, pool: Pool, *, tasks: set[str] | None = None, source: str | None = None
) -> tuple[Labels, list[str]]:
    """(labels, refs) of a human label file: :func:`read_human_file` with its defaults."""
    got = read_human_file(path, pool, tasks=tasks, source_name=source)
    return got.labels, got.refs


def read_tasks(path: str | os.PathLike, pool: Pool) -> tuple[np.ndarray, list[str | None]]:
    """The tasks of a task file (JSONL or CSV with a ``pair_id`` column: the output of ``duelbandit
    select``, a collect run's ``pending.jsonl``, ...), one entry per task (repeats kept).

    Returns:
        (candidate indices, the tasks' ``task_id`` where the file has one, else None).

    Raises:
        LabelError naming ``file:line`` for a missing or unknown pair id, or an empty file.
    """
    index, task_ids = [], []
    for where, _, row in _records(Path(path), None):
        index.append(_pair_index(pool, row.get("pair_id"), where))
        tid = row.get("task_id")
        task_ids.append(tid if isinstance(tid, str) and tid else None)
    if not index:
        raise LabelError(f"{path}: no task in the file")
    return np.asarray(index, dtype=np.int64), task_ids
