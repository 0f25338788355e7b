"""``duelbandit collect`` end to end: a real kill -9 mid-run, then resume; errors a user can trigger."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from duelbandit.cli import main
from duelbandit.io import save_pool
from duelbandit.types import Pool

ARGS = ["collect", "--pool", "bundled:30", "--selector", "greedy_logdet", "--budget", "60", "--batch-size", "6",
        "--dim", "8", "--seed", "4", "--quiet"]
ROOT = Path(__file__).resolve().parents[2]

# Runs the real CLI in a child process, after installing a hook that SIGKILLs the process itself
# (no cleanup, no finally blocks, no flush: the same as `kill -9`).
CHILD = textwrap.dedent("""
    import os, signal, sys, time
    import duelbandit.select.loop as loop
    import duelbandit.annotate as annotate
    mode, at = os.environ["KILL_MODE"], int(os.environ.get("KILL_AT", "0"))
    calls = {"n": 0}
    if mode == "before-checkpoint":      # labels of round `at` appended and fsynced, checkpoint not written
        real = loop.write_json_atomic
        def hook(path, obj, **kw):
            calls["n"] += 1
            if calls["n"] == at + 2:     # call 1 is the initial checkpoint
                os.kill(os.getpid(), signal.SIGKILL)
            return real(path, obj, **kw)
        loop.write_json_atomic = hook
    elif mode == "mid-append":           # half of round `at`'s bytes reach the file, then the process dies
        real = loop.append_jsonl
        def hook(path, rows):
            calls["n"] += 1
            if calls["n"] == at + 1:
                text = "".join(loop.dumps(r) + "\\n" for r in rows).encode()
                with open(path, "ab") as f:
                    f.write(text[: len(text) // 2 + 7])
                    f.flush()
                    os.fsync(f.fileno())
                os.kill(os.getpid(), signal.SIGKILL)
            return real(path, rows)
        loop.append_jsonl = hook
    elif mode == "slow":                 # the parent kills us from outside, wherever we are
        real = annotate.SimulatedBT.label
        def slow(self, batch):
            time.sleep(0.05)
            return real(self, batch)
        annotate.SimulatedBT.label = slow
    from duelbandit.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def child(state: Path, mode: str, at: int = 0) -> subprocess.Popen:
    env = dict(os.environ, KILL_MODE=mode, KILL_AT=str(at), PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-c", CHILD, *ARGS, "--state", str(state)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    state = tmp_path_factory.mktemp("ref")
    assert main([*ARGS, "--state", str(state)]) == 0
    return {name: (state / name).read_bytes() for name in ("labels.jsonl", "checkpoint.json")}


def resume_and_compare(state: Path, reference: dict, capsys) -> str:
    assert main([*ARGS, "--state", str(state)]) == 0
    out = capsys.readouterr().out
    for name, data in reference.items():
        assert (state / name).read_bytes() == data, name  # same labels, same rng states, same theta_hat
    return out


@pytest.mark.parametrize("mode, at", [("before-checkpoint", 3), ("mid-append", 5)])
def test_kill_9_then_resume_gives_the_uninterrupted_result(tmp_path, reference, capsys, mode, at):
    proc = child(tmp_path, mode, at)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()
    ckpt = json.loads((tmp_path / "checkpoint.json").read_text())
    assert ckpt["rounds"] == at and not ckpt["complete"]
    logged = (tmp_path / "labels.jsonl").read_bytes()
    if mode == "mid-append":
        assert not logged.endswith(b"\n")  # a torn last line
    else:
        assert logged.count(b"\n") == 6 * (at + 1)  # one round more than the checkpoint knows
    if mode == "mid-append":
        with pytest.warns(UserWarning, match="incomplete last line"):
            out = resume_and_compare(tmp_path, reference, capsys)
    else:
        out = resume_and_compare(tmp_path, reference, capsys)
    assert "resumed" in out
    lines = [json.loads(x) for x in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert [r["index"] for r in lines] == list(range(60))  # none lost, none duplicated


def test_kill_9_from_outside_at_an_arbitrary_moment(tmp_path, reference, capsys):
    proc = child(tmp_path, "slow")
    log = tmp_path / "labels.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_bytes().count(b"\n") >= 20:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    resume_and_compare(tmp_path, reference, capsys)


@pytest.mark.parametrize("extra, match", [
    (["--budget", "0"], "--budget: expected an integer >= 1, got 0"),
    (["--batch-size", "61"], "--batch-size: 61 is larger than --budget 60"),
    (["--batch-size", "0"], "--batch-size: expected an integer >= 1"),
    (["--pool", "bundled:0"], "bundled:N"),
    (["--annotator", "oracle"], "--annotator: expected simulated-bt, judge or file:LABELS"),
])
def test_clear_errors(tmp_path, capsys, extra, match):
    args = [*ARGS, "--state", str(tmp_path / "s")]
    for k in range(0, len(extra), 2):
        if extra[k] in args:
            args[args.index(extra[k]) + 1] = extra[k + 1]
        else:
            args += extra[k : k + 2]
    assert main(args) == 2
    assert match in capsys.readouterr().err


def test_empty_pool_file_and_judge_on_a_user_pool(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["collect", "--pool", str(empty), "--budget", "5", "--state", str(tmp_path / "a")]) == 2
    assert "empty.jsonl: empty file" in capsys.readouterr().err
    mine = tmp_path / "mine.jsonl"
    save_pool(Pool.from_lists(["Summarise the plot of Hamlet."], [["A prince avenges.", "A play."]]), mine)
    assert main(["collect", "--pool", str(mine), "--budget", "1", "--annotator", "judge", "--quiet",
                 "--state", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "--annotator judge: the built-in judge only scores prompts of the bundled text pool" in err


def test_a_state_folder_of_another_pool_is_refused(tmp_path, capsys):
    state = str(tmp_path / "s")
    assert main([*ARGS[:2], "bundled:20", *ARGS[3:], "--budget", "12", "--state", state]) == 0
    capsys.readouterr()
    assert main([*ARGS[:2], "bundled:21", *ARGS[3:], "--budget", "12", "--state", state]) == 2
    err = capsys.readouterr().err
    assert "this state folder holds a run with other settings" in err and "pool.fingerprint: " in err
