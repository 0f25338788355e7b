"""One writer per folder: an exclusive, non-blocking lock held for a whole run.

:class:`FolderLock` takes ``fcntl.flock`` on ``FOLDER/.lock`` (POSIX) and writes the holder's pid into it.
The kernel releases a flock when its process dies, however it dies (``kill -9`` included), so a lock file
left behind by a dead process is stale by construction and the next run simply takes it: no pid guessing,
no timeouts. A second run while the first is alive fails at once with :class:`LockedError`, naming the
lock file and the holder's pid. Where ``fcntl`` does not exist (Windows) the ``filelock`` package gives
the same exclusion (the pid is then read from ``.lock.pid``).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from duelbandit.errors import DuelbanditError

LOCK_FILE = ".lock"


class LockedError(DuelbanditError, RuntimeError):
    """Another live process holds the folder's lock."""


class FolderLock:
    """``with FolderLock(folder):`` holds ``folder/.lock`` exclusively for the block, or raises
    :class:`LockedError` at once (naming the holder's pid and the lock file)."""

    def __init__(self, folder: str | os.PathLike, *, what: str = "run") -> None:
        self.path = Path(folder) / LOCK_FILE
        self.what = what
        self._fd: int | None = None
        self._fallback = None

    def _refuse(self, pid_text: str) -> LockedError:
        pid = pid_text.strip() or "unknown"
        return LockedError(
            f"{self.path}: another {self.what} (pid {pid}) is using this folder; wait for it to finish, or "
            "stop it (one writer per state folder: two writers would duplicate labels)")

    def acquire(self) -> FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self._acquire_filelock()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held = os.read(fd, 64).decode("ascii", "replace")
            os.close(fd)
            raise self._refuse(held) from None
        except BaseException:
            os.close(fd)
            raise
        # we hold it: whatever pid the file named (a dead holder's) is stale; record ours
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        self._fd = fd
        return self

    def _acquire_filelock(self) -> FolderLock:  # pragma: no cover - Windows
        import filelock

        pid_file = self.path.with_name(LOCK_FILE + ".pid")
        lock = filelock.FileLock(str(self.path), timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise self._refuse(pid_file.read_text() if pid_file.exists() else "") from None
        pid_file.write_text(f"{os.getpid()}\n")
        self._fallback = lock
        return self

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._fallback is not None:  # pragma: no cover - Windows
            self._fallback.release()
            self._fallback = None

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
