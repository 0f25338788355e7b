"""Label files: the label log that ``collect`` and ``ingest`` write, and human label files (ingest).

Label convention (as in :class:`duelbandit.annotate.Labels`): ``y = 1`` when the pair's first response
``a`` (local index i) is preferred, ``0`` when the second ``b`` (j) is; winner ``"a"``, ``"b"`` or
``"tie"``. **Ties** enter as ``y = 0.5``: in the Bradley–Terry likelihood that is exactly half a win for
each side (0.5 log sigma(z) + 0.5 log sigma(-z)), which pulls the two rewards together and never
pretends to a preference. The TRL export skips ties by default (see :mod:`duelbandit.io.export`).

The label log (``labels.jsonl``), one JSON object per label, in label order::

    {"index": 0, "round": 0, "pair_id": "tp0003:1-4", "prompt_id": "tp0003", "y": 1.0, "winner": "a",
     "source": "simulated-bt", "annotator": null, "seed": 0, "selector": "odpo",
     "design_weight": 0.0123, "pool": "<Pool.fingerprint()>", "ref": null}

``index`` runs 0, 1, 2, ... with no gap or repeat (a duplicated or lost label is caught by line);
``round`` is the collection round (None for ingested labels); ``pool`` is the fingerprint of the pool the
pair ids refer to: a log from another pool is refused; ``ref`` is ``"file:line"`` of an ingested label.

Human label files are read by :mod:`duelbandit.io.human` (:func:`~duelbandit.io.human.read_human_labels`) — any of:

- JSON lines or CSV with a ``pair_id`` column and ``winner`` (``a``/``b``/``tie``, any case) or ``y`` (a
  number in [0, 1]); optional ``annotator`` (or ``annotator_id``). Other columns are ignored, so the
  ingest output and the collect log are valid input too.
- A Label Studio JSON export (a ``.json`` array) of the tasks written by ``duelbandit export --format
  label-studio``: each task's ``data.pair_id`` and every non-cancelled annotation's choice in the
  ``preference`` control (``A`` / ``B`` / ``Tie``; ``completed_by`` is the annotator). The JSON-MIN export
  (flat objects with ``pair_id`` and ``preference``) works too; so does a ``Pairwise`` control
  (``{"selected": "left"|"right"}``).
- Argilla records flattened by the SDK (``dataset.records.to_list(flatten=True)``, written as JSON
  lines or a JSON array): ``pair_id`` and the answers ``preference.responses`` (with
  ``preference.responses.users`` as annotators), one label per answer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from duelbandit.types import Labels
from duelbandit.errors import LabelError, PoolError
from duelbandit.io.jsonl import read_jsonl
from duelbandit.types import Pool

WINNERS = {"a": 1.0, "b": 0.0, "tie": 0.5}
# Label Studio choice values and Pairwise sides written by our export, mapped to winners
_ALIASES = {"a": "a", "b": "b", "tie": "tie", "left": "a", "right": "b"}
LOG_FIELDS = ("index", "round", "pair_id", "prompt_id", "y", "winner", "source", "annotator", "seed",
              "selector", "design_weight", "pool", "ref")


def winner_of(y: float) -> str | None:
    """'a' (y = 1), 'b' (y = 0), 'tie' (y = 0.5), None for any other soft label."""
    for w, v in WINNERS.items():
        if y == v:
            return w
    return None


def log_rows(
    labels: Labels,
    pool: Pool,
    *,
    start_index: int,
    round: int | None,
    selector: str | None = None,
    design_weight: dict[int, float] | None = None,
    refs: list[str] | None = None,
    fingerprint: str | None = None,
    scheduled: dict[int, int] | None = None,
) -> list[dict]:
    """The label-log rows of ``labels`` (one per label, ``index`` from ``start_index``); ``fingerprint``
    is ``pool.fingerprint()`` when the caller has it already (it hashes every text of the pool);
    ``scheduled``: how many times each pair is in this round's batch (a design repeats pairs), which lets
    ``ingest`` tell a legitimate repeat from a round written twice."""
    cand = pool.pairs()
    ids = cand.pair_ids(labels.pairs)
    fp = fingerprint or pool.fingerprint()
    rows = []
    for k in range(len(labels)):
        p = int(labels.pairs[k])
        y = float(labels.y[k])
        w = None if design_weight is None else design_weight.get(p)
        rows.append({
            "index": start_index + k,
            "round": round,
            "pair_id": ids[k],
            "prompt_id": pool.prompt_ids[int(cand.prompt[p])],
            "y": y,
            "winner": winner_of(y),
            "source": labels.source,
            "annotator": None if labels.annotator is None else labels.annotator[k],
            "seed": labels.seed,
            "selector": selector,
            "design_weight": None if w is None else float(w),
            **({} if scheduled is None else {"scheduled": int(scheduled[p])}),
            "pool": fp,
            "ref": None if refs is None else refs[k],
        })
    return rows


@dataclass(frozen=True)
class LabelLog:
    """A parsed label log.

    Attributes:
        labels: the labels, in log order (annotator ids "" where unknown).
        rows: the raw rows (dicts), aligned with ``labels``.
        lines: the 1-based line of every row.
    """

    labels: Labels
    rows: list[dict]
    lines: list[int]

    def __len__(self) -> int:
        return len(self.rows)


def _pair_index(pool: Pool, pid: Any, where: str) -> int:
    if not isinstance(pid, str) or not pid:
        raise LabelError(f"{where}: field 'pair_id' is {pid!r}; expected a pair id such as 'q1:0-2'")
    try:
        return int(pool.pairs().index_of([pid])[0])
    except PoolError:
        raise LabelError(
            f"{where}: unknown pair_id {pid!r}: not a candidate pair of pool {pool.name!r} "
            "(labels from another pool, or a pool file that changed?)"
        ) from None


def _y_of(row: dict, where: str) -> float:
    """y from ``winner`` and/or ``y`` (they must agree when both are given)."""
    y = None
    if row.get("y") is not None:
        v = row["y"]
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                raise LabelError(f"{where}: field 'y' is {v!r}; expected a number in [0, 1]") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise LabelError(f"{where}: field 'y' is {v!r}; expected a number in [0, 1]")
        y = float(v)
    if row.get("winner") is not None and row.get("winner") != "":
        w = _winner(row["winner"], where, "winner")
        if y is not None and WINNERS[w] != y:
            raise LabelError(f"{where}: field 'winner' is {row['winner']!r} but 'y' is {y}; they disagree")
        y = WINNERS[w]
    if y is None:
        raise LabelError(f"{where}: no label: expected a field 'winner' ('a', 'b' or 'tie') or 'y' in [0, 1]")
    return y


def _winner(v: Any, where: str, field: str) -> str:
    key = v.strip().lower() if isinstance(v, str) else None
    if key not in _ALIASES:
        raise LabelError(f"{where}: field {field!r} is {v!r}; expected 'a', 'b' or 'tie'")
    return _ALIASES[key]


def read_label_log(path: str | os.PathLike, pool: Pool, *, allow_torn_tail: bool = False) -> LabelLog:
    """Read and check a label log (see the module docstring) against ``pool``.

    Raises:
        LabelError naming ``path:line``: malformed JSON, a missing field, a label of another pool
        (fingerprint), an unknown pair id, y outside [0, 1] or disagreeing with ``winner``, an index out
        of sequence (a duplicated or lost label).
    """
    path = Path(path)
    fp = pool.fingerprint()
    rows, lines, pairs, ys, who = [], [], [], [], []
    for line, row in read_jsonl(path, error=LabelError, allow_torn_tail=allow_torn_tail):
        where = f"{path}:{line}"
        for key in ("index", "pair_id", "pool"):
            if key not in row:
                raise LabelError(f"{where}: missing field {key!r}; not a duelbandit label log line")
        if row["pool"] != fp:
            raise LabelError(
                f"{where}: this label belongs to pool {row['pool']!r}, not to {pool.name!r} (fingerprint "
                f"{fp}): labels from another pool are refused"
            )
        if row["index"] != len(rows):
            what = "repeats an earlier label" if isinstance(row["index"], int) and row["index"] < len(rows) \
                else "skips labels"
            raise LabelError(f"{where}: field 'index' is {row['index']!r}, expected {len(rows)} ({what})")
        pairs.append(_pair_index(pool, row["pair_id"], where))
        ys.append(_y_of(row, where))
        who.append("" if row.get("annotator") is None else str(row["annotator"]))
        rows.append(row)
        lines.append(line)
    sources = sorted({str(r.get("source")) for r in rows})
    labels = Labels(np.asarray(pairs, dtype=np.int64), np.asarray(ys, dtype=np.float64),
                    source="+".join(sources) if sources else "unknown", annotator=tuple(who))
    return LabelLog(labels=labels, rows=rows, lines=lines)
