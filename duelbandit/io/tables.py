"""Table readers shared by pool and label files: strict CSV, Parquet (pyarrow) and Hugging Face datasets.

Each reader gives ``(line, record)`` pairs: the 1-based line where a CSV row starts (a quoted field may
span lines), or the 1-based row number of a Parquet file or dataset. Parquet and datasets keep their
types (lists stay lists, ints stay ints), like JSON lines; CSV cells are strings.

CSV is read with ``strict=True``: an unterminated quote is an error naming the line where the row
starts, instead of silently swallowing every later row into one field. A field longer than the CSV
module's limit (:data:`CSV_FIELD_LIMIT`, 128 KiB) is reported as such, with the way to raise the limit.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from duelbandit.errors import DuelbanditError
from duelbandit.io.jsonl import _decode

CSV_FIELD_LIMIT = 131072  # the csv module's default
PARQUET_SUFFIXES = (".parquet", ".pq")


@contextmanager
def _field_limit(limit: int | None) -> Iterator[int]:
    old = csv.field_size_limit()
    new = CSV_FIELD_LIMIT if limit is None else int(limit)
    csv.field_size_limit(new)
    try:
        yield new
    finally:
        csv.field_size_limit(old)


def csv_rows(path: Path, error: type[DuelbanditError], *, field_limit: int | None = None
             ) -> Iterator[tuple[int, list[str]]]:
    """(line where the row starts, cells) for every row of a CSV file, header included.

    Raises:
        ``error`` naming ``path:line`` for an unterminated quote, a stray quote, or a field larger than
        ``field_limit`` bytes (default :data:`CSV_FIELD_LIMIT`).
    """
    text = _decode(path, path.read_bytes())
    with _field_limit(field_limit) as limit:
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        start = 1
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise error(_csv_problem(path, start, reader.line_num, exc, limit)) from None
            yield start, cells
            start = reader.line_num + 1


def _csv_problem(path: Path, start: int, end: int, exc: csv.Error, limit: int) -> str:
    msg = str(exc)
    if "field larger than field limit" in msg:
        return (f"{path}:{start}: a field larger than {limit} bytes (the CSV field limit); if the data is "
                "right, raise the limit (--csv-field-limit BYTES, or csv_field_limit= in Python)")
    if "unexpected end of data" in msg:
        return (f"{path}:{start}: malformed CSV: a quoted field that starts on this row is never closed "
                f"(the file ends inside it, at line {end}); close the quote (a quote inside a field is "
                'written "")')
    if "expected after" in msg:
        return (f"{path}:{start}: malformed CSV ({msg}): a quoted field that starts on this row closes in the "
                f"middle of a cell, at line {end}: an unterminated or unescaped quote (a quote inside a field "
                'is written "")')
    return f"{path}:{start}: malformed CSV ({msg}; the row ends at line {end})"


def is_dataset_dir(path: Path) -> bool:
    """A folder written by ``datasets.Dataset.save_to_disk`` (``dataset_info.json`` + ``state.json``)."""
    return path.is_dir() and (path / "state.json").is_file() and (path / "dataset_info.json").is_file()


def parquet_records(path: Path, error: type[DuelbanditError]) -> Iterator[tuple[int, dict]]:
    """(row number, record) for every row of a Parquet file (pyarrow; ``pip install duelbandit[formats]``)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise error(f"{path}: reading Parquet needs pyarrow (pip install 'duelbandit[formats]')") from None
    try:
        table = pq.read_table(path)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid/OSError family for a bad file
        raise error(f"{path}: not a readable Parquet file ({exc})") from None
    for k, row in enumerate(table.to_pylist()):
        yield k + 1, row


def dataset_records(data: Any, error: type[DuelbanditError]) -> Iterator[tuple[int, dict]]:
    """(row number, record) of a Hugging Face ``datasets.Dataset`` (in memory) or of a folder written by
    ``save_to_disk``. A ``DatasetDict`` is refused: name the split (``ds["train"]``)."""
    if isinstance(data, (str, os.PathLike)):
        try:
            import datasets
        except ImportError:
            raise error(f"{data}: reading a datasets folder needs `datasets` "
                        "(pip install 'duelbandit[formats]')") from None
        data = datasets.load_from_disk(str(data))
    if hasattr(data, "keys") and not hasattr(data, "column_names"):
        raise error(f"a DatasetDict with splits {sorted(data.keys())}: pass one split, e.g. ds['train']")
    if isinstance(getattr(data, "column_names", None), dict):
        raise error(f"a DatasetDict with splits {sorted(data.column_names)}: pass one split, e.g. ds['train']")
    for k, row in enumerate(data):
        yield k + 1, dict(row)
