"""A crash-safe, shareable cache of text vectors: SQLite (stdlib) in WAL mode.

A vector is stored under (namespace, sha256(text)); the namespace is sha256 of the model's weight
fingerprint and every setting that changes a vector (pooling, normalisation, max length, dtype, device
type). So re-embedding a pool, or a pool with a few new prompts, runs only the new texts through the model.

Safety: misses are encoded in chunks and each chunk is one committed transaction, so a run killed mid-way
keeps every chunk committed before the kill. WAL mode lets readers proceed while one process writes;
writers wait on each other (``busy_timeout``) only for the length of one chunk's INSERT. Two runs that
encode the same text insert it once (``INSERT OR IGNORE``), and both return what the cache holds, so
concurrent runs give identical results.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from duelbandit.errors import FeatureError

CACHE_FILE = "embeddings.sqlite"
_SQL_VARS = 500  # keys per SELECT ... IN (...) (SQLite's default limit is 999 or 32766)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (ns TEXT NOT NULL, h BLOB NOT NULL, v BLOB NOT NULL,
                                    PRIMARY KEY (ns, h)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS namespaces (ns TEXT PRIMARY KEY, settings TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS weights (path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
                                    sha256 TEXT NOT NULL, PRIMARY KEY (path, size, mtime_ns));
"""


def default_cache_dir() -> Path:
    """``platformdirs.user_cache_dir("duelbandit")``: ``$XDG_CACHE_HOME/duelbandit`` (else ~/.cache/duelbandit)
    on Linux, ~/Library/Caches/duelbandit on macOS."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("duelbandit"))


def text_hash(text: str) -> bytes:
    """sha256 of the UTF-8 text (32 bytes): the per-text part of the key."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def namespace(weights_sha256: str, settings: dict[str, Any]) -> str:
    """sha256 of the weight fingerprint and the sorted settings: one namespace per way of making vectors."""
    blob = json.dumps({"weights": weights_sha256, **settings}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


class EmbeddingCache:
    """Vectors by (namespace, text hash) in ``DIR/embeddings.sqlite``.

    Args:
        folder: the cache folder (created if missing); None = :func:`default_cache_dir`.
        timeout: seconds a writer waits for another writer's chunk before failing.
    """

    def __init__(self, folder: str | os.PathLike | None = None, *, timeout: float = 60.0) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise FeatureError(f"cache: cannot create the cache folder {self.folder}: {exc}") from None
        self.path = self.folder / CACHE_FILE
        try:
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed chunk survives a killed process (not always a power cut)
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise FeatureError(f"cache: {self.path} is not a usable SQLite database: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0])

    def weights_fingerprint(self, model_dir: Path, compute: Callable[[Path], str]) -> str:
        """``compute(model_dir)``, remembered per (folder, total size, newest mtime) so that hashing large
        weights happens once per weight change, not once per run."""
        files = [p for p in model_dir.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        mtime = max((p.stat().st_mtime_ns for p in files), default=0)
        key = (str(model_dir), size, mtime)
        row = self._db.execute("SELECT sha256 FROM weights WHERE path=? AND size=? AND mtime_ns=?", key).fetchone()
        if row:
            return str(row[0])
        sha = compute(model_dir)
        self._db.execute("INSERT OR IGNORE INTO weights VALUES (?, ?, ?, ?)", (*key, sha))
        return sha

    def get(self, ns: str, hashes: Sequence[bytes], dim: int) -> dict[bytes, np.ndarray]:
        """The cached vectors among ``hashes`` (float32, shape (dim,)); missing keys are absent."""
        found: dict[bytes, np.ndarray] = {}
        uniq = list(dict.fromkeys(hashes))
        for a in range(0, len(uniq), _SQL_VARS):
            part = uniq[a : a + _SQL_VARS]
            q = f"SELECT h, v FROM vectors WHERE ns=? AND h IN ({','.join('?' * len(part))})"
            for h, v in self._db.execute(q, (ns, *part)):
                vec = np.frombuffer(v, dtype=np.float32)
                if vec.shape != (dim,):
                    raise FeatureError(f"cache: {self.path} holds a vector of length {vec.size} for a "
                                       f"{dim}-d model; delete the file or use another --cache folder")
                found[bytes(h)] = vec
        return found

    def put(self, ns: str, settings: dict[str, Any], hashes: Sequence[bytes], X: np.ndarray) -> None:
        """Insert rows of ``X`` under ``hashes`` in ONE transaction (all or nothing); existing keys are kept."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        with self._db:  # BEGIN ... COMMIT, ROLLBACK on error
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR IGNORE INTO namespaces VALUES (?, ?)", (ns, json.dumps(settings, sort_keys=True)))
            self._db.executemany("INSERT OR IGNORE INTO vectors VALUES (?, ?, ?)",
                                 ((ns, h, X[k].tobytes()) for k, h in enumerate(hashes)))


def encode_cached(
    texts: Sequence[str],
    encode: Callable[[list[str]], np.ndarray],
    *,
    cache: EmbeddingCache | None,
    ns: str,
    settings: dict[str, Any],
    dim: int,
    chunk: int = 1024,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """(len(texts), dim) float32 vectors: cached ones read back, the rest encoded ``chunk`` distinct texts at a
    time and committed per chunk. Repeated texts are encoded once.

    Returns:
        the vectors in input order, and counts {"texts", "distinct", "hits", "encoded"}.
    """
    hashes = [text_hash(t) for t in texts]
    first: dict[bytes, int] = {}
    for k, h in enumerate(hashes):
        first.setdefault(h, k)
    have = cache.get(ns, list(first), dim) if cache is not None else {}
    todo = [h for h in first if h not in have]
    for a in range(0, len(todo), chunk):
        part = todo[a : a + chunk]
        V = encode([texts[first[h]] for h in part])
        if cache is None:
            have.update(zip(part, V))
        else:
            cache.put(ns, settings, part, V)
            # read back what the cache holds: a concurrent run may have committed these texts first, and
            # both runs must return the same vectors bit for bit
            have.update(cache.get(ns, part, dim))
        if on_chunk is not None:
            on_chunk(len(part))
    out = np.empty((len(texts), dim), dtype=np.float32)
    for k, h in enumerate(hashes):
        out[k] = have[h]
    stats = {"texts": len(texts), "distinct": len(first), "hits": len(first) - len(todo), "encoded": len(todo)}
    return out, stats
