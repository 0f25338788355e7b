"""Pool files: reading (:func:`load_pool`) and writing (:func:`save_pool`) prompts and responses.

Pool files (:func:`load_pool`, :func:`save_pool`) are JSON lines (``.jsonl``, ``.json``, ``.ndjson``, one
object per line) or CSV (``.csv``, with a header). Each file uses one of two row schemas, detected from
its rows (JSONL) or header (CSV):

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
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from duelbandit.errors import PoolError
from duelbandit.io.jsonl import _decode, _jsonl_records, _NonFinite, _warn, dumps, write_text_atomic
from duelbandit.types import Pool

JSONL_SUFFIXES = (".jsonl", ".json", ".ndjson")
CSV_SUFFIXES = (".csv",)
_MISSING_MARKERS = frozenset({"nan", "null"})


class _RowError(Exception):
    """A problem with one row/prompt; ``load_pool`` raises or warns depending on ``on_error``."""

    def __init__(self, line: int, msg: str, pid: str | None = None) -> None:
        super().__init__(msg)
        self.line, self.msg, self.pid = line, msg, pid


def default_prompt_id(prompt: str) -> str:
    """``"h" + sha256(prompt)[:12]``: the id of a prompt given without one (stable under reordering)."""
    return "h" + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12]


def _suffix_kind(path: Path) -> str:
    suf = path.suffix.lower()
    if suf in JSONL_SUFFIXES:
        return "jsonl"
    if suf in CSV_SUFFIXES:
        return "csv"
    raise PoolError(
        f"{path}: unknown extension {path.suffix!r}; "
        f"expected one of {', '.join(JSONL_SUFFIXES + CSV_SUFFIXES)}"
    )


def load_pool(path: str | os.PathLike, *, on_error: Literal["raise", "skip"] = "raise") -> Pool:
    """Load a pool from a JSONL or CSV file (format by extension, schema detected; see module docstring).

    Args:
        path: ``.jsonl``/``.json``/``.ndjson`` (JSON lines) or ``.csv``.
        on_error: ``"raise"`` (default) stops at the first problem; ``"skip"`` drops bad prompts with a
            warning naming file:line (and dedupes repeated responses), and fails only if nothing is left.

    Returns:
        A :class:`Pool` named after the path, with skills when the file has a ``skill`` field.

    Raises:
        PoolError: naming ``file:line``, the field, what was expected and what came.
    """
    if on_error not in ("raise", "skip"):
        raise PoolError(f"on_error: expected 'raise' or 'skip', got {on_error!r}")
    path = Path(path)
    kind = _suffix_kind(path)
    if not path.is_file():
        raise PoolError(f"{path}: no such file")
    if kind == "jsonl":
        return _PoolBuilder(path, kind, on_error).build(list(_jsonl_records(path)))
    rows, schema = _csv_records(path)
    return _PoolBuilder(path, kind, on_error).build(rows, schema)


def save_pool(
    pool: Pool, path: str | os.PathLike, *, schema: Literal["prompt", "response"] = "prompt"
) -> Path:
    """Write ``pool`` so that :func:`load_pool` gives it back exactly (ids, texts, order, skills).

    Args:
        pool: the pool.
        path: ``.jsonl``/``.json``/``.ndjson`` or ``.csv``; written atomically.
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
                raise _RowError(0, "the prompt id is blank")
            _check_text(pool.prompts[n], "prompt", 0)
            seen: dict[str, int] = {}
            for k, r in enumerate(pool.responses_of(n)):
                _check_text(r, f"responses[{k}]", 0)
                if r.strip() in seen:
                    raise _RowError(0, f"responses[{k}] repeats responses[{seen[r.strip()]}]")
                seen[r.strip()] = k
        except _RowError as exc:
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
    buf = io.StringIO()
    writer = csv.writer(buf)  # default "\r\n" terminator: fields holding \r or \n get quoted
    header = list(rows[0])
    writer.writerow(header)
    for r in rows:
        writer.writerow([dumps(r[h]) if h == "responses" else r[h] for h in header])
    return write_text_atomic(path, buf.getvalue())


