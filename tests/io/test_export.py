"""Exports: the exact JSON shapes Label Studio, Argilla and TRL take."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest

from duelbandit.errors import ConfigError
from duelbandit.io.export import (
    LABEL_STUDIO_CONFIG,
    argilla_records,
    label_studio_tasks,
    task_rows,
    trl_rows,
)
from duelbandit.types import Pool

POOL = Pool.from_lists(["What is 2+2?", "Capital of France?"], [["4", "5", "four"], ["Paris", "Lyon"]],
                       prompt_ids=["q1", "q2"])
# candidates: q1:0-1 (0), q1:0-2 (1), q1:1-2 (2), q2:0-1 (3)


def test_task_rows_one_per_label_with_repeat_numbers():
    rows = task_rows(POOL, [3, 1, 3])
    assert rows == [
        {"task_id": "q2:0-1#0", "pair_id": "q2:0-1", "prompt_id": "q2", "prompt": "Capital of France?",
         "response_a": "Paris", "response_b": "Lyon"},
        {"task_id": "q1:0-2#0", "pair_id": "q1:0-2", "prompt_id": "q1", "prompt": "What is 2+2?",
         "response_a": "4", "response_b": "four"},
        {"task_id": "q2:0-1#1", "pair_id": "q2:0-1", "prompt_id": "q2", "prompt": "Capital of France?",
         "response_a": "Paris", "response_b": "Lyon"},
    ]


def test_label_studio_tasks_and_config_agree():
    tasks = label_studio_tasks(POOL, [2])
    assert tasks == [{"data": {"task_id": "q1:1-2#0", "pair_id": "q1:1-2", "prompt_id": "q1",
                               "prompt": "What is 2+2?", "response_a": "5", "response_b": "four"}}]
    root = ET.fromstring(LABEL_STUDIO_CONFIG)
    variables = {t.get("value")[1:] for t in root.iter("Text")}
    assert variables <= set(tasks[0]["data"])  # every $variable of the config is in each task's data
    choices = root.find(".//Choices")
    assert choices.get("name") == "preference" and choices.get("choice") == "single"
    assert [c.get("value") for c in choices.iter("Choice")] == ["A", "B", "Tie"]


def test_argilla_records_shape():
    assert argilla_records(POOL, [0]) == [{"id": "q1:0-1#0", "prompt": "What is 2+2?", "response_a": "4",
                                           "response_b": "5", "pair_id": "q1:0-1", "prompt_id": "q1"}]


def test_trl_rows_orient_by_the_label_and_handle_ties():
    rows = [
        {"pair_id": "q1:0-1", "prompt_id": "q1", "y": 1.0, "selector": "odpo", "design_weight": 0.25,
         "source": "human:x.csv", "annotator": "ann1", "seed": 7, "round": None},
        {"pair_id": "q1:0-1", "prompt_id": "q1", "y": 0.0, "selector": "odpo", "design_weight": 0.25,
         "source": "human:x.csv", "annotator": "ann2", "seed": 7, "round": None},
        {"pair_id": "q2:0-1", "prompt_id": "q2", "y": 0.5, "selector": None, "design_weight": None,
         "source": "judge", "annotator": None, "seed": None, "round": 3},
    ]
    out = trl_rows(POOL, rows, np.array([0, 0, 3]))
    assert out[0] == {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "pair_id": "q1:0-1",
                      "prompt_id": "q1", "selector": "odpo", "design_weight": 0.25,
                      "label_source": "human:x.csv", "annotator": "ann1", "seed": 7, "round": -1, "y": 1.0}
    assert (out[1]["chosen"], out[1]["rejected"]) == ("5", "4")
    assert len(out) == 2  # the tie is skipped by default
    both = trl_rows(POOL, rows, np.array([0, 0, 3]), ties="both")
    assert [(r["chosen"], r["rejected"]) for r in both[2:]] == [("Paris", "Lyon"), ("Lyon", "Paris")]
    with pytest.raises(ConfigError, match="ties"):
        trl_rows(POOL, rows, np.array([0, 0, 3]), ties="half")


def test_argilla_script_reads_its_connection_from_the_environment_and_opens_files_by_path():
    from duelbandit.io.export import ARGILLA_SETTINGS_SNIPPET as script

    compile(script, "records.jsonl.settings.py", "exec")  # valid Python
    assert 'os.environ["ARGILLA_API_URL"]' in script and 'os.environ["ARGILLA_API_KEY"]' in script
    assert 'open(HERE / "argilla_records.jsonl"' in script and "HERE = Path(__file__).resolve().parent" in script
    assert 'open("' not in script  # no file opened by a bare name (relative to wherever it is run)
