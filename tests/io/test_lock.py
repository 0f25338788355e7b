"""One writer per folder (issue 13, item 1): the lock refuses a second holder, names the first, and a dead
holder's lock file is no obstacle."""

from __future__ import annotations

import os

import pytest

from duelbandit.io.lock import LOCK_FILE, FolderLock, LockedError


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    with FolderLock(tmp_path, what="collect"):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
        with pytest.raises(LockedError, match=rf"\.lock: another collect \(pid {os.getpid()}\) is using"):
            FolderLock(tmp_path, what="collect").acquire()
    with FolderLock(tmp_path):  # released at the end of the block
        pass


def test_a_stale_lock_file_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text("999999999\n")  # a pid that does not hold any lock
    with FolderLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().strip() == str(os.getpid())
