"""Preference data for the trainer: TRL-format JSONL rows (our ``duelbandit export --format trl`` output, or
any TRL preference file), multi-sample groups, Llama 3's preference strengths and edited triples.

A row is ``{"prompt", "chosen", "rejected"}`` where

- ``prompt`` is a string, or a list of chat messages ``{"role", "content"}`` (TRL's conversational format);
- ``chosen`` / ``rejected`` are a string, a list of messages (the last assistant message's content is the
  response), or a list of k strings: a multi-sample group for mDPO / mIPO (one group-level label);
- optional ``edited``: a human-edited response ranked above ``chosen`` (Llama 3): the row becomes the pairs
  edited > chosen, edited > rejected and chosen > rejected (:func:`expand_edited`);
- optional ``strength``: significantly better / better / slightly better / marginally better / tie (Llama 3's
  scale). A strength becomes a DPO margin in nats (:data:`STRENGTH_MARGINS`, Llama 2's "small" margins), and
  a tie becomes the soft label 1/2 (its loss is least at equal implicit rewards). A numeric ``margin`` column
  is used as is;
- optional ``label`` in [0, 1]: the probability that chosen beats rejected (a soft label). Our export's ``y``
  column (P(a > b)) gives ``max(y, 1 - y)``, except ties (y = 1/2), which the export writes in both orders
  with label 1 each: together they are the soft label 1/2.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from duelbandit.finetune.logprobs import DataError

__all__ = ["STRENGTH_MARGINS", "PreferenceRow", "expand_edited", "parse_row", "read_pairs"]

# Llama 2's reward-model margins ("margin small", Touvron et al. 2023, Table 28), used as DPO margins
STRENGTH_MARGINS: dict[str, float] = {
    "significantly better": 1.0,
    "better": 2.0 / 3.0,
    "slightly better": 1.0 / 3.0,
    "marginally better": 0.0,
    "negligibly better": 0.0,
}
TIE_WORDS = ("tie", "unsure", "same", "equal")


@dataclass(frozen=True)
class PreferenceRow:
    """One labelled comparison: ``chosen`` preferred to ``rejected`` (k responses per side, k >= 1), with a
    soft ``label`` = P(chosen > rejected) and a ``margin`` in nats."""

    prompt: str | tuple
    chosen: tuple[str, ...]
    rejected: tuple[str, ...]
    label: float = 1.0
    margin: float = 0.0
    where: str = ""


def _response(v: object, field: str, where: str) -> tuple[str, ...]:
    if isinstance(v, str):
        if not v.strip():
            raise DataError(f"{where}: field {field!r}: empty response (expected non-empty text)")
        return (v,)
    if isinstance(v, list) and v and all(isinstance(m, dict) for m in v):
        texts = [m.get("content") for m in v if m.get("role", "assistant") == "assistant"]
        if not texts or not isinstance(texts[-1], str) or not texts[-1].strip():
            raise DataError(f"{where}: field {field!r}: expected an assistant message with non-empty content")
        return (texts[-1],)
    if isinstance(v, list) and v and all(isinstance(s, str) for s in v):
        if any(not s.strip() for s in v):
            raise DataError(f"{where}: field {field!r}: a response of the group is empty")
        return tuple(v)
    raise DataError(f"{where}: field {field!r}: expected a non-empty string, a list of messages or a list of "
                    f"strings (a multi-sample group), got {type(v).__name__} {str(v)[:60]!r}")


def _prompt(v: object, where: str) -> str | tuple:
    if isinstance(v, str) and v.strip():
        return v
    if isinstance(v, list) and v and all(isinstance(m, dict) and "role" in m and "content" in m for m in v):
        return tuple((m["role"], m["content"]) for m in v)
    raise DataError(f"{where}: field 'prompt': expected non-empty text or a list of {{role, content}} "
                    f"messages, got {type(v).__name__} {str(v)[:60]!r}")


def _label_margin(obj: dict, where: str) -> tuple[float, float]:
    label, margin = 1.0, 0.0
    if "label" in obj and obj["label"] is not None:
        label = obj["label"]
        if isinstance(label, bool) or not isinstance(label, (int, float)) or not 0 <= label <= 1:
            raise DataError(f"{where}: field 'label': expected a probability in [0, 1], got {label!r}")
    elif isinstance(obj.get("y"), (int, float)) and not isinstance(obj.get("y"), bool):
        y = float(obj["y"])
        label = 1.0 if y == 0.5 else max(y, 1.0 - y)
    strength = obj.get("strength")
    if strength is not None:
        s = str(strength).strip().lower()
        if s in TIE_WORDS:
            label = 0.5
        elif s in STRENGTH_MARGINS:
            margin = STRENGTH_MARGINS[s]
        else:
            raise DataError(f"{where}: field 'strength': expected one of {sorted(STRENGTH_MARGINS)} or 'tie', "
                            f"got {strength!r}")
    if obj.get("margin") is not None:
        m = obj["margin"]
        if isinstance(m, bool) or not isinstance(m, (int, float)) or m < 0:
            raise DataError(f"{where}: field 'margin': expected a number >= 0 (nats), got {m!r}")
        margin = float(m)
    return float(label), margin


def parse_row(obj: dict, where: str = "row") -> list[PreferenceRow]:
    """The preference rows of one TRL-format record (several when it has an ``edited`` response)."""
    missing = [k for k in ("prompt", "chosen", "rejected") if k not in obj]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing}; a preference row needs 'prompt', 'chosen' and "
                        f"'rejected' (TRL's format), got columns {sorted(obj)}")
    prompt = _prompt(obj["prompt"], where)
    chosen, rejected = _response(obj["chosen"], "chosen", where), _response(obj["rejected"], "rejected", where)
    label, margin = _label_margin(obj, where)
    row = PreferenceRow(prompt, chosen, rejected, label, margin, where)
    if obj.get("edited") is None:
        return [row]
    return expand_edited(row, _response(obj["edited"], "edited", where))


def expand_edited(row: PreferenceRow, edited: tuple[str, ...]) -> list[PreferenceRow]:
    """Llama 3's ranking edited > chosen > rejected as three pairs (edited, chosen), (edited, rejected),
    (chosen, rejected); the edit pairs carry hard labels and no margin."""
    return [
        PreferenceRow(row.prompt, edited, row.chosen, 1.0, 0.0, row.where + " (edited>chosen)"),
        PreferenceRow(row.prompt, edited, row.rejected, 1.0, 0.0, row.where + " (edited>rejected)"),
        row,
    ]


def read_pairs(path: str | os.PathLike) -> list[PreferenceRow]:
    """Read a TRL-format preference JSONL file (module docstring); errors name ``path:line`` and the field."""
    from duelbandit.io.jsonl import read_jsonl

    path = Path(path)
    rows: list[PreferenceRow] = []
    for line, obj in read_jsonl(path, error=DataError):
        rows.extend(parse_row(obj, f"{path}:{line}"))
    if not rows:
        raise DataError(f"{path}: no preference rows (expected JSON lines with prompt, chosen, rejected)")
    return rows


def group_size(rows: Iterable[PreferenceRow]) -> int:
    """The common group size k of ``rows`` (1 for plain pairs); a mix of sizes is an error."""
    sizes = {(len(r.chosen), len(r.rejected)) for r in rows}
    if len(sizes) != 1 or len(next(iter(sizes))) != 2 or len(set(next(iter(sizes)))) != 1:
        raise DataError(f"groups: every row needs the same number k of chosen and rejected responses, "
                        f"got (chosen, rejected) sizes {sorted(sizes)}")
    return next(iter(sizes))[0]


def prompt_value(prompt: str | tuple) -> str | Sequence[dict]:
    """The prompt as the tokenizer wants it: text, or a list of messages."""
    return prompt if isinstance(prompt, str) else [{"role": r, "content": c} for r, c in prompt]
