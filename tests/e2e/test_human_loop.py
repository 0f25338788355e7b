"""The human round trip through the CLI: select -> export (Label Studio / Argilla) -> answers -> ingest ->
collect with the file annotator (pausing for missing labels) -> TRL export."""

from __future__ import annotations

import json

import pytest

from duelbandit.cli import main
from duelbandit.data.textpool import make_text_pool, text_pool_rewards
from duelbandit.io import save_pool

POOL = make_text_pool(30, seed=2)
REWARD = dict(zip(POOL.responses, text_pool_rewards(POOL)))  # the "human": prefers the judge's choice


def answer(a: str, b: str) -> str:
    return "A" if REWARD[a] > REWARD[b] else ("B" if REWARD[a] < REWARD[b] else "Tie")


@pytest.fixture
def pool_file(tmp_path):
    return str(save_pool(POOL, tmp_path / "pool.jsonl"))


ANNOTATION_IDS = iter(range(1000, 10**6))


def label_studio_export(tasks: list[dict]) -> list[dict]:
    """What Label Studio's JSON export looks like after an annotator (id 7) answered every task."""
    return [{"id": k, "data": t["data"], "annotations": [{
        "id": next(ANNOTATION_IDS), "completed_by": 7, "was_cancelled": False, "result": [
        {"from_name": "preference", "to_name": "prompt", "type": "choices",
         "value": {"choices": [answer(t["data"]["response_a"], t["data"]["response_b"])]}}]}]}
        for k, t in enumerate(tasks)]


def test_select_export_ingest_trl(tmp_path, pool_file, capsys):
    tasks = tmp_path / "tasks.jsonl"
    assert main(["select", "--pool", pool_file, "--budget", "40", "--out", str(tasks), "--dim", "8",
                 "--quiet"]) == 0
    ls = tmp_path / "ls.json"
    assert main(["export", "--pool", pool_file, "--format", "label-studio", "--tasks", str(tasks),
                 "--out", str(ls)]) == 0
    exported = json.loads(ls.read_text())
    assert len(exported) == 40 and all(set(t) == {"data"} for t in exported)
    assert (tmp_path / "ls.json.config.xml").read_text().startswith("<View>")
    answers = tmp_path / "ls_export.json"
    answers.write_text(json.dumps(label_studio_export(exported)))
    labels = tmp_path / "labels.jsonl"
    assert main(["ingest", "--pool", pool_file, "--in", str(answers), "--out", str(labels),
                 "--tasks", str(tasks)]) == 0
    rows = [json.loads(x) for x in labels.read_text().splitlines()]
    assert len(rows) == 40 and {r["annotator"] for r in rows} == {"7"} and {r["selector"] for r in rows} == {"robust"}  # the default selector
    assert rows[0]["pair_id"] == json.loads(tasks.read_text().splitlines()[0])["pair_id"]
    assert main(["ingest", "--pool", pool_file, "--in", str(answers), "--out", str(labels)]) == 0
    assert "ingested 0 labels" in capsys.readouterr().out.splitlines()[-1]  # the same export adds nothing
    more = json.loads(answers.read_text())  # a later, cumulative export: one new answer on task 0
    more[0]["annotations"].append({**more[0]["annotations"][0], "id": next(ANNOTATION_IDS), "completed_by": 8})
    answers.write_text(json.dumps(more))
    assert main(["ingest", "--pool", pool_file, "--in", str(answers), "--out", str(labels)]) == 0
    assert "ingested 1 labels" in capsys.readouterr().out.splitlines()[-1]
    train = tmp_path / "train.jsonl"
    assert main(["export", "--pool", pool_file, "--format", "trl", "--labels", str(labels), "--out", str(train)]) == 0
    pairs = [json.loads(x) for x in train.read_text().splitlines()]
    assert pairs and all(REWARD[p["chosen"]] > REWARD[p["rejected"]] for p in pairs)
    assert set(pairs[0]) >= {"prompt", "chosen", "rejected", "pair_id", "prompt_id", "selector", "design_weight",
                             "label_source", "seed"}


