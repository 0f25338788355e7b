"""Atomic writes (issue 13, items 2 and 5): the user's umask, and no temp file or half file on failure."""

from __future__ import annotations

import errno
import os

import pytest

from duelbandit.io import write_text_atomic


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_atomic_writes_get_the_mode_open_would_give(tmp_path, mask):
    old = os.umask(mask)
    try:
        path = write_text_atomic(tmp_path / "x.json", "{}\n")
        with open(tmp_path / "plain.json", "w") as f:  # the oracle: what a plain open() gives
            f.write("{}\n")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == (tmp_path / "plain.json").stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_full_disk_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = write_text_atomic(tmp_path / "x.json", "old\n")
    real, calls = os.write, []

    def write(fd, data):  # the first chunk goes through, then the disk is full
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, bytes(data[:5]))

    monkeypatch.setattr(os, "write", write)
    with pytest.raises(OSError) as info:
        write_text_atomic(path, "new and longer\n")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert path.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_a_full_disk_during_an_append_names_the_log_and_keeps_what_was_there(tmp_path, monkeypatch):
    from duelbandit.io import append_jsonl

    log = tmp_path / "labels.jsonl"
    append_jsonl(log, [{"index": 0}])
    before = log.read_bytes()

    def fsync(fd):  # the flush to disk fails
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as info:
        append_jsonl(log, [{"index": 1}])
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(log)
    assert log.read_bytes().startswith(before)  # an append never truncates: the first label is kept
