"""Human label files (JSONL, CSV, Label Studio and Argilla exports) and the label log, with errors by line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from duelbandit.annotate import Labels
from duelbandit.errors import LabelError
from duelbandit.io import append_jsonl
from duelbandit.io.human import read_human_labels, read_tasks
from duelbandit.io.labels import log_rows, read_label_log
from duelbandit.types import Pool

POOL = Pool.from_lists(["What is 2+2?", "Capital of France?"], [["4", "5", "four"], ["Paris", "Lyon"]],
                       prompt_ids=["q1", "q2"])
OTHER = Pool.from_lists(["x"], [["y", "z"]], prompt_ids=["q1"])


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_jsonl_and_csv_give_the_same_labels(tmp_path):
    j = write(tmp_path, "h.jsonl", "\n".join(json.dumps(r) for r in [
        {"pair_id": "q1:0-2", "winner": "a", "annotator": "ann1"},
        {"pair_id": "q2:0-1", "winner": "B", "annotator_id": 7},
        {"pair_id": "q1:0-2", "winner": "tie", "extra": [1]},
    ]) + "\n")
    c = write(tmp_path, "h.csv", "pair_id,winner,annotator\nq1:0-2,a,ann1\nq2:0-1,B,7\n\nq1:0-2,Tie,\n")
    for path in (j, c):
        labels, _ = read_human_labels(path, POOL)
        assert labels.pairs.tolist() == [1, 3, 1]
        assert labels.y.tolist() == [1.0, 0.0, 0.5]  # tie = half a win each
        assert labels.annotator == ("ann1", "7", "")
        assert labels.source == f"human:{path.name}"
    assert read_human_labels(c, POOL)[1] == [f"{c}:2", f"{c}:3", f"{c}:5"]


@pytest.mark.parametrize("text, match", [
    ('{"pair_id": "q1:0-2", "winner": "a"}\n{"pair_id": "q9:0-1", "winner": "a"}\n', r"h\.jsonl:2: unknown pair_id 'q9:0-1'"),
    ('{"pair_id": "q1:0-2", "winner": "c"}\n', r"h\.jsonl:1: field 'winner' is 'c'; expected 'a', 'b' or 'tie'"),
    ('{"pair_id": "q1:0-2"}\n', r"h\.jsonl:1: no label"),
    ('{"pair_id": "q1:0-2", "winner": "a"}\n{"pair_id": "q1:0-2", "winner": \n{}\n', r"h\.jsonl:2: malformed JSON"),
    ('{"pair_id": 3, "winner": "a"}\n', r"h\.jsonl:1: field 'pair_id' is 3"),
    ('{"pair_id": "q1:0-2", "y": 1.5}\n', r"h\.jsonl:1: field 'y' is 1\.5"),
    ('{"pair_id": "q1:0-2", "y": 0, "winner": "a"}\n', r"h\.jsonl:1: .*disagree"),
    ('{"pair_id": "q1:0-2", "winner": "a", "pool": "0123456789abcdef"}\n', r"h\.jsonl:1: this label belongs to pool"),
])
def test_bad_lines_are_named(tmp_path, text, match):
    with pytest.raises(LabelError, match=match):
        read_human_labels(write(tmp_path, "h.jsonl", text), POOL)


def test_csv_errors_name_the_line(tmp_path):
    with pytest.raises(LabelError, match=r"h\.csv:3: field 'winner' is 'x'"):
        read_human_labels(write(tmp_path, "h.csv", "pair_id,winner\nq1:0-1,a\nq1:0-1,x\n"), POOL)
    with pytest.raises(LabelError, match=r"h\.csv:1: missing column 'pair_id'"):
        read_human_labels(write(tmp_path, "h.csv", "pair,winner\nq1:0-1,a\n"), POOL)


def test_labels_of_pairs_never_sent_out_are_refused(tmp_path):
    path = write(tmp_path, "h.jsonl", '{"pair_id": "q1:0-1", "winner": "a"}\n{"pair_id": "q2:0-1", "winner": "a"}\n')
    with pytest.raises(LabelError, match=r"h\.jsonl:2: pair_id 'q2:0-1' was not among the exported tasks"):
        read_human_labels(path, POOL, tasks={"q1:0-1"})


def test_labels_from_another_pool_are_refused_by_pair_id(tmp_path):
    path = write(tmp_path, "h.jsonl", '{"pair_id": "q1:0-1", "winner": "a"}\n{"pair_id": "q1:1-2", "winner": "a"}\n')
    with pytest.raises(LabelError, match=r"h\.jsonl:2: unknown pair_id 'q1:1-2'.*another pool"):
        read_human_labels(path, OTHER)


def test_label_studio_full_and_min_exports(tmp_path):
    full = [
        {"id": 11, "data": {"task_id": "q1:0-1#0", "pair_id": "q1:0-1"}, "annotations": [
            {"completed_by": 3, "was_cancelled": False, "result": [
                {"from_name": "preference", "to_name": "prompt", "type": "choices", "value": {"choices": ["B"]}}]},
            {"completed_by": 4, "was_cancelled": True, "result": []},
            {"completed_by": 5, "was_cancelled": False, "result": [
                {"from_name": "preference", "to_name": "prompt", "type": "choices", "value": {"choices": ["Tie"]}}]},
        ]},
        {"id": 12, "data": {"pair_id": "q2:0-1"}, "annotations": [
            {"completed_by": 3, "result": [{"type": "pairwise", "value": {"selected": "left"}}]}]},
        {"id": 13, "data": {"pair_id": "q1:0-2"}, "annotations": []},  # not labelled yet
    ]
    full[0]["annotations"][0]["id"] = 501  # Label Studio's annotation ids identify answers across exports
    labels, refs = read_human_labels(write(tmp_path, "ls.json", json.dumps(full)), POOL)
    assert labels.pairs.tolist() == [0, 0, 3] and labels.y.tolist() == [0.0, 0.5, 1.0]
    assert refs[0] == "label-studio:annotation:501" and refs[1].endswith("ls.json: item 0#2")
    assert labels.annotator == ("3", "5", "3")
    mini = [{"pair_id": "q1:0-1", "preference": "A", "annotator": 2}]
    labels, _ = read_human_labels(write(tmp_path, "min.json", json.dumps(mini)), POOL)
    assert labels.y.tolist() == [1.0] and labels.annotator == ("2",)
    bad = [{"data": {"pair_id": "q1:0-1"}, "annotations": [{"result": [{"type": "choices",
                                                                         "value": {"choices": ["C"]}}]}]}]
    with pytest.raises(LabelError, match=r"ls\.json: item 0: annotation 0: field 'choices' is 'C'"):
        read_human_labels(write(tmp_path, "ls.json", json.dumps(bad)), POOL)


def test_argilla_flattened_records(tmp_path):
    rows = [{"id": "q1:0-1#0", "pair_id": "q1:0-1", "prompt": "...", "preference.responses": ["a", "tie"],
             "preference.responses.users": ["u1", "u2"], "preference.responses.status": ["submitted"] * 2}]
    labels, _ = read_human_labels(write(tmp_path, "ar.jsonl", json.dumps(rows[0]) + "\n"), POOL)
    assert labels.pairs.tolist() == [0, 0] and labels.y.tolist() == [1.0, 0.5] and labels.annotator == ("u1", "u2")


def test_label_log_round_trip_and_checks(tmp_path):
    labels = Labels(np.array([1, 3, 1]), np.array([1.0, 0.5, 0.0]), source="judge", seed=4,
                    annotator=("x", "y", "z"))
    path = tmp_path / "log.jsonl"
    append_jsonl(path, log_rows(labels, POOL, start_index=0, round=0, selector="odpo",
                                design_weight={1: 0.5, 3: 0.25}))
    log = read_label_log(path, POOL)
    assert log.labels.pairs.tolist() == [1, 3, 1] and log.labels.y.tolist() == [1.0, 0.5, 0.0]
    assert [r["winner"] for r in log.rows] == ["a", "tie", "b"]
    assert [r["design_weight"] for r in log.rows] == [0.5, 0.25, 0.5]
    # a duplicated line is caught by its index
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines + lines[-1:]))
    with pytest.raises(LabelError, match=r"log\.jsonl:4: field 'index' is 2, expected 3 \(repeats"):
        read_label_log(path, POOL)
    path.write_text("".join(lines[:1] + lines[2:]))
    with pytest.raises(LabelError, match=r"log\.jsonl:2: field 'index' is 2, expected 1 \(skips"):
        read_label_log(path, POOL)
    path.write_text("".join(lines))
    with pytest.raises(LabelError, match=r"log\.jsonl:1: this label belongs to pool"):
        read_label_log(path, OTHER)


def test_read_tasks(tmp_path):
    text = '{"pair_id": "q2:0-1", "task_id": "q2:0-1#r3-0"}\n{"pair_id": "q2:0-1"}\n'
    idx, task_ids = read_tasks(write(tmp_path, "t.jsonl", text), POOL)
    assert idx.tolist() == [3, 3] and task_ids == ["q2:0-1#r3-0", None]
    with pytest.raises(LabelError, match=r"t\.csv:2: unknown pair_id"):
        read_tasks(write(tmp_path, "t.csv", "pair_id\nq7:0-1\n"), POOL)
