"""Rows to a :class:`Pool`: the checks of every pool row, whatever file or table it came from.

:class:`PoolBuilder` takes ``(line, record or error message, torn)`` triples (from JSON lines, CSV,
Parquet or a ``datasets`` table; see :mod:`duelbandit.io.poolfile` for the schemas and rules) and builds
the pool, raising a :class:`PoolError` naming ``file:line`` or, with ``on_error="skip"``, dropping the bad
prompt with a warning. ``kind="csv"`` means cells are strings (a JSON-encoded ``responses`` list, blank
cells as missing); any other kind keeps the record's types.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from duelbandit.errors import PoolError
from duelbandit.io.jsonl import _NonFinite, _warn
from duelbandit.types import Pool

_MISSING_MARKERS = frozenset({"nan", "null"})


class RowError(Exception):
    """A problem with one row/prompt; ``load_pool`` raises or warns depending on ``on_error``."""

    def __init__(self, line: int, msg: str, pid: str | None = None) -> None:
        super().__init__(msg)
        self.line, self.msg, self.pid = line, msg, pid


def default_prompt_id(prompt: str) -> str:
    """``"h" + sha256(prompt)[:12]``: the id of a prompt given without one (stable under reordering)."""
    return "h" + hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:12]


def _short(v: Any, width: int = 60) -> str:
    s = repr(v)
    return s if len(s) <= width else s[: width - 3] + "..."


def check_text(v: Any, name: str, line: int) -> str:
    if v is None or isinstance(v, _NonFinite):
        raise RowError(line, f"field {name!r} is {'null' if v is None else v}; expected a non-empty string")
    if not isinstance(v, str):
        raise RowError(line, f"field {name!r}: expected a string, got {type(v).__name__} {_short(v)}")
    if not v.strip():
        raise RowError(line, f"field {name!r} is empty or whitespace-only; expected text")
    if v.strip().lower() in _MISSING_MARKERS:
        raise RowError(line, f"field {name!r} is {v!r}, a missing-value marker; expected text")
    return v


def _text(row: dict, field: str, line: int) -> str:
    if field not in row:
        raise RowError(line, f"missing field {field!r}")
    return check_text(row[field], field, line)


def _ident(row: dict, field: str, line: int, kind: str, *, required: bool) -> str | None:
    v = row.get(field)
    if v is None or (kind == "csv" and not v.strip()):
        if required:
            raise RowError(line, f"missing field {field!r} (expected a string or integer id)")
        return None
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise RowError(
            line, f"field {field!r}: expected a string or integer id, got {type(v).__name__} {_short(v)}"
        )
    if isinstance(v, str) and not v.strip():
        raise RowError(line, f"field {field!r} is blank; expected a non-empty id")
    return str(v)


def _skill(row: dict, line: int, kind: str) -> str | None:
    v = row.get("skill")
    if v is None or (kind == "csv" and not v.strip()):
        return None
    if not isinstance(v, str):
        raise RowError(line, f"field 'skill': expected a string, got {type(v).__name__} {_short(v)}")
    return v


def _responses(row: dict, line: int, kind: str) -> list[str]:
    if "responses" not in row:
        hint = "; this row has 'response': a file must use one schema throughout" if "response" in row else ""
        raise RowError(line, f"missing field 'responses' (expected a list of at least 2 strings){hint}")
    v = row["responses"]
    if kind == "csv":
        try:
            v = json.loads(v, parse_constant=_NonFinite)
        except ValueError:
            raise RowError(
                line, f"field 'responses': expected a JSON-encoded list of strings, got {_short(v)}"
            ) from None
    if not isinstance(v, list):
        raise RowError(
            line, f"field 'responses': expected a list of strings, got {type(v).__name__} {_short(v)}"
        )
    return [check_text(x, f"responses[{k}]", line) for k, x in enumerate(v)]


def schema_of(keys: set, path: Path, line: int, what: str) -> str:
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


class PoolBuilder:
    """Turns parsed rows into a Pool, raising or warning (``on_error``) at each problem."""

    def __init__(self, path: Path, kind: str, on_error: str) -> None:
        self.path, self.kind, self.skip = path, kind, on_error == "skip"
        self.skipped = 0
        self.schema = "prompt"

    def fail(self, err: RowError, what: str = "prompt") -> None:
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
            schema = schema_of(set(hit[1]), self.path, hit[0], "field")
        self.schema = schema
        prompts = self._per_prompt(rows) if schema == "prompt" else self._per_response(rows)
        return self._finish(prompts)

    def _per_prompt(self, rows: list) -> list[_Prompt]:
        out = []
        for line, obj, _ in rows:
            try:
                if isinstance(obj, str):
                    raise RowError(line, obj)
                pid = _ident(obj, "id", line, self.kind, required=False)
                prompt = _text(obj, "prompt", line)
                responses = _responses(obj, line, self.kind)
                skill = _skill(obj, line, self.kind)
            except RowError as err:
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
                    raise RowError(line, obj)
                if "response" not in obj and "responses" in obj:
                    raise RowError(
                        line,
                        "missing field 'response'; this row has 'responses': a file must use "
                        "one schema throughout",
                    )
                pid = _ident(obj, "prompt_id", line, self.kind, required=True)
            except RowError as err:
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
                    raise RowError(
                        line,
                        f"field 'prompt' differs from line {g.line} for prompt_id {pid!r}: "
                        f"{_short(prompt)} vs {_short(g.prompt)}",
                    )
                if skill is not None and g.skill is not None and skill != g.skill:
                    raise RowError(
                        line,
                        f"field 'skill' is {skill!r} but line {g.line} has {g.skill!r} for prompt_id {pid!r}",
                    )
                g.skill = g.skill if g.skill is not None else skill
                g.responses.append(response)
                g.lines.append(line)
            except RowError as err:
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
                    "uninformative pair (--skip-bad on the command line, on_error='skip' in Python, keeps the first copy)"
                )
            _warn(f"{self.path}:{p.lines[k]}: {where} ({_short(r)}); kept the first copy")
        if len(keep) < 2:
            who = "the prompt" if self.schema == "prompt" else f"prompt_id {p.pid!r}"
            self.fail(
                RowError(p.line, f"{who} has {len(keep)} distinct response(s); need at least 2", p.pid)
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
                self.fail(RowError(p.line, f"duplicate id {pid!r} (first at line {id_line[pid]})"))
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
