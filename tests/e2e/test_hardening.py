"""Issue 13 through the CLI: one writer per state folder, outputs that never destroy an input, clean one-line
failures (read-only folder, full disk, corrupt checkpoint), resource guards before any byte is written,
resume through another path to the same pool, and the numbers a user reads."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import duelbandit.select.loop as loop
from duelbandit.cli import COMMANDS, main
from duelbandit.data.textpool import make_text_pool
from duelbandit.io import save_pool

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["collect", "--pool", "bundled:30", "--selector", "greedy_logdet", "--budget", "60", "--batch-size", "6",
        "--dim", "8", "--seed", "4", "--quiet"]
SHORT = [*ARGS[:6], "18", *ARGS[7:]]  # 3 rounds: enough for two processes to meet
# the CLI in a child process whose annotator waits until the file $RELEASE exists: the run holds its lock
# for as long as the test needs, without any timing assumption
SLOW_CHILD = textwrap.dedent("""
    import os, sys, time
    import duelbandit.annotate as annotate
    real = annotate.SimulatedBT.label
    def held(self, batch):
        for _ in range(6000):
            if os.path.exists(os.environ["RELEASE"]):
                break
            time.sleep(0.05)
        return real(self, batch)
    annotate.SimulatedBT.label = held
    from duelbandit.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def _env(release: Path | None = None) -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), RELEASE=str(release or "/nonexistent"))


def _wait_for_lock(state: Path, proc: subprocess.Popen) -> None:
    lock = state / ".lock"
    for _ in range(600):
        if lock.exists() and lock.read_text().strip() == str(proc.pid):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the child never took the lock")


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def _no_tmp(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# 1. one writer per collection ------------------------------------------------------------------------

def test_two_concurrent_collects_one_fails_fast_and_the_log_holds_the_budget(tmp_path):
    state, release = tmp_path / "state", tmp_path / "release"
    first = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, *SHORT, "--state", str(state)], env=_env(release),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_lock(state, first)
        second = subprocess.run([sys.executable, "-m", "duelbandit.cli", *SHORT, "--state", str(state)], env=_env(),
                                capture_output=True, text=True, timeout=120)
        assert first.poll() is None  # held until released: the second one ran while the first held the folder
        release.touch()
        assert second.returncode == 2
        assert f"(pid {first.pid})" in second.stderr and str(state / ".lock") in second.stderr
        assert first.wait(timeout=300) == 0
    finally:
        if first.poll() is None:
            first.kill()
    rows = _lines(state / "labels.jsonl")
    assert len(rows) == 18 and [r["index"] for r in rows] == list(range(18))