def _short(v: Any, width: int = 60) -> str:
    s = repr(v)
    return s if len(s) <= width else s[: width - 3] + "..."


def _check_text(v: Any, name: str, line: int) -> str:
    if v is None or isinstance(v, _NonFinite):
        raise _RowError(line, f"field {name!r} is {'null' if v is None else v}; expected a non-empty string")
    if not isinstance(v, str):
        raise _RowError(line, f"field {name!r}: expected a string, got {type(v).__name__} {_short(v)}")
    if not v.strip():
        raise _RowError(line, f"field {name!r} is empty or whitespace-only; expected text")
    if v.strip().lower() in _MISSING_MARKERS:
        raise _RowError(line, f"field {name!r} is {v!r}, a missing-value marker; expected text")
    return v


def _text(row: dict, field: str, line: int) -> str:
    if field not in row:
        raise _RowError(line, f"missing field {field!r}")
    return _check_text(row[field], field, line)


def _ident(row: dict, field: str, line: int, kind: str, *, required: bool) -> str | None:
    v = row.get(field)
    if v is None or (kind == "csv" and not v.strip()):
        if required:
            raise _RowError(line, f"missing field {field!r} (expected a string or integer id)")
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise _RowError(
            line, f"field {field!r}: expected a string or integer id, got {type(v).__name__} {_short(v)}"
        )
    if isinstance(v, str) and not v.strip():
        raise _RowError(line, f"field {field!r} is blank; expected a non-empty id")
    return str(v)


def _skill(row: dict, line: int, kind: str) -> str | None:
    v = row.get("skill")
    if v is None or (kind == "csv" and not v.strip()):
        return None
    if not isinstance(v, str):
        raise _RowError(line, f"field 'skill': expected a string, got {type(v).__name__} {_short(v)}")
    return v


def _responses(row: dict, line: int, kind: str) -> list[str]:
    if "responses" not in row:
        hint = "; this row has 'response': a file must use one schema throughout" if "response" in row else ""
        raise _RowError(line, f"missing field 'responses' (expected a list of at least 2 strings){hint}")
    v = row["responses"]
    if kind == "csv":
        try:
            v = json.loads(v, parse_constant=_NonFinite)
        except ValueError:
            raise _RowError(
                line, f"field 'responses': expected a JSON-encoded list of strings, got {_short(v)}"
            ) from None
    if not isinstance(v, list):
        raise _RowError(
            line, f"field 'responses': expected a list of strings, got {type(v).__name__} {_short(v)}"
        )
    return [_check_text(x, f"responses[{k}]", line) for k, x in enumerate(v)]


def _csv_records(path: Path) -> tuple[list[tuple[int, dict | str, bool]], str]:
    """Rows of a CSV file as (line, dict of cells or error message, False), and the schema from its header."""
    reader = csv.reader(io.StringIO(_decode(path, path.read_bytes()), newline=""))
    out: list[tuple[int, dict | str, bool]] = []
    header: list[str] | None = None
    hline = prev = 0
    try:
        for cells in reader:
            line, prev = (
                prev + 1,
                reader.line_num,
            )  # a quoted field may span lines: report where the row starts
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header, hline = [c.strip() for c in cells], line
                dup = sorted({c for c in header if c and header.count(c) > 1})
                if dup:
                    raise PoolError(f"{path}:{line}: duplicate column {dup[0]!r} in the header")
                continue
            if len(cells) != len(header):
                out.append(
                    (
                        line,
                        f"the row has {len(cells)} cells; the header (line {hline}) has {len(header)}",
                        False,
                    )
                )
            else:
                out.append((line, dict(zip(header, cells)), False))
    except csv.Error as exc:
        raise PoolError(f"{path}:{reader.line_num}: malformed CSV ({exc})") from None
    if header is None:
        raise PoolError(f"{path}: empty file (no header, no rows)")
    schema = _schema_of(set(header), path, hline, "column")
    need = ("prompt",) if schema == "prompt" else ("prompt_id", "prompt")
    for col in need:
        if col not in header:
            raise PoolError(f"{path}:{hline}: missing column {col!r} in the header (found {header})")
    if not out:
        raise PoolError(f"{path}: no data rows after the header (line {hline})")
    return out, schema


