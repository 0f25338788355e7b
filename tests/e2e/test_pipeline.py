"""`duelbandit pipeline` end to end on the tiny LM: kill -9 between stages, rerun, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["pipeline", "--pool", "bundled:8", "--budget", "16", "--model", "tiny", "--max-new-tokens", "4",
        "--eval-prompts", "3", "--epochs", "1", "--train-batch", "4", "--lambdas", "0,1"]


def _env():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def test_pipeline_survives_kill_9_and_resumes(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "duelbandit.cli", *ARGS, "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    marker = out / "3_fit" / "stage.json"
    deadline = time.time() + 300
    while not marker.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), proc.communicate()[0].decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)  # during the train stage (or right at its start)
    proc.wait()
    assert not (out / "6_report" / "stage.json").exists()
    labels_before = (out / "2_collect" / "labels.jsonl").read_bytes()

    res = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    for stage in ("embed", "collect", "fit"):
        assert f"[{stage}] up to date, skipped" in res.stdout
    assert "[train] running" in res.stdout and "[report] running" in res.stdout
    # no label lost or duplicated: the log is the one written before the kill
    assert (out / "2_collect" / "labels.jsonl").read_bytes() == labels_before
    assert len(labels_before.decode().splitlines()) == 16
    report = (out / "6_report" / "report.md").read_text()
    assert "Win rate of the aligned model" in report and (out / "6_report" / "reward_vs_kl.png").exists()
    rows = json.loads((out / "5_realign" / "sweep.json").read_text())["rows"]
    assert [r["lambda"] for r in rows] == [0.0, 1.0] and rows[0]["kl_per_token"] < 1e-6

    # a third run does nothing (the stage runner's rules are unit-tested in tests/pipeline/test_run.py)
    res = subprocess.run(cmd, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0 and res.stdout.count("up to date, skipped") == 6


def test_pipeline_bad_input(tmp_path, capsys):
    from duelbandit.cli import main

    rc = main(["pipeline", "--pool", "bundled:4", "--budget", "0", "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 2 and "--budget" in capsys.readouterr().err
    rc = main(["pipeline", "--pool", "bundled:4", "--budget", "4", "--selector", "nope", "--out",
               str(tmp_path / "o"), "--quiet"])
    assert rc == 2 and "--selector" in capsys.readouterr().err
    rc = main(["pipeline", "--pool", "bundled:4", "--budget", "4", "--lambdas", "0,9", "--out",
               str(tmp_path / "o"), "--quiet"])
    assert rc == 2 and "lambdas[1] = 9.0" in capsys.readouterr().err


def test_pipeline_pauses_for_human_labels(tmp_path, capsys):
    from duelbandit.cli import main

    labels = tmp_path / "human.jsonl"  # nobody has labelled anything yet
    rc = main(["pipeline", "--pool", "bundled:6", "--budget", "6", "--annotator", f"file:{labels}",
               "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 3
    pending = tmp_path / "o" / "2_collect" / "pending.jsonl"
    assert "paused" in capsys.readouterr().out and len(pending.read_text().splitlines()) >= 1
    assert not (tmp_path / "o" / "2_collect" / "stage.json").exists()
