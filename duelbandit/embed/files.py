"""Features on disk: ``F.npy`` + ``F.npy.json``, or a folder of Ray feature shards with ``manifest.json``.

- ``F.npy``: the (R, d) array, one row per response in pool order (``np.save``; read with
  ``allow_pickle=False``); ``F.npy.json``: {"name", "config", "shape"} where config is ``Features.config``.
  Both are written to a temporary file and renamed (atomic).
- A shard folder (``duelbandit embed --engine ray``): ``part-NNNNN.npy`` raw recipe rows in pool order and
  ``manifest.json`` = {"format": "duelbandit-feature-shards", "shards": [{"file", "rows"}], "rows",
  "raw_dim", "config" (the embedder's recipe, without the finishing step), "pool_fingerprint"}. Loading
  concatenates the shards and applies the recorded finishing step (PCA / centring / unit-ball scale,
  :func:`duelbandit.embed.recipes.finish`) exactly as the single-process path does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from duelbandit.embed.recipes import finish
from duelbandit.errors import FeatureError
from duelbandit.io import write_json_atomic
from duelbandit.pool import Features, Pool

MANIFEST = "manifest.json"
SHARD_FORMAT = "duelbandit-feature-shards"


def save_npy_atomic(path: Path, X: np.ndarray) -> None:
    """``np.save`` to a temporary file in the same folder, fsync, rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, X, allow_pickle=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def save_features(features: Features, path: str | os.PathLike) -> Path:
    """Write ``F.npy`` and ``F.npy.json`` (the config) atomically; returns the .npy path."""
    path = Path(path)
    if path.suffix != ".npy":
        raise FeatureError(f"--out: expected a .npy file name, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_npy_atomic(path, np.ascontiguousarray(features.X))
    write_json_atomic(Path(str(path) + ".json"),
                      {"name": features.name, "shape": list(features.X.shape), "config": features.config})
    return path


def load_features(path: str | os.PathLike, pool: Pool | None = None) -> Features:
    """Features from ``F.npy`` (+ ``F.npy.json``), or from a shard folder / its ``manifest.json``.

    With ``pool`` given, the rows must be one per response of that pool, and a recorded pool fingerprint
    must be the pool's: features of another pool are refused.

    Raises:
        FeatureError: a missing or malformed file, or features that do not belong to ``pool``.
    """
    path = Path(path)
    if path.is_dir() or path.name == MANIFEST:
        feats = _load_shards(path if path.is_dir() else path.parent)
    else:
        feats = _load_npy(path)
    if pool is not None:
        feats.check_aligned(pool)
        fp = feats.config.get("pool_fingerprint")
        if fp is not None and fp != pool.fingerprint():
            raise FeatureError(
                f"{path}: these features were made for a pool with fingerprint {fp}, but pool {pool.name!r} has "
                f"{pool.fingerprint()} (same size, different texts or order); re-embed this pool"
            )
    return feats


def _read_json(path: Path) -> dict:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FeatureError(f"{path}: missing (expected the JSON written beside the features)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FeatureError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise FeatureError(f"{path}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _npy(path: Path) -> np.ndarray:
    try:
        X = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FeatureError(f"--features: {path} does not exist") from None
    except ValueError as exc:
        raise FeatureError(f"{path}: not a plain numeric .npy array ({exc})") from None
    if X.ndim != 2 or not np.issubdtype(X.dtype, np.floating):
        raise FeatureError(f"{path}: expected a 2-d float array, got shape {X.shape} and dtype {X.dtype}")
    return X


def _load_npy(path: Path) -> Features:
    X = _npy(path)
    meta = _read_json(Path(str(path) + ".json"))
    if list(meta.get("shape", [])) != list(X.shape):
        raise FeatureError(f"{path}.json: shape {meta.get('shape')} does not match the array's {list(X.shape)}")
    return Features(X=X, name=str(meta.get("name", "features")), config=dict(meta.get("config") or {}))


def _load_shards(folder: Path) -> Features:
    man = _read_json(folder / MANIFEST)
    if man.get("format") != SHARD_FORMAT:
        raise FeatureError(f"{folder / MANIFEST}: 'format' must be {SHARD_FORMAT!r}, got {man.get('format')!r}")
    parts = []
    for k, s in enumerate(man.get("shards", [])):
        Z = _npy(folder / s["file"])
        if Z.shape[0] != s["rows"] or Z.shape[1] != man["raw_dim"]:
            raise FeatureError(f"{folder / s['file']}: shape {Z.shape}, but shard {k} of the manifest says "
                               f"({s['rows']}, {man['raw_dim']})")
        parts.append(Z)
    if not parts:
        raise FeatureError(f"{folder / MANIFEST}: no shards listed")
    Z = np.concatenate(parts)
    if Z.shape[0] != man["rows"]:
        raise FeatureError(f"{folder / MANIFEST}: {man['rows']} rows declared, {Z.shape[0]} in the shards")
    cfg = dict(man["config"])
    X, info = finish(Z, dim=cfg.get("dim"), center=bool(cfg.get("center", True)), seed=int(cfg.get("seed", 0)))
    cfg.update(info)
    cfg["pool_fingerprint"] = man.get("pool_fingerprint")
    cfg["engine"] = man.get("engine", "ray")
    return Features(X=X, name=str(cfg.get("embedder", "transformer")), config=cfg)
