"""JSON lines and JSON files, written safely (the shared layer under pools, label logs and exports).

- :func:`read_jsonl` yields ``(line, object)`` with ``file:line`` errors (malformed JSON, duplicate keys,
  NaN/Infinity), and can skip the torn last line a killed writer leaves behind.
- :func:`append_jsonl` appends whole rows, then flushes and fsyncs (append-only logs); it first cuts off
  an incomplete last line (a process killed mid-append), with a warning.
- :func:`repair_torn_tail` does that cut alone and says how many bytes it removed.
- :func:`write_text_atomic` / :func:`write_json_atomic`: temp file in the same folder, fsync,
  ``os.replace``: a reader sees the old file or the new one, never half of one.

JSON has no NaN or infinity: :func:`dumps` refuses them, naming the key path.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from duelbandit.errors import DuelbanditError, PoolError

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class _NonFinite:
    """Stands in for JSON NaN/Infinity so that the field holding it can be named in the error."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __repr__(self) -> str:
        return self.token


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _decode(path: Path, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PoolError(f"{path}:{line}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    return text.removeprefix("\ufeff")


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict | str, bool]]:
    """Yield (line, object or error message, is_torn_tail) for each non-blank line.

    Splits on ``\\n`` only: ``str.splitlines`` would also split on U+2028, which JSON allows raw in strings.
    """
    text = _decode(path, path.read_bytes())
    lines = text.split("\n")
    last = len(lines) - 1 if not text.endswith("\n") else -1
    for k, raw in enumerate(lines):
        s = raw.strip()
        if not s:
            continue
        try:
            obj = json.loads(s, parse_constant=_NonFinite, object_pairs_hook=_no_duplicate_keys)
        except ValueError as exc:  # JSONDecodeError is a ValueError; so is the duplicate-key hook's
            where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
            msg = getattr(exc, "msg", str(exc))
            yield k + 1, f"malformed JSON line ({msg}{where})", k == last
            continue
        if not isinstance(obj, dict):
            yield k + 1, f"expected a JSON object, got {type(obj).__name__}", k == last
            continue
        yield k + 1, obj, False


def read_jsonl(
    path: str | os.PathLike, *, error: type[DuelbanditError] = PoolError, allow_torn_tail: bool = False
) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for every non-blank line of a JSON-lines file (1-based lines).

    Args:
        path: the file.
        error: the DuelbanditError subclass raised on a bad line (e.g. LabelError for label logs).
        allow_torn_tail: ignore (with a warning) a malformed LAST line that has no final newline: the
            trace of a process killed mid-append (see :func:`append_jsonl`).

    Raises:
        ``error`` naming ``path:line`` for malformed JSON, a non-object line, duplicate keys or NaN.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    for line, obj, torn in _jsonl_records(path):
        if isinstance(obj, str):
            if torn and allow_torn_tail:
                _warn(f"{path}:{line}: ignoring an incomplete last line (interrupted write)")
                return
            raise error(f"{path}:{line}: {obj}")
        bad = _nonfinite_path(obj)
        if bad is not None:
            raise error(f"{path}:{line}: field {bad!r}: NaN/Infinity is not allowed")
        yield line, obj


def _warn(msg: str) -> None:
    """``warnings.warn`` attributed to the first caller outside duelbandit.io (the user's line)."""
    level, frame = 1, sys._getframe(0)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame, level = frame.f_back, level + 1
    warnings.warn(msg, stacklevel=level)


def _json_default(obj: Any) -> Any:
    # numpy scalars/arrays appear in configs and certificates; JSON has no pickle-like escape hatch
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def _nonfinite_path(obj: Any, where: str = "") -> str | None:
    """Path (``"certificate.logdet"``, ``"responses[2]"``) of the first NaN/inf inside ``obj``, or None."""
    if isinstance(obj, _NonFinite):
        return where or "value"
    if isinstance(obj, (float, np.floating)):
        return None if np.isfinite(obj) else (where or "value")
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f" and not np.all(np.isfinite(obj)):
        return f"{where}[{int(np.flatnonzero(~np.isfinite(obj.ravel()))[0])}]"
    if isinstance(obj, dict):
        children: Iterable = ((f"{where}.{k}" if where else str(k), v) for k, v in obj.items())
    elif isinstance(obj, (list, tuple)):
        children = ((f"{where}[{k}]", v) for k, v in enumerate(obj))
    else:
        return None
    for name, v in children:
        hit = _nonfinite_path(v, name)
        if hit is not None:
            return hit
    return None