def test_a_lock_left_by_a_killed_run_is_recovered(tmp_path, capsys):
    state = tmp_path / "state"
    child = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, *SHORT, "--state", str(state)],
                             env=_env(tmp_path / "never"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_for_lock(state, child)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (state / ".lock").read_text().strip() == str(child.pid)  # the dead holder's pid is still written
    assert main([*SHORT, "--state", str(state)]) == 0
    assert len(_lines(state / "labels.jsonl")) == 18


def test_ingest_refuses_a_log_written_by_two_runs(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([*ARGS[:6], "12", "--batch-size", "6", *ARGS[9:], "--state", str(a)]) == 0
    assert main([*ARGS[:6], "24", "--batch-size", "6", *ARGS[9:], "--state", str(b)]) == 0
    # what two concurrent runs leave: more labels than the budget of the checkpoint beside the log
    shutil.copy(b / "labels.jsonl", a / "labels.jsonl")
    capsys.readouterr()
    out = tmp_path / "ingested.jsonl"
    assert main(["ingest", "--pool", "bundled:30", "--in", str(a / "labels.jsonl"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "labels.jsonl:13: label 13 of a log whose run had a budget of 12 labels" in err and not out.exists()
    # and a repeated index (two runs appending to one log), named with both lines
    text = (b / "labels.jsonl").read_text().splitlines(keepends=True)
    dup = tmp_path / "dup.jsonl"
    dup.write_text("".join(text[:5] + text[3:4]))
    assert main(["ingest", "--pool", "bundled:30", "--in", str(dup), "--out", str(out)]) == 2
    assert "dup.jsonl:6: label index 3 repeats" in capsys.readouterr().err and not out.exists()


def test_ingest_keeps_a_designs_repeats_but_refuses_a_round_written_twice(tmp_path, capsys):
    # odpo on a 4-d pool repeats pairs within a round (the design's rounding): legitimate, ingested; the
    # same round appended again with fresh indices (no checkpoint beside it, so no budget to exceed) is not
    state = tmp_path / "state"
    assert main(["collect", "--pool", "bundled:30", "--selector", "odpo", "--budget", "40", "--batch-size", "20",
                 "--dim", "4", "--seed", "1", "--quiet", "--state", str(state)]) == 0
    rows = _lines(state / "labels.jsonl")
    round0 = [r for r in rows if r["round"] == 0]
    assert len({r["pair_id"] for r in round0}) < len(round0)  # the design did repeat pairs in round 0
    out = tmp_path / "ingested.jsonl"
    assert main(["ingest", "--pool", "bundled:30", "--in", str(state / "labels.jsonl"), "--out", str(out)]) == 0
    assert len(_lines(out)) == 40
    twice = tmp_path / "twice" / "labels.jsonl"
    twice.parent.mkdir()
    again = [dict(r, index=len(rows) + k) for k, r in enumerate(round0)]
    twice.write_text("".join(json.dumps(r) + "\n" for r in rows + again))
    capsys.readouterr()
    assert main(["ingest", "--pool", "bundled:30", "--in", str(twice), "--out", str(tmp_path / "o2.jsonl")]) == 2
    err = capsys.readouterr().err
    # every pair of round 0 already has its scheduled labels, so the first copied line is the first refused
    assert f"labels.jsonl:{len(rows) + 1}: pair {round0[0]['pair_id']!r}" in err and "round 0" in err
    assert f"scheduled it {round0[0]['scheduled']} time(s)" in err
    assert not (tmp_path / "o2.jsonl").exists()


# 2. never overwrite an input --------------------------------------------------------------------------

@pytest.fixture
def pool_file(tmp_path):
    path = tmp_path / "pool.jsonl"
    save_pool(make_text_pool(30, seed=3), path)
    return path


def test_outputs_that_are_inputs_or_exist_are_refused(tmp_path, pool_file, capsys):
    before = pool_file.read_bytes()
    link = tmp_path / "link.jsonl"
    link.symlink_to(pool_file)
    hard = tmp_path / "hard.jsonl"
    os.link(pool_file, hard)
    sel = ["select", "--pool", str(pool_file), "--budget", "20", "--dim", "8", "--quiet"]
    for out in (pool_file, link, hard):
        assert main([*sel, "--out", str(out), "--force"]) == 2  # not even --force
        assert "is the same file as --pool" in capsys.readouterr().err
    assert pool_file.read_bytes() == before
    tasks = tmp_path / "tasks.jsonl"
    assert main([*sel, "--out", str(tasks)]) == 0
    first = tasks.read_bytes()
    assert main([*sel, "--out", str(tasks), "--seed", "1"]) == 2
    assert "exists; pass --force" in capsys.readouterr().err and tasks.read_bytes() == first
    assert main([*sel, "--out", str(tasks), "--seed", "1", "--force"]) == 0 and tasks.read_bytes() != first
    # export --out = the label log (through a hard link), ingest --out = its input
    state = tmp_path / "state"
    assert main([*ARGS[:2], str(pool_file), *ARGS[3:6], "12", *ARGS[7:], "--state", str(state)]) == 0
    labels = state / "labels.jsonl"
    log = labels.read_bytes()
    os.link(labels, tmp_path / "same_log.jsonl")
    assert main(["export", "--pool", str(pool_file), "--format", "trl", "--labels", str(labels),
                 "--out", str(tmp_path / "same_log.jsonl"), "--force"]) == 2
    assert "is the same file as --labels" in capsys.readouterr().err and labels.read_bytes() == log
    assert main(["ingest", "--pool", str(pool_file), "--in", str(labels), "--out", str(labels)]) == 2
    assert "is the same file as --in" in capsys.readouterr().err and labels.read_bytes() == log


def test_outputs_get_the_users_umask_not_0600(tmp_path, pool_file):
    old = os.umask(0o027)
    try:
        tasks = tmp_path / "tasks.jsonl"
        assert main(["select", "--pool", str(pool_file), "--budget", "20", "--dim", "8", "--quiet", "--out",
                     str(tasks)]) == 0
        ls = tmp_path / "ls.json"
        assert main(["export", "--pool", str(pool_file), "--format", "label-studio", "--tasks", str(tasks),
                     "--out", str(ls)]) == 0
    finally:
        os.umask(old)
    for path in (tasks, Path(str(tasks) + ".design.json"), ls, Path(str(ls) + ".config.xml")):
        assert path.stat().st_mode & 0o777 == 0o640, path


# 4. resource guards before work starts ----------------------------------------------------------------

def test_memory_guard_refuses_before_any_output(tmp_path, capsys):
    out = tmp_path / "tasks.jsonl"
    assert main(["select", "--pool", "bundled:30", "--budget", "5000000", "--dim", "8", "--out", str(out),
                 "--max-memory", "1G"]) == 2
    err = capsys.readouterr().err
    # the estimate is at least T x (4 x the task line) bytes, far above 1 GiB; both numbers are named
    assert "needs about" in err and "above the limit of 1.0 GB" in err and "--budget 5000000" in err
    assert not out.exists() and not Path(str(out) + ".design.json").exists()
    state = tmp_path / "state"
    assert main([*ARGS[:6], "1000000000", *ARGS[7:], "--state", str(state)]) == 2  # default: half of RAM
    assert "needs about" in capsys.readouterr().err and not state.exists()


def test_a_huge_dim_is_refused_before_the_state_folder_gets_a_byte(tmp_path, capsys):
    state = tmp_path / "state"
    args = [*ARGS[:10], "100000", *ARGS[11:], "--state", str(state)]
    assert args[9:11] == ["--dim", "100000"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--dim 100000" in err and "d x d matrices" in err
    assert not state.exists()
    assert main([*ARGS, "--state", str(state)]) == 0  # the folder is free for a sane run


# 5. clean failures -------------------------------------------------------------------------------------

def _reference(tmp_path_factory=None) -> dict:
    state = Path(tempfile.mkdtemp())
    assert main([*ARGS, "--state", str(state)]) == 0
    return {name: (state / name).read_bytes() for name in ("labels.jsonl", "checkpoint.json")}


def test_disk_full_ends_in_one_line_and_the_run_resumes(tmp_path, capsys, monkeypatch):
    ref = _reference()
    state = tmp_path / "state"
    real_write, calls = os.write, {"n": 0}

    def write(fd, data):  # the 3rd temp file (the checkpoint of round 1) meets a full disk
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp"):
            calls["n"] += 1
            if calls["n"] == 3:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    capsys.readouterr()
    assert main([*ARGS, "--state", str(state)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint.json: No space left on device; the disk is full" in err
    assert _no_tmp(state)
    log = (state / "labels.jsonl").read_bytes()
    assert log == ref["labels.jsonl"][: len(log)] and len(log.splitlines()) == 12  # rounds 0 and 1, whole
    monkeypatch.setattr(os, "write", real_write)
    assert main([*ARGS, "--state", str(state)]) == 0
    assert {n: (state / n).read_bytes() for n in ref} == ref


def test_read_only_folder_ends_in_one_line(tmp_path, capsys, monkeypatch):
    # root ignores permission bits, so the read-only file system is simulated where files are created
    state = tmp_path / "state"

    def mkstemp(*a, dir=None, **kw):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(dir))

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    assert main([*ARGS, "--state", str(state)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{state}: Read-only file system; the file system is read-only" in err
    assert _no_tmp(state) and not (state / "checkpoint.json").exists()


def test_a_corrupt_checkpoint_ends_in_one_line_and_the_log_is_kept(tmp_path, capsys):
    state = tmp_path / "state"
    assert main([*ARGS[:6], "12", *ARGS[7:], "--state", str(state)]) == 0
    log = (state / "labels.jsonl").read_bytes()
    (state / "checkpoint.json").write_text('{"format": "duelbandit-collect/1", "settings": {')
    capsys.readouterr()
    assert main([*ARGS[:6], "12", *ARGS[7:], "--state", str(state)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "checkpoint.json: corrupt checkpoint" in err and "new --state" in err
    assert (state / "labels.jsonl").read_bytes() == log and _no_tmp(state)


@pytest.mark.parametrize("how", ["symlink", "copy"])
def test_resume_through_another_path_to_the_same_pool(tmp_path, pool_file, capsys, monkeypatch, how):
    args = [*ARGS[:2], str(pool_file), *ARGS[3:]]
    ref = tmp_path / "ref"
    assert main([*args, "--state", str(ref)]) == 0
    state = tmp_path / "state"
    real, calls = loop.write_json_atomic, {"n": 0}

    class Killed(Exception):
        pass

    def crash(path, obj, **kw):  # killed after round 2's append, before its checkpoint
        calls["n"] += 1
        if calls["n"] == 4:
            raise Killed
        return real(path, obj, **kw)

    monkeypatch.setattr(loop, "write_json_atomic", crash)
    with pytest.raises(Killed):
        main([*args, "--state", str(state)])
    monkeypatch.setattr(loop, "write_json_atomic", real)
    other = tmp_path / "elsewhere" / "pool.jsonl"
    other.parent.mkdir()
    if how == "symlink":
        other.symlink_to(pool_file)
    else:
        shutil.copy(pool_file, other)
    assert main([*ARGS[:2], str(other), *ARGS[3:], "--state", str(state)]) == 0
    assert "resumed" in capsys.readouterr().out
    assert (state / "labels.jsonl").read_bytes() == (ref / "labels.jsonl").read_bytes()


# 6. a TRL export of one fixed schema ------------------------------------------------------------------

def test_two_trl_exports_concatenate_with_datasets(tmp_path, pool_file):
    datasets = pytest.importorskip("datasets")  # the `formats` extra
    state = tmp_path / "state"
    assert main([*ARGS[:2], str(pool_file), "--selector", "odpo", "--budget", "12", "--batch-size", "12", *ARGS[9:],
                 "--state", str(state)]) == 0
    human = tmp_path / "human.csv"  # ingested labels: no round, no design weight, no seed, no selector
    pairs = make_text_pool(30, seed=3).pairs().pair_ids([0, 1, 2])
    human.write_text("pair_id,winner\n" + "".join(f"{p},a\n" for p in pairs))
    log = tmp_path / "human_log.jsonl"
    assert main(["ingest", "--pool", str(pool_file), "--in", str(human), "--out", str(log)]) == 0
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert main(["export", "--pool", str(pool_file), "--format", "trl", "--labels", str(state / "labels.jsonl"),
                 "--out", str(a)]) == 0
    assert main(["export", "--pool", str(pool_file), "--format", "trl", "--labels", str(log), "--out", str(b)]) == 0
    da = datasets.load_dataset("json", data_files=str(a), split="train")
    db = datasets.load_dataset("json", data_files=str(b), split="train")
    both = datasets.concatenate_datasets([da, db])
    assert len(both) == len(da) + 3 and both.features == da.features
    assert both[len(da)]["round"] == -1 and both[len(da)]["design_weight"] == -1.0
    assert all(w >= 0 for w in da["design_weight"])  # real design weights are never the sentinel
    pq = tmp_path / "b.parquet"
    assert main(["export", "--pool", str(pool_file), "--format", "trl", "--labels", str(log), "--out", str(pq)]) == 0
    dp = datasets.load_dataset("parquet", data_files=str(pq), split="train")
    assert datasets.concatenate_datasets([da, dp]).num_rows == len(da) + 3


# 7. the numbers a user reads are the batch's --------------------------------------------------------

def test_select_prints_and_stores_the_rounded_batchs_efficiency(tmp_path, capsys):
    out = tmp_path / "tasks.jsonl"
    with pytest.warns(UserWarning, match=r"--budget 10 is below the design's support size (\d+)"):
        assert main(["select", "--pool", "bundled:30", "--budget", "10", "--dim", "8", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    meta = json.loads(Path(str(out) + ".design.json").read_text())
    # oracle: the batch's Kiefer-Wolfowitz bound d / max_i b_i^T M^-1 b_i over all candidates, recomputed here
    from duelbandit.embed import HashingEmbedder

    pool = make_text_pool(30, seed=0)
    X = HashingEmbedder(dim=8, seed=0).embed(pool).X.astype(np.float64)
    cand = pool.pairs()
    B = X[cand.i] - X[cand.j]
    idx = cand.index_of([r["pair_id"] for r in _lines(out)])
    M = B[idx].T @ B[idx] / len(idx)
    g = np.einsum("ij,jk,ik->i", B, np.linalg.inv(M), B)
    bound = 8 / g.max()
    assert meta["batch_efficiency"]["lower_bound"] == pytest.approx(bound, rel=1e-6)
    assert meta["certificate"]["support_size"] > 10
    assert f"rounded batch of 10 labels: D-efficiency >= {bound:.4f}" in text
    assert "continuous design: D-efficiency >=" in text


# 9. a newcomer's first hour ----------------------------------------------------------------------------

def test_help_warnings_and_messages_read_well(tmp_path, pool_file, capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "Each subcommand lives" not in text and "Choose the prompt/response pairs" in text
    for name, (_, help_) in COMMANDS.items():
        assert len(help_) > 30 and help_.split()[0] in text, name
    # a warning is one plain line (a real process: pytest would record it instead)
    proc = subprocess.run([sys.executable, "-m", "duelbandit.cli", "select", "--pool", "bundled:30", "--budget", "10",
                           "--dim", "8", "--out", str(tmp_path / "t.jsonl"), "--quiet"], env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert proc.stderr.startswith("duelbandit select: warning: --budget 10 is below") and "UserWarning" not in proc.stderr
    assert proc.stderr.count("\n") == 1
    # 1 round, and what the simulated annotator's regret is measured against
    assert main([*ARGS[:2], str(pool_file), "--selector", "odpo", "--budget", "6", "--batch-size", "6",
                 *ARGS[9:], "--state", str(tmp_path / "s1")]) == 0
    out = capsys.readouterr().out
    assert "6 labels in 1 round (odpo)" in out and "against a random theta* (seed 4, norm 1.0;" in out
    # the pause names duelbandit ingest
    labels = tmp_path / "human.jsonl"
    assert main([*ARGS[:2], str(pool_file), *ARGS[3:], "--annotator", f"file:{labels}",
                 "--state", str(tmp_path / "s2")]) == 3
    assert "duelbandit ingest --in" in capsys.readouterr().out
    # a repeated response names the CLI flag
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "responses": ["x", "y", "x"]}\n')
    assert main(["select", "--pool", str(bad), "--budget", "2", "--out", str(tmp_path / "b.jsonl")]) == 2
    assert "--skip-bad" in capsys.readouterr().err
