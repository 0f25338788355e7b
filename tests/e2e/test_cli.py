"""The README's curation path and the demo, run through the real console entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest

from duelbandit.cli import main
from duelbandit.data.textpool import make_text_pool
from duelbandit.io import save_pool


@pytest.fixture
def pool_file(tmp_path):
    path = tmp_path / "pool.jsonl"
    save_pool(make_text_pool(40, seed=3), path)
    return path


@pytest.mark.parametrize("selector", ["odpo", "uniform"])
def test_select_writes_exactly_T_tasks_and_the_certificate(pool_file, tmp_path, selector):
    out = tmp_path / "tasks.jsonl"
    T = 150
    assert main(["select", "--pool", str(pool_file), "--budget", str(T), "--out", str(out),
                 "--selector", selector, "--dim", "8", "--seed", "5", "--quiet"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == T
    assert all(set(r) == {"pair_id", "prompt_id", "prompt", "response_a", "response_b"} for r in rows)
    pool = make_text_pool(40, seed=3)
    cand = pool.pairs()
    idx = cand.index_of([r["pair_id"] for r in rows])  # every id is a real candidate pair
    for r, k in zip(rows, idx):
        n = int(cand.prompt[k])
        assert r["prompt"] == pool.prompts[n] and r["prompt_id"] == pool.prompt_ids[n]
        assert (r["response_a"], r["response_b"]) == (pool.responses[cand.i[k]], pool.responses[cand.j[k]])
    meta = json.loads((tmp_path / "tasks.jsonl.design.json").read_text())
    assert meta["selector"] == selector and meta["budget"] == T and meta["seed"] == 5
    assert meta["features"]["dim"] == 8
    for key in ("efficiency_lower_bound", "max_leverage_over_d", "support_size"):
        assert key in meta["certificate"]
    if selector == "odpo":
        # T = 150 > support: the rounded batch keeps the design's guarantee, so its own efficiency is high
        assert meta["certificate"]["efficiency_lower_bound"] >= 0.998
        assert meta["batch_certificate"]["efficiency_lower_bound"] > 0.5


def test_select_same_seed_same_file(pool_file, tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"t{k}.jsonl"
        main(["select", "--pool", str(pool_file), "--budget", "60", "--out", str(out), "--quiet",
              "--selector", "uniform", "--seed", "9"])
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_select_bad_pool_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "responses": ["x", "y"]}\n{"prompt": "b", "responses": ["only one"]}\n')
    assert main(["select", "--pool", str(bad), "--budget", "3", "--out", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2" in err
    assert not (tmp_path / "o.jsonl").exists()


def test_select_rejects_a_zero_budget(pool_file, tmp_path, capsys):
    assert main(["select", "--pool", str(pool_file), "--budget", "0", "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "--budget" in capsys.readouterr().err


def test_demo_runs_and_reports_a_verdict(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--seeds", "2", "--quiet"]) == 0
    report = json.loads((tmp_path / "demo.json").read_text())
    # one verdict per (pool, selector compared with uniform): 3 pools x (odpo, robust)
    assert len(report["verdicts"]) == 6
    assert sum(v.split(": ", 1)[1].startswith("robust ") for v in report["verdicts"]) == 3
    assert (tmp_path / "demo.png").stat().st_size > 10_000
    text = (tmp_path / "demo.md").read_text()
    assert "Ceiling" in text and "| budget | selector |" in text
    # every odpo row carries a certificate at the design tolerance
    for rows in report["panels"].values():
        effs = [r["efficiency_lower_bound"] for r in rows if r["selector"] == "odpo"]
        assert effs and np.min(effs) >= 1 / (1 + 1e-3) - 1e-9
