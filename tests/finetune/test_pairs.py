"""Reading TRL-format preference files: formats, strengths, edited triples, and errors that name the line."""

from __future__ import annotations

import json

import pytest

from duelbandit.finetune.logprobs import DataError
from duelbandit.finetune.pairs import STRENGTH_MARGINS, read_pairs


def _write(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_standard_conversational_and_group_rows(tmp_path):
    f = _write(tmp_path / "p.jsonl", [
        {"prompt": "2+2?", "chosen": "4", "rejected": "5", "pair_id": "x", "y": 0.0},
        {"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": "hello"}],
         "rejected": [{"role": "assistant", "content": "go away"}]},
        {"prompt": "q", "chosen": ["a1", "a2"], "rejected": ["b1", "b2"]},
    ])
    rows = read_pairs(f)
    assert rows[0].chosen == ("4",) and rows[0].label == 1.0 and rows[0].where.endswith("p.jsonl:1")
    assert rows[1].prompt == (("user", "hi"),) and rows[1].chosen == ("hello",)
    assert rows[2].chosen == ("a1", "a2")


def test_our_export_y_column_becomes_a_label(tmp_path):
    f = _write(tmp_path / "p.jsonl", [
        {"prompt": "p", "chosen": "a", "rejected": "b", "y": 0.2},  # soft label written in its likelier order
        {"prompt": "p", "chosen": "a", "rejected": "b", "y": 0.5},  # a tie, exported in both orders
        {"prompt": "p", "chosen": "a", "rejected": "b", "label": 0.7, "y": 1.0},  # explicit label wins
    ])
    assert [r.label for r in read_pairs(f)] == [0.8, 1.0, 0.7]


def test_strength_margins_ties_and_numeric_margins(tmp_path):
    f = _write(tmp_path / "p.jsonl", [
        {"prompt": "p", "chosen": "a", "rejected": "b", "strength": "Significantly better"},
        {"prompt": "p", "chosen": "a", "rejected": "b", "strength": "slightly better"},
        {"prompt": "p", "chosen": "a", "rejected": "b", "strength": "tie"},
        {"prompt": "p", "chosen": "a", "rejected": "b", "margin": 0.25},
    ])
    rows = read_pairs(f)
    assert [r.margin for r in rows] == [1.0, 1 / 3, 0.0, 0.25]
    assert [r.label for r in rows] == [1.0, 1.0, 0.5, 1.0]
    assert STRENGTH_MARGINS["better"] == pytest.approx(2 / 3)


def test_edited_row_becomes_three_pairs(tmp_path):
    f = _write(tmp_path / "p.jsonl", [{"prompt": "p", "chosen": "c", "rejected": "r", "edited": "e"}])
    got = {(r.chosen[0], r.rejected[0]) for r in read_pairs(f)}
    assert got == {("e", "c"), ("e", "r"), ("c", "r")}


@pytest.mark.parametrize("row, message", [
    ({"prompt": "p", "chosen": "a"}, r"p.jsonl:1: missing column\(s\) \['rejected'\]"),
    ({"prompt": "p", "chosen": "  ", "rejected": "b"}, r"p.jsonl:1: field 'chosen': empty response"),
    ({"prompt": "", "chosen": "a", "rejected": "b"}, r"p.jsonl:1: field 'prompt': expected non-empty text"),
    ({"prompt": "p", "chosen": 3, "rejected": "b"}, r"field 'chosen': expected a non-empty string"),
    ({"prompt": "p", "chosen": "a", "rejected": "b", "strength": "meh"}, r"field 'strength': expected one of"),
    ({"prompt": "p", "chosen": "a", "rejected": "b", "label": 2}, r"field 'label': expected a probability"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, row, message):
    with pytest.raises(DataError, match=message):
        read_pairs(_write(tmp_path / "p.jsonl", [row]))


def test_empty_file_and_bad_json(tmp_path):
    with pytest.raises(DataError, match="no preference rows"):
        read_pairs(_write(tmp_path / "e.jsonl", []))
    with pytest.raises(DataError, match=r"b.jsonl:2"):
        read_pairs(_write(tmp_path / "b.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}, "{oops"]))
