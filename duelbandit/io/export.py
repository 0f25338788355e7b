"""Exports: annotation tasks for Label Studio and Argilla, and preference pairs for TRL.

Every task is one label to collect: a pair asked for twice (a repeat) gives two tasks, ``task_id``
``"<pair_id>#0"`` and ``"<pair_id>#1"``. Response ``a`` is the pair's first response (local index i),
``b`` the second (j): a winner ``a`` means y = 1 (see :mod:`duelbandit.io.labels`).

**Label Studio** (:func:`label_studio_tasks`, :data:`LABEL_STUDIO_CONFIG`): a JSON array of tasks
``{"data": {"task_id", "pair_id", "prompt_id", "prompt", "response_a", "response_b"}}`` — the import
format (``data`` keys are the ``$variables`` of the labeling config). The config shows the prompt and the
two responses and asks one single choice, ``preference`` in {A, B, Tie}. Label Studio's JSON export
of the annotated tasks is read back by ``duelbandit ingest`` (choice A -> winner a, B -> b, Tie -> tie;
``completed_by`` -> annotator; cancelled annotations skipped).

**Argilla** (:func:`argilla_records`, :data:`ARGILLA_SETTINGS_SNIPPET`): JSON lines of records
``{"id", "prompt", "response_a", "response_b", "pair_id", "prompt_id"}`` for
``dataset.records.log(records)``: ``id`` is the record id (the task id), ``prompt`` / ``response_a`` /
``response_b`` match the dataset's three text fields, ``pair_id`` / ``prompt_id`` its two terms metadata
properties. The question is a ``LabelQuestion`` named ``preference`` with labels a, b, tie. Export the
answers with ``dataset.records.to_list(flatten=True)`` and ingest them.

**TRL** (:func:`trl_rows`): the preference convention of TRL's DPO/reward trainers,
``{"prompt", "chosen", "rejected"}`` per line, plus provenance columns ``pair_id``, ``prompt_id``,
``selector``, ``design_weight``, ``label_source``, ``annotator``, ``seed``, ``round``, ``y``. The schema is
fixed (:data:`TRL_SCHEMA`): every column is always present with one type and never null, so exports from
different sources (a collect run, ingested human labels) load and concatenate with
``datasets.concatenate_datasets``. Unknown values are ``""`` (strings), ``-1`` (``seed``, ``round``) and
``-1.0`` (``design_weight``: a label that no design weighted; real weights are >= 0). One row per
label (repeats and disagreements are kept: they are the data). Ties carry no preference: ``ties="skip"``
(default) leaves them out; ``ties="both"`` writes both orders, which in a DPO loss is the gradient of the
soft label y = 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.types import Pool

LABEL_STUDIO_CONFIG = """<View>
  <Header value="Which response is better?"/>
  <Text name="prompt" value="$prompt"/>
  <View style="display: flex; gap: 1em;">
    <View style="flex: 1;">
      <Header value="A"/>
      <Text name="response_a" value="$response_a"/>
    </View>
    <View style="flex: 1;">
      <Header value="B"/>
      <Text name="response_b" value="$response_b"/>
    </View>
  </View>
  <Choices name="preference" toName="prompt" choice="single" required="true" showInline="true">
    <Choice value="A"/>
    <Choice value="B"/>
    <Choice value="Tie"/>
  </Choices>
</View>
"""

ARGILLA_SETTINGS_SNIPPET = '''"""Create the Argilla dataset for the exported records, log them, and (later) write the answers back.

