"""`duelbandit finetune` / `generate` end to end on the tiny LM (subprocesses), bad input, and our TRL export."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from duelbandit.data.textpool import make_text_pool
from duelbandit.finetune.pairs import read_pairs
from duelbandit.io.export import trl_rows


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "duelbandit.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def _export(tmp_path):
    pool = make_text_pool(6, seed=0)
    cand = pool.pairs()
    k = np.arange(8)
    rows = [{"y": float(i % 2), "pair_id": pid, "prompt_id": "p", "source": "judge", "seed": 0}
            for i, pid in enumerate(cand.pair_ids(k))]
    f = tmp_path / "train.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in trl_rows(pool, rows, k)))
    return pool, cand, k, f


def test_our_trl_export_reads_back_with_the_winner_as_chosen(tmp_path):
    pool, cand, k, f = _export(tmp_path)
    got = read_pairs(f)
    for i, (row, kk) in enumerate(zip(got, k)):
        a, b = pool.responses[int(cand.i[kk])], pool.responses[int(cand.j[kk])]
        assert (row.chosen[0], row.rejected[0]) == ((a, b) if i % 2 else (b, a))  # y = 1 means a won


def test_finetune_then_generate_on_the_tiny_lm(tmp_path):
    _, _, _, f = _export(tmp_path)
    out = tmp_path / "run"
    r = _cli("finetune", "--pairs", str(f), "--model", "tiny", "--loss", "ipo", "--normalize", "mean", "--beta", "0.5", "--lr", "2e-3",
             "--batch-size", "4", "--epochs", "4", "--nll-weight", "0.2", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "8 steps on 8 pairs" in r.stdout
    m = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert m[0]["loss"] > m[-1]["loss"]
    g = _cli("generate", "--model", str(out / "final"), "--prompt", "What is 2 + 2?", "--prompt", "Hi",
             "--max-new-tokens", "5", "--out", str(tmp_path / "gen.jsonl"), "--quiet")
    assert g.returncode == 0, g.stderr
    rows = [json.loads(x) for x in (tmp_path / "gen.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in rows] == ["What is 2 + 2?", "Hi"]
    assert all(isinstance(r["response"], str) for r in rows)
    avg = _cli("finetune", "--average", str(out / "final"), str(out / "final"), "--out", str(tmp_path / "avg"))
    assert avg.returncode == 0 and (tmp_path / "avg" / "model.safetensors").is_file()


def test_bad_input_exits_2_with_a_message(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "chosen": "a", "rejected": "b"}) + "\n"
                   + json.dumps({"prompt": "p", "chosen": "a"}) + "\n")
    r = _cli("finetune", "--pairs", str(bad), "--model", "tiny", "--out", str(tmp_path / "o"), "--quiet")
    assert r.returncode == 2
    assert "bad.jsonl:2: missing column(s) ['rejected']" in r.stderr
    r = _cli("finetune", "--pairs", str(bad), "--model", "tiny", "--loss", "gpo:nope", "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "f: expected one of" in r.stderr
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"prompt": "x" * 100, "chosen": "a", "rejected": "b"}) + "\n")
    r = _cli("finetune", "--pairs", str(long), "--model", "tiny", "--max-length", "32", "--batch-size", "1",
             "--out", str(tmp_path / "o2"), "--quiet")
    assert r.returncode == 2 and "long.jsonl:1: the prompt is" in r.stderr and "max_length=32" in r.stderr