def _schema_of(keys: set, path: Path, line: int, what: str) -> str:
    if "responses" in keys and "response" in keys:
        raise PoolError(f"{path}:{line}: both {what}s 'responses' and 'response'; use one schema per file")
    return "prompt" if "responses" in keys else "response"


@dataclass
class _Prompt:
    line: int  # first line of the prompt
    pid: str | None
    prompt: str
    responses: list[str]
    lines: list[int]  # line of each response
    skill: str | None


class _PoolBuilder:
    """Turns parsed rows into a Pool, raising or warning (``on_error``) at each problem."""

    def __init__(self, path: Path, kind: str, on_error: str) -> None:
        self.path, self.kind, self.skip = path, kind, on_error == "skip"
        self.skipped = 0
        self.schema = "prompt"

    def fail(self, err: _RowError, what: str = "prompt") -> None:
        if not self.skip:
            raise PoolError(f"{self.path}:{err.line}: {err.msg}")
        self.skipped += 1
        tail = f"skipped prompt {err.pid!r}" if err.pid else f"skipped this {what}"
        _warn(f"{self.path}:{err.line}: {err.msg}; {tail}")

    def build(self, rows: list[tuple[int, dict | str, bool]], schema: str | None = None) -> Pool:
        if not rows:
            raise PoolError(f"{self.path}: empty file (no rows)")
        if schema is None:
            first = next(((ln, o) for ln, o, _ in rows if isinstance(o, dict)), None)
            if first is None:
                raise PoolError(
                    f"{self.path}:{rows[0][0]}: {rows[0][1]}; no line of the file is a JSON object"
                )
            hit = next(
                (
                    (ln, o)
                    for ln, o, _ in rows
                    if isinstance(o, dict) and ({"responses", "response"} & o.keys())
                ),
                None,
            )
            if hit is None:
                raise PoolError(
                    f"{self.path}:{first[0]}: cannot tell the schema: "
                    "no row has 'responses' (one row per prompt) "
                    f"or 'response' (one row per response); this row has fields {sorted(first[1])}"
                )
            schema = _schema_of(set(hit[1]), self.path, hit[0], "field")
        self.schema = schema
        prompts = self._per_prompt(rows) if schema == "prompt" else self._per_response(rows)
        return self._finish(prompts)

    def _per_prompt(self, rows: list) -> list[_Prompt]:
        out = []
        for line, obj, _ in rows:
            try:
                if isinstance(obj, str):
                    raise _RowError(line, obj)
                pid = _ident(obj, "id", line, self.kind, required=False)
                prompt = _text(obj, "prompt", line)
                responses = _responses(obj, line, self.kind)
                skill = _skill(obj, line, self.kind)
            except _RowError as err:
                self.fail(err)
                continue
            p = self._dedupe(_Prompt(line, pid, prompt, responses, [line] * len(responses), skill))
            if p is not None:
                out.append(p)
        return out

    def _per_response(self, rows: list) -> list[_Prompt]:
        groups: dict[str, _Prompt] = {}
        bad: set[str] = set()
        for line, obj, _ in rows:
            try:
                if isinstance(obj, str):
                    raise _RowError(line, obj)
                if "response" not in obj and "responses" in obj:
                    raise _RowError(
                        line,
                        "missing field 'response'; this row has 'responses': a file must use "
                        "one schema throughout",
                    )
                pid = _ident(obj, "prompt_id", line, self.kind, required=True)
            except _RowError as err:
                self.fail(err, "line")
                continue
            if pid in bad:
                continue
            try:
                prompt, response = _text(obj, "prompt", line), _text(obj, "response", line)
                skill = _skill(obj, line, self.kind)
                g = groups.get(pid)
                if g is None:
                    groups[pid] = _Prompt(line, pid, prompt, [response], [line], skill)
                    continue
                if prompt != g.prompt:
                    raise _RowError(
                        line,
                        f"field 'prompt' differs from line {g.line} for prompt_id {pid!r}: "
                        f"{_short(prompt)} vs {_short(g.prompt)}",
                    )
                if skill is not None and g.skill is not None and skill != g.skill:
                    raise _RowError(
                        line,
                        f"field 'skill' is {skill!r} but line {g.line} has {g.skill!r} for prompt_id {pid!r}",
                    )
                g.skill = g.skill if g.skill is not None else skill
                g.responses.append(response)
                g.lines.append(line)
            except _RowError as err:
                err.pid = pid
                self.fail(err)
                bad.add(pid)
        kept = (self._dedupe(g) for pid, g in groups.items() if pid not in bad)
        return [g for g in kept if g is not None]

    def _dedupe(self, p: _Prompt) -> _Prompt | None:
        """Drop repeated responses (skip mode) or raise; None when fewer than 2 distinct ones remain."""
        field = "responses[{}]" if self.schema == "prompt" else "response"
        first: dict[str, int] = {}
        keep, lines = [], []
        for k, r in enumerate(p.responses):
            key = r.strip()
            if key not in first:
                first[key] = k
                keep.append(r)
                lines.append(p.lines[k])
                continue
            j = first[key]
            where = (
                f"{field.format(k)} repeats {field.format(j)}"
                if self.schema == "prompt"
                else f"field 'response' repeats line {p.lines[j]} of prompt_id {p.pid!r}"
            )
            if not self.skip:
                raise PoolError(
                    f"{self.path}:{p.lines[k]}: {where} ({_short(r)}); identical responses make an "
                    "uninformative pair (pass on_error='skip' to keep the first copy)"
                )
            _warn(f"{self.path}:{p.lines[k]}: {where} ({_short(r)}); kept the first copy")
        if len(keep) < 2:
            who = "the prompt" if self.schema == "prompt" else f"prompt_id {p.pid!r}"
            self.fail(
                _RowError(p.line, f"{who} has {len(keep)} distinct response(s); need at least 2", p.pid)
            )
            return None
        p.responses, p.lines = keep, lines
        return p

    def _finish(self, prompts: list[_Prompt]) -> Pool:
        ids, texts, responses, counts, skills = [], [], [], [], []
        id_line: dict[str, int] = {}
        repeats: dict[str, int] = {}
        for p in prompts:
            pid = p.pid
            if pid is None:
                repeats[p.prompt] = repeats.get(p.prompt, 0) + 1
                pid = default_prompt_id(p.prompt) + (f"-{repeats[p.prompt]}" if repeats[p.prompt] > 1 else "")
            if pid in id_line:
                self.fail(_RowError(p.line, f"duplicate id {pid!r} (first at line {id_line[pid]})"))
                continue
            id_line[pid] = p.line
            ids.append(pid)
            texts.append(p.prompt)
            responses += p.responses
            counts.append(len(p.responses))
            skills.append(p.skill)
        if not ids:
            raise PoolError(
                f"{self.path}: no valid prompt left ({self.skipped} skipped; see the warnings above)"
            )
        missing = sum(s is None for s in skills)
        if 0 < missing < len(skills):
            _warn(f"{self.path}: {missing} of {len(skills)} prompts have no 'skill'; they get skill ''")
        return Pool(
            prompt_ids=tuple(ids),
            prompts=tuple(texts),
            responses=tuple(responses),
            offsets=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            skills=None if missing == len(skills) else tuple(s if s is not None else "" for s in skills),
            name=str(self.path),
        )


BUNDLED = "bundled"


def open_pool(spec: str | os.PathLike, *, on_error: Literal["raise", "skip"] = "raise") -> Pool:
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
    return load_pool(text, on_error=on_error)
