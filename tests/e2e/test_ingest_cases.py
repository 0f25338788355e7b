"""``duelbandit ingest`` edge cases (issue 13, item 3): Argilla statuses, re-ingest through another path,
empty Label Studio results, repeated pairs, strict CSV with the line named, big fields."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from duelbandit.cli import main
from duelbandit.data.textpool import make_text_pool
from duelbandit.io import save_pool

POOL = make_text_pool(30, seed=3)
PIDS = POOL.pairs().pair_ids([0, 1, 2, 3])


@pytest.fixture
def pool_file(tmp_path):
    return str(save_pool(POOL, tmp_path / "pool.jsonl"))


def _log(path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_argilla_takes_only_submitted_answers_unless_drafts_are_asked_for(tmp_path, pool_file, capsys):
    rec = {"id": "r1", "pair_id": PIDS[0], "preference.responses": ["a", "b", "tie"],
           "preference.responses.users": ["u1", "u2", "u3"],
           "preference.responses.status": ["submitted", "discarded", "draft"]}
    src = tmp_path / "argilla.jsonl"
    src.write_text(json.dumps(rec) + "\n")
    out = tmp_path / "labels.jsonl"
    with pytest.warns(UserWarning, match=r"skipped 1 answer\(s\): Argilla draft \(pass --include-drafts"):
        assert main(["ingest", "--pool", pool_file, "--in", str(src), "--out", str(out)]) == 0
    rows = _log(out)
    assert [(r["annotator"], r["winner"]) for r in rows] == [("u1", "a")]  # neither the discarded nor the draft
    out2 = tmp_path / "labels2.jsonl"
    assert main(["ingest", "--pool", pool_file, "--in", str(src), "--out", str(out2), "--include-drafts"]) == 0
    assert [(r["annotator"], r["winner"]) for r in _log(out2)] == [("u1", "a"), ("u3", "tie")]


@pytest.mark.parametrize("how", ["symlink", "copy"])
def test_reingesting_the_same_file_through_another_path_adds_nothing(tmp_path, pool_file, capsys, how):
    src = tmp_path / "h.csv"
    src.write_text("pair_id,winner,annotator\n" + "".join(f"{p},a,x\n" for p in PIDS))
    out = tmp_path / "labels.jsonl"
    assert main(["ingest", "--pool", pool_file, "--in", str(src), "--out", str(out)]) == 0
    other = tmp_path / "sub" / "renamed.csv"
    other.parent.mkdir()
    other.symlink_to(src) if how == "symlink" else shutil.copy(src, other)
    capsys.readouterr()
    assert main(["ingest", "--pool", pool_file, "--in", str(other), "--out", str(out)]) == 0
    assert "ingested 0 labels" in capsys.readouterr().out and len(_log(out)) == 4
    # a file that differs in content is new data, even at the same line numbers
    src2 = tmp_path / "h2.csv"
    src2.write_text("pair_id,winner,annotator\n" + "".join(f"{p},b,x\n" for p in PIDS))
    assert main(["ingest", "--pool", pool_file, "--in", str(src2), "--out", str(out)]) == 0
    assert len(_log(out)) == 8 and len({r["key"] for r in _log(out)}) == 8


def test_an_empty_label_studio_result_is_skipped_and_counted(tmp_path, pool_file):
    def task(pid, ann_id, result):
        return {"id": ann_id, "data": {"pair_id": pid}, "annotations": [{"id": ann_id, "completed_by": 1,
                                                                         "result": result}]}

    choice = [{"from_name": "preference", "type": "choices", "value": {"choices": ["A"]}}]
    export = [task(PIDS[0], 1, choice), task(PIDS[1], 2, []), task(PIDS[2], 3, []), task(PIDS[3], 4, choice)]
    src = tmp_path / "ls.json"
    src.write_text(json.dumps(export))
    out = tmp_path / "labels.jsonl"
    with pytest.warns(UserWarning, match=r"skipped 2 answer\(s\): empty Label Studio result"):
        assert main(["ingest", "--pool", pool_file, "--in", str(src), "--out", str(out)]) == 0
    assert [r["pair_id"] for r in _log(out)] == [PIDS[0], PIDS[3]]


def test_a_pair_labelled_three_times_is_warned_and_kept_unless_dedup(tmp_path, pool_file, capsys):
    src = tmp_path / "h.jsonl"
    src.write_text("".join(json.dumps({"pair_id": PIDS[0], "winner": w, "annotator": "ann"}) + "\n"
                           for w in ("a", "a", "b")) + json.dumps({"pair_id": PIDS[1], "winner": "a"}) + "\n")
    out = tmp_path / "labels.jsonl"
    with pytest.warns(UserWarning, match=rf"1 pair\(s\) are labelled more than once .*{PIDS[0]} by annotator 'ann', "
                                         r"3 times\); all kept"):
        assert main(["ingest", "--pool", pool_file, "--in", str(src), "--out", str(out)]) == 0
    assert len(_log(out)) == 4
    out2 = tmp_path / "dedup.jsonl"
    with pytest.warns(UserWarning, match="kept only the first"):
        assert main(["ingest", "--pool", pool_file, "--in", str(src), "--out", str(out2), "--dedup"]) == 0
    assert [(r["pair_id"], r["winner"]) for r in _log(out2)] == [(PIDS[0], "a"), (PIDS[1], "a")]


def test_csv_unterminated_quote_names_the_line_where_the_row_starts(tmp_path, capsys):
    pool = tmp_path / "pool.csv"
    # without strict parsing, the quote opened on line 3 swallows lines 4-5 into one field, silently
    pool.write_text('prompt,responses\n'
                    'p1,"[""a"", ""b""]"\n'
                    'p2,"[""c"", ""d""]\n'
                    'p3,"[""e"", ""f""]"\n'
                    'p4,"[""g"", ""h""]"\n')
    assert main(["select", "--pool", str(pool), "--budget", "2", "--out", str(tmp_path / "t.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "pool.csv:3: malformed CSV" in err and "a quoted field that starts on this row closes in the middle" in err
    pool.write_text('prompt,responses\np1,"[""a"", ""b""]"\np2,"[""c"", ""d""]\n')  # open until the end
    assert main(["select", "--pool", str(pool), "--budget", "2", "--out", str(tmp_path / "t.jsonl")]) == 2
    assert "pool.csv:3: malformed CSV: a quoted field that starts on this row is never closed" in capsys.readouterr().err
    labels = tmp_path / "h.csv"
    labels.write_text(f'pair_id,winner\n{PIDS[0]},a\n"{PIDS[1]},b\n{PIDS[2]},a\n')
    assert main(["ingest", "--pool", str(save_pool(POOL, tmp_path / "p.jsonl")), "--in", str(labels),
                 "--out", str(tmp_path / "l.jsonl")]) == 2
    assert "h.csv:3: malformed CSV" in capsys.readouterr().err


def test_a_big_csv_field_is_named_and_the_limit_can_be_raised(tmp_path, capsys):
    big = "x" * 200_000
    pool = tmp_path / "pool.csv"
    pool.write_text(f'prompt,responses\np1,"[""a"", ""b""]"\np2,"[""{big}"", ""d""]"\n')
    args = ["select", "--pool", str(pool), "--budget", "2", "--dim", "4", "--quiet"]
    assert main([*args, "--out", str(tmp_path / "t.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "pool.csv:3: a field larger than 131072 bytes" in err and "--csv-field-limit" in err
    assert main([*args, "--out", str(tmp_path / "t.jsonl"), "--csv-field-limit", str(1 << 20)]) == 0
    assert os.path.getsize(tmp_path / "t.jsonl") > 0
