"""Pool files: reading (:func:`load_pool`) and writing (:func:`save_pool`) prompts and responses.

Pool files (:func:`load_pool`, :func:`save_pool`) are JSON lines (``.jsonl``, ``.json``, ``.ndjson``, one
object per line), CSV (``.csv``, with a header, read strictly: see :mod:`duelbandit.io.tables`), Parquet
(``.parquet``, pyarrow), or a Hugging Face ``datasets`` table: a folder written by ``save_to_disk`` or an
in-memory ``Dataset`` (:func:`pool_from_dataset`). Parquet and datasets rows are checked exactly like JSON
lines (``line`` in messages is then the 1-based row number). Each file uses one of two row schemas,
detected from its rows (JSONL, Parquet, datasets) or header (CSV):

- one row per prompt: ``prompt`` (str), ``responses`` (list of str; in CSV a JSON-encoded list), optional
  ``id`` (str or int) and ``skill`` (str);
- one row per response: ``prompt_id`` (str or int), ``prompt`` (str), ``response`` (str), optional
  ``skill``. Rows of a prompt need not be contiguous; prompts keep the order of their first row, responses
  the order of their rows; the prompt text and skill must agree across the rows of one ``prompt_id``.

Other keys/columns are ignored. Blank lines are ignored. Rules (every violation is a :class:`PoolError`
naming ``file:line`` and the field): texts are non-empty, not whitespace-only and not a missing-value
marker (``"nan"``/``"null"``, any case, as left by pandas exports; JSON ``NaN``/``Infinity``/``null`` are
refused too); a prompt has at least 2 responses; ids are unique; responses of one prompt are distinct
after stripping outer whitespace (identical responses give a zero difference vector: a pair that carries
no information but still costs a label).

Default prompt id (no ``id`` field): ``"h" + sha256(prompt text)[:12]``, so it survives reordering and
editing other lines; the k-th repeat of the same prompt text gets ``"-k"`` appended.

``on_error="skip"``: a prompt with any problem is dropped whole (one ``warnings.warn`` naming file:line
and why), except duplicate responses, which are deduplicated (first copy kept, with a warning) and a
repeated id, whose later prompt is dropped. A malformed line whose prompt cannot be told is dropped alone.
A result with no prompt left is still an error.

Never pickle: pools are text; JSON writes refuse NaN; whole-file writes are atomic (see
:mod:`duelbandit.io.jsonl`).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Literal

from duelbandit.errors import PoolError
from duelbandit.io.jsonl import _jsonl_records, dumps, write_bytes_atomic, write_text_atomic
from duelbandit.io.poolrows import PoolBuilder, RowError, check_text, schema_of
from duelbandit.io.poolrows import default_prompt_id as default_prompt_id
from duelbandit.io.tables import PARQUET_SUFFIXES, csv_rows, dataset_records, is_dataset_dir, parquet_records
from duelbandit.types import Pool

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
CSV_SUFFIXES = (".csv",)


def _suffix_kind(path: Path) -> str:
    suf = path.suffix.lower()
    if suf in JSONL_SUFFIXES:
        return "jsonl"
    if suf in CSV_SUFFIXES:
        return "csv"
    if suf in PARQUET_SUFFIXES:
        return "parquet"
    raise PoolError(
        f"{path}: unknown extension {path.suffix!r}; expected one of "
        f"{', '.join(JSONL_SUFFIXES + CSV_SUFFIXES + PARQUET_SUFFIXES)}, or a datasets folder (save_to_disk)"
    )


def load_pool(path: str | os.PathLike, *, on_error: Literal["raise", "skip"] = "raise",
              csv_field_limit: int | None = None) -> Pool:
    """Load a pool from a file or a datasets folder (format by extension, schema detected; see the module
    docstring).

    Args:
        path: ``.jsonl``/``.json``/``.ndjson`` (JSON lines), ``.csv``, ``.parquet``, or a folder written by
            ``datasets.Dataset.save_to_disk``.
        on_error: ``"raise"`` (default) stops at the first problem; ``"skip"`` drops bad prompts with a
            warning naming file:line (and dedupes repeated responses), and fails only if nothing is left.
        csv_field_limit: the largest CSV field in bytes (default 128 KiB, the csv module's).

    Returns:
        A :class:`Pool` named after the path, with skills when the file has a ``skill`` field.

    Raises:
        PoolError: naming ``file:line``, the field, what was expected and what came.
    """
    if on_error not in ("raise", "skip"):
        raise PoolError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
    path = Path(path)
    if is_dataset_dir(path):
        return _from_records(path, list(dataset_records(path, PoolError)), on_error)
    kind = _suffix_kind(path)
    if not path.is_file():
        raise PoolError(f"{path}: no such file")
    if kind == "jsonl":
        return PoolBuilder(path, kind, on_error).build(list(_jsonl_records(path)))
    if kind == "parquet":
        return _from_records(path, list(parquet_records(path, PoolError)), on_error)
    rows, schema = _csv_records(path, csv_field_limit)
    return PoolBuilder(path, kind, on_error).build(rows, schema)


def pool_from_dataset(dataset: Any, *, on_error: Literal["raise", "skip"] = "raise",
                      name: str = "dataset") -> Pool:
    """A pool from an in-memory Hugging Face ``datasets.Dataset`` (either schema of the module docstring),
    checked like a file; errors name ``<name>:<row>``."""
    if on_error not in ("raise", "skip"):
        raise PoolError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
    return _from_records(Path(name), list(dataset_records(dataset, PoolError)), on_error)


def _from_records(path: Path, records: list[tuple[int, dict]], on_error: str) -> Pool:
    return PoolBuilder(path, "table", on_error).build([(k, r, False) for k, r in records])


def save_pool(
    pool: Pool, path: str | os.PathLike, *, schema: Literal["prompt", "response"] = "prompt"
) -> Path:
    """Write ``pool`` so that :func:`load_pool` gives it back exactly (ids, texts, order, skills).

    Args:
        pool: the pool.
        path: ``.jsonl``/``.json``/``.ndjson``, ``.csv`` or ``.parquet``; written atomically.
        schema: ``"prompt"`` (default; one row per prompt: ``id``, ``prompt``, ``responses``[, ``skill``])
            or ``"response"`` (one row per response: ``prompt_id``, ``prompt``, ``response``[, ``skill``]).

    Raises:
        PoolError: when the pool holds something that would not load back (empty text, a missing-value
            marker, repeated responses, a blank id); nothing is written then.
    """
    path = Path(path)
    kind = _suffix_kind(path)
    if schema not in ("prompt", "response"):
        raise PoolError(f"schema: expected 'prompt' or 'response', got {schema!r}")
    for n in range(pool.n_prompts):
        pid = pool.prompt_ids[n]
        try:
            if not pid.strip():
                raise RowError(0, "the prompt id is blank")
            check_text(pool.prompts[n], "prompt", 0)
            seen: dict[str, int] = {}
            for k, r in enumerate(pool.responses_of(n)):
                check_text(r, f"responses[{k}]", 0)
                if r.strip() in seen:
                    raise RowError(0, f"responses[{k}] repeats responses[{seen[r.strip()]}]")
                seen[r.strip()] = k
        except RowError as exc:
            raise PoolError(
                f"{path}: cannot save prompt {pid!r}: {exc.msg}; the file would not load"
            ) from None
    rows: list[dict] = []
    for n in range(pool.n_prompts):
        extra = {"skill": pool.skills[n]} if pool.skills is not None else {}
        if schema == "prompt":
            rows.append(
                {
                    "id": pool.prompt_ids[n],
                    "prompt": pool.prompts[n],
                    "responses": list(pool.responses_of(n)),
                    **extra,
                }
            )
        else:
            rows += [
                {"prompt_id": pool.prompt_ids[n], "prompt": pool.prompts[n], "response": r, **extra}
                for r in pool.responses_of(n)
            ]
    if kind == "jsonl":
        return write_text_atomic(path, "".join(dumps(r) + "\n" for r in rows))
    if kind == "parquet":
        return write_bytes_atomic(path, _parquet_bytes(rows))
    buf = io.StringIO()
    writer = csv.writer(buf)  # default "\r\n" terminator: fields holding \r or \n get quoted
    header = list(rows[0])
    writer.writerow(header)
    for r in rows:
        writer.writerow([dumps(r[h]) if h == "responses" else r[h] for h in header])
    return write_text_atomic(path, buf.getvalue())


def _parquet_bytes(rows: list[dict]) -> bytes:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise PoolError("writing Parquet needs pyarrow (pip install 'duelbandit[formats]')") from None
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def _csv_records(path: Path, field_limit: int | None = None) -> tuple[list[tuple[int, dict | str, bool]], str]:
    """Rows of a CSV file as (line, dict of cells or error message, False), and the schema from its header."""
    out: list[tuple[int, dict | str, bool]] = []
    header: list[str] | None = None
    hline = 0
    for line, cells in csv_rows(path, PoolError, field_limit=field_limit):  # line: where the row starts
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header, hline = [c.strip() for c in cells], line
            dup = sorted({c for c in header if c and header.count(c) > 1})
            if dup:
                raise PoolError(f"{path}:{line}: duplicate column {dup[0]!r} in the header")
            continue
        if len(cells) != len(header):
            out.append((line, f"the row has {len(cells)} cells; the header (line {hline}) has {len(header)}",
                        False))
        else:
            out.append((line, dict(zip(header, cells)), False))
    if header is None:
        raise PoolError(f"{path}: empty file (no header, no rows)")
    schema = schema_of(set(header), path, hline, "column")
    need = ("prompt",) if schema == "prompt" else ("prompt_id", "prompt")
    for col in need:
        if col not in header:
            raise PoolError(f"{path}:{hline}: missing column {col!r} in the header (found {header})")
    if not out:
        raise PoolError(f"{path}: no data rows after the header (line {hline})")
    return out, schema


BUNDLED = "bundled"


def open_pool(spec: str | os.PathLike, *, on_error: Literal["raise", "skip"] = "raise",
              csv_field_limit: int | None = None) -> Pool:
    """A pool from a command-line spec: a file path (see :func:`load_pool`), or ``"bundled"`` /
    ``"bundled:N"`` for the bundled text pool (:func:`duelbandit.data.textpool.make_text_pool` with N
    prompts, default 300, seed 0 — so that labels and checkpoints always refer to the same pool).

    Raises:
        PoolError: a bad N, or whatever :func:`load_pool` raises for a file.
    """
    text = str(spec)
    if text == BUNDLED or text.startswith(BUNDLED + ":"):
        n_text = text[len(BUNDLED) + 1 :] if ":" in text else "300"
        try:
            n = int(n_text)
        except ValueError:
            n = -1
        if n < 1:
            raise PoolError(f"--pool {text!r}: expected 'bundled' or 'bundled:N' with an integer N >= 1")
        from duelbandit.data.textpool import make_text_pool  # only the bundled pool needs the templates

        return make_text_pool(n, seed=0)
    return load_pool(text, on_error=on_error, csv_field_limit=csv_field_limit)