Connection: set ARGILLA_API_URL (the server, e.g. http://localhost:6900) and ARGILLA_API_KEY (the key shown
under "My settings" in the Argilla UI) in the environment before running this script. The record and
answer files are opened next to this script, wherever it is run from.
"""
import json
import os
from pathlib import Path

import argilla as rg

HERE = Path(__file__).resolve().parent
client = rg.Argilla(api_url=os.environ["ARGILLA_API_URL"], api_key=os.environ["ARGILLA_API_KEY"])
settings = rg.Settings(
    fields=[rg.TextField(name="prompt"), rg.TextField(name="response_a"), rg.TextField(name="response_b")],
    questions=[rg.LabelQuestion(name="preference", labels=["a", "b", "tie"])],
    metadata=[rg.TermsMetadataProperty(name="pair_id"), rg.TermsMetadataProperty(name="prompt_id")],
)
dataset = rg.Dataset(name="duelbandit-pairs", settings=settings, client=client)
dataset.create()
with open(HERE / "argilla_records.jsonl", encoding="utf-8") as f:
    dataset.records.log([json.loads(line) for line in f])
# later: write the answers back for `duelbandit ingest` (only submitted answers are ingested)
with open(HERE / "argilla_answers.jsonl", "w", encoding="utf-8") as f:
    for row in dataset.records.to_list(flatten=True):
        f.write(json.dumps(row, default=str) + "\\n")
'''


def task_rows(pool: Pool, index: np.ndarray | Sequence[int], *, tag: str = "",
              task_ids: Sequence[str | None] | None = None) -> list[dict]:
    """One task per entry of ``index`` (candidate indices, repeats allowed), in order:
    ``{"task_id", "pair_id", "prompt_id", "prompt", "response_a", "response_b"}``. The k-th task of a
    pair has ``task_id = "<pair_id>#<tag><k>"`` (a collection round's pending tasks use tag ``"r<round>-"``,
    so ids stay unique across rounds) unless ``task_ids`` gives it."""
    cand = pool.pairs()
    index = np.asarray(index, dtype=np.int64)
    ids = cand.pair_ids(index)
    seen: dict[str, int] = {}
    rows = []
    for s, (pid, k) in enumerate(zip(ids, index.tolist())):
        rep = seen.get(pid, 0)
        seen[pid] = rep + 1
        n = int(cand.prompt[k])
        given = None if task_ids is None else task_ids[s]
        rows.append({
            "task_id": given or f"{pid}#{tag}{rep}",
            "pair_id": pid,
            "prompt_id": pool.prompt_ids[n],
            "prompt": pool.prompts[n],
            "response_a": pool.responses[int(cand.i[k])],
            "response_b": pool.responses[int(cand.j[k])],
        })
    return rows


def label_studio_tasks(pool: Pool, index: np.ndarray | Sequence[int], **kw: object) -> list[dict]:
    """Label Studio import tasks (a JSON array): ``[{"data": task}, ...]`` with ``task`` as in
    :func:`task_rows` (keywords passed on); pair with :data:`LABEL_STUDIO_CONFIG`."""
    return [{"data": row} for row in task_rows(pool, index, **kw)]


def argilla_records(pool: Pool, index: np.ndarray | Sequence[int], **kw: object) -> list[dict]:
    """Argilla records for ``dataset.records.log``: ``{"id", "prompt", "response_a", "response_b",
    "pair_id", "prompt_id"}`` (fields, metadata and id of the settings in :data:`ARGILLA_SETTINGS_SNIPPET`)."""
    return [
        {"id": r["task_id"], "prompt": r["prompt"], "response_a": r["response_a"],
         "response_b": r["response_b"], "pair_id": r["pair_id"], "prompt_id": r["prompt_id"]}
        for r in task_rows(pool, index, **kw)
    ]


# column -> (type, value when unknown): fixed, so that every export has the same typed schema
TRL_SCHEMA: dict[str, tuple[str, object]] = {
    "prompt": ("string", ""),
    "chosen": ("string", ""),
    "rejected": ("string", ""),
    "pair_id": ("string", ""),
    "prompt_id": ("string", ""),
    "selector": ("string", ""),
    "design_weight": ("float64", -1.0),
    "label_source": ("string", ""),
    "annotator": ("string", ""),
    "seed": ("int64", -1),
    "round": ("int64", -1),
    "y": ("float64", 0.5),
}


def _typed(column: str, value: object) -> object:
    kind, missing = TRL_SCHEMA[column]
    if value is None:
        return missing
    return {"string": str, "float64": float, "int64": int}[kind](value)


def trl_rows(pool: Pool, rows: Sequence[dict], pairs: np.ndarray, *, ties: str = "skip") -> list[dict]:
    """TRL preference rows from label-log rows (see the module docstring).

    Args:
        pool: the pool.
        rows: label-log rows (:mod:`duelbandit.io.labels`), each with ``y`` and the provenance fields.
        pairs: (len(rows),) their candidate indices.
        ties: "skip" (default) or "both" for y = 0.5; any other soft label (0 < y < 1, y != 0.5) is
            written in its more likely order.

    Returns:
        One dict per exported preference: the columns of :data:`TRL_SCHEMA`, typed, never None.
    """
    if ties not in ("skip", "both"):
        raise ConfigError(f"ties: expected 'skip' or 'both', got {ties!r}")
    cand = pool.pairs()
    out = []
    for row, k in zip(rows, np.asarray(pairs, dtype=np.int64).tolist()):
        a, b = pool.responses[int(cand.i[k])], pool.responses[int(cand.j[k])]
        y = float(row["y"])
        if y == 0.5:
            orders = [] if ties == "skip" else [(a, b), (b, a)]
        else:
            orders = [(a, b) if y > 0.5 else (b, a)]
        for chosen, rejected in orders:
            raw = {
                "prompt": pool.prompts[int(cand.prompt[k])],
                "chosen": chosen,
                "rejected": rejected,
                "pair_id": row.get("pair_id"),
                "prompt_id": row.get("prompt_id"),
                "selector": row.get("selector"),
                "design_weight": row.get("design_weight"),
                "label_source": row.get("source"),
                "annotator": row.get("annotator"),
                "seed": row.get("seed"),
                "round": row.get("round"),
                "y": y,
            }
            out.append({c: _typed(c, raw[c]) for c in TRL_SCHEMA})
    return out


def trl_parquet_bytes(rows: Sequence[dict]) -> bytes:
    """The TRL rows as a Parquet file (pyarrow) with the fixed :data:`TRL_SCHEMA` (also when empty)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, getattr(pa, kind)()) for c, (kind, _) in TRL_SCHEMA.items()])
    table = pa.table({c: [r[c] for r in rows] for c in TRL_SCHEMA}, schema=schema)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()