def dumps(obj: Any, **kw: Any) -> str:
    """``json.dumps`` that refuses NaN/inf and converts numpy scalars/arrays (UTF-8 kept as is).

    Raises:
        ValueError: naming the key path of the first NaN/inf (JSON has no such numbers; write None).
    """
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, default=_json_default, **kw)
    except ValueError:
        where = _nonfinite_path(obj)
        if where is None:
            raise
        raise ValueError(
            f"{where!r} is NaN or infinite; JSON has no such number (store None instead)"
        ) from None


def _fsync_dir(folder: Path) -> None:
    try:  # makes a rename/creation durable on POSIX; not possible (nor needed) on Windows
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def _umask() -> int:
    """The process umask (read without changing it where /proc allows; else set and restored at once)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically: temp file in the same folder, fsync, ``os.replace``.

    A reader (or a resumed run) sees either the old file or the new one, never a half-written one. The
    file gets the mode a plain ``open(path, "w")`` would give (0666 minus the umask), not the temp file's
    0600. On any failure (disk full, a read-only folder, ...) the temp file is removed and the old file is
    left as it was.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        try:
            view = memoryview(data)
            while view:  # os.write may write less than asked
                view = view[os.write(fd, view):]
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o666 & ~_umask())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None and exc.errno is not None:  # os.write/fsync do
            # not name the file: name it, so that the one-line error says which file met a full disk
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    _fsync_dir(folder)
    return path


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; see :func:`write_bytes_atomic`."""
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (see :func:`write_text_atomic`); NaN is refused."""
    try:
        text = dumps(obj, indent=indent)
    except (TypeError, ValueError) as exc:
        raise DuelbanditError(f"{path}: cannot write as JSON: {exc}") from None
    return write_text_atomic(path, text + "\n")


def repair_torn_tail(path: str | os.PathLike) -> int:
    """Cut off an incomplete last line (no final newline): the trace of a writer killed mid-append.

    Whole lines are never touched. Returns the number of bytes removed (0 when the file ends with a
    newline, is empty or does not exist); a removal is reported with a warning and made durable (fsync).
    """
    path = Path(path)
    if not path.is_file():
        return 0
    with open(path, "r+b") as f:
        return _cut_torn_tail(f, path)


def _cut_torn_tail(f: Any, path: Path) -> int:
    size = f.seek(0, os.SEEK_END)
    if not size:
        return 0
    f.seek(size - 1)
    if f.read(1) == b"\n":
        return 0
    f.seek(0)
    keep = f.read().rfind(b"\n") + 1
    _warn(f"{path}: removing an incomplete last line ({size - keep} bytes) left by an interrupted write")
    f.truncate(keep)
    f.flush()
    os.fsync(f.fileno())
    return size - keep


def append_jsonl(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    """Append rows (one JSON object per line) to ``path``, then flush and fsync; return how many.

    All rows are serialised before anything is written, so a bad row leaves the file untouched. If the
    file ends without a newline (a process was killed mid-append), that incomplete last line is cut off
    first (see :func:`repair_torn_tail`): the rows it held were never completely written.
    """
    path = Path(path)
    try:
        text = "".join(dumps(r) + "\n" for r in rows)
    except (TypeError, ValueError) as exc:
        raise DuelbanditError(f"{path}: cannot append a row as JSON: {exc}") from None
    created = not path.exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "a+b") as f:
            _cut_torn_tail(f, path)
            f.seek(0, os.SEEK_END)
            f.write(text.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:  # a full disk may leave a torn last line: the next append or resume cuts it
        if exc.filename is None and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(path)) from exc
        raise
    if created:
        _fsync_dir(path.parent)
    return text.count("\n")