def test_argilla_round_trip(tmp_path, pool_file):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("".join(json.dumps({"pair_id": p}) + "\n" for p in POOL.pairs().pair_ids([0, 5, 5])))
    records = tmp_path / "records.jsonl"
    assert main(["export", "--pool", pool_file, "--format", "argilla", "--tasks", str(tasks),
                 "--out", str(records)]) == 0
    recs = [json.loads(x) for x in records.read_text().splitlines()]
    assert [r["id"] for r in recs][1:] == [recs[1]["pair_id"] + "#0", recs[1]["pair_id"] + "#1"]
    assert "rg.LabelQuestion(name=\"preference\"" in (tmp_path / "records.jsonl.settings.py").read_text()
    flat = tmp_path / "answers.jsonl"  # dataset.records.to_list(flatten=True), two annotators each
    flat.write_text("".join(json.dumps({**r, "preference.responses": [answer(r["response_a"], r["response_b"]).lower()] * 2,
                                        "preference.responses.users": ["u1", "u2"]}) + "\n" for r in recs))
    out = tmp_path / "labels.jsonl"
    assert main(["ingest", "--pool", pool_file, "--in", str(flat), "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 6


def test_ingest_refuses_unknown_pairs_and_foreign_pools(tmp_path, pool_file, capsys):
    bad = tmp_path / "h.csv"
    bad.write_text(f"pair_id,winner\n{POOL.pairs().pair_ids([0])[0]},a\nzz:0-1,b\n")
    out = tmp_path / "labels.jsonl"
    assert main(["ingest", "--pool", pool_file, "--in", str(bad), "--out", str(out)]) == 2
    assert "h.csv:3: unknown pair_id 'zz:0-1'" in capsys.readouterr().err
    assert not out.exists()  # nothing is written when any line is bad
    other = str(save_pool(make_text_pool(30, seed=3), tmp_path / "other.jsonl"))
    good = tmp_path / "g.csv"
    good.write_text(f"pair_id,winner\n{POOL.pairs().pair_ids([0])[0]},a\n")
    assert main(["ingest", "--pool", pool_file, "--in", str(good), "--out", str(out)]) == 0
    assert main(["export", "--pool", other, "--format", "trl", "--labels", str(out), "--out",
                 str(tmp_path / "t.jsonl")]) == 2
    assert "labels.jsonl:1: this label belongs to pool" in capsys.readouterr().err


def test_collect_with_human_labels_pauses_and_resumes(tmp_path, pool_file, capsys):
    labels = tmp_path / "human.jsonl"  # does not exist yet: the first run pauses on round 0
    state = tmp_path / "state"
    args = ["collect", "--pool", pool_file, "--selector", "apo_practical", "--budget", "20", "--batch-size", "5",
            "--dim", "8", "--annotator", f"file:{labels}", "--state", str(state), "--quiet"]
    for _ in range(10):  # each pause: export the pending tasks, "label" them, ingest, rerun
        code = main(args)
        if code == 0:
            break
        assert code == 3
        pending = state / "pending.jsonl"
        ls = tmp_path / "pending_ls.json"
        assert main(["export", "--pool", pool_file, "--format", "label-studio", "--tasks", str(pending),
                     "--out", str(ls), "--force"]) == 0
        done = tmp_path / "done.json"
        done.write_text(json.dumps(label_studio_export(json.loads(ls.read_text()))))
        assert main(["ingest", "--pool", pool_file, "--in", str(done), "--out", str(labels)]) == 0
    assert code == 0
    assert "20 labels in 4 rounds" in capsys.readouterr().out
    task_ids = [t["data"]["task_id"] for t in json.loads((tmp_path / "pending_ls.json").read_text())]
    assert all("#r" in t for t in task_ids)  # pending tasks carry their round: ids unique across rounds
    rows = [json.loads(x) for x in (state / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 20 and all(r["annotator"] == "7" for r in rows)
