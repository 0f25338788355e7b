"""The checkpoint of a collection run: its arguments checked, the settings a resume must match, and reading one back.

The settings identify the pool by its content fingerprint (not its path), the features, the selector
and its parameters, the budget, batch size, seed and lambda; a resume that differs in any of them is
refused, naming every difference (the pool first).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.io import dumps
from duelbandit.select.base import SelectionState, Selector

FORMAT = "duelbandit-collect/1"


def _check_int(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ConfigError(f"{name}: expected an integer >= 1, got {v!r}")
    return int(v)


def check_args(budget: object, batch_size: object, seed: object) -> tuple[int, int, int]:
    """(budget, batch size, seed) as ints, or a ConfigError naming the bad one."""
    T = _check_int("budget", budget)
    m_max = _check_int("batch_size", batch_size)
    if m_max > T:
        raise ConfigError(f"batch_size: {m_max} is larger than the budget {T}; a round cannot ask for more "
                          "labels than the whole run")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"seed: expected an integer, got {seed!r}")
    return T, m_max, int(seed)


def selector_params(selector: Selector) -> dict:
    """The init parameters of a dataclass selector (for the checkpoint), else {}."""
    if dataclasses.is_dataclass(selector):
        return {f.name: getattr(selector, f.name) for f in dataclasses.fields(selector) if f.init}
    return {}


def _json_norm(obj: object) -> object:
    return json.loads(dumps(obj))


def settings_of(state: SelectionState, selector: Selector, T: int, m_max: int, seed: int,
                config: dict | None) -> dict:
    """What a resume must match. The pool is identified by its content fingerprint, not its path, so
    the same pool reached through a symlink or a copy resumes the run."""
    pool, features = state.pool, state.features
    return _json_norm({
        "selector": selector.name,
        "selector_params": selector_params(selector),
        "budget": T,
        "batch_size": m_max,
        "seed": seed,
        "lam": state.lam,
        "pool": {"fingerprint": pool.fingerprint(), "prompts": pool.n_prompts, "candidate_pairs": pool.n_pairs},
        "features": {"name": features.name, "dim": features.dim, "config": features.config},
        **(config or {}),
    })


def read_checkpoint(path: Path, log_path: Path) -> dict:
    """The checkpoint at ``path``; a corrupt one is a ConfigError that names it and the way out."""
    try:
        ckpt = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(ckpt, dict):
            raise ValueError(f"expected a JSON object, got {type(ckpt).__name__}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: corrupt checkpoint ({exc}); the label log {log_path.name} is left as it is. Restore "
            "checkpoint.json from a backup, or move this folder aside and start again with a new --state "
            "folder") from None
    if ckpt.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a duelbandit collect checkpoint (format "
                          f"{ckpt.get('format')!r}, expected {FORMAT!r})")
    missing = [k for k in ("settings", "rng", "rounds", "n_labels", "log_bytes", "log_sha256", "theta")
               if k not in ckpt]
    if missing:
        raise ConfigError(f"{path}: corrupt checkpoint (no field {missing[0]!r}); restore it from a backup, or "
                          "move this folder aside and start again with a new --state folder")
    pool = ckpt["settings"].get("pool") if isinstance(ckpt["settings"], dict) else None
    if isinstance(pool, dict):  # checkpoints written before the pool was matched by content named its path
        pool.pop("name", None)
    return ckpt


def diff_settings(old: object, new: object, where: str = "") -> list[str]:
    """Dotted paths of the leaves that differ between two JSON values."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            out += diff_settings(old.get(key), new.get(key), f"{where}.{key}" if where else str(key))
        return out
    return [] if old == new else [f"{where}: {_short(old)} in the checkpoint, {_short(new)} now"]


def same_settings(old: dict, new: dict, where: Path) -> None:
    """Raise a ConfigError naming (up to four of) the settings that differ, the pool's first."""
    diff = sorted(diff_settings(old, new), key=lambda line: not line.startswith("pool."))  # the pool first
    if not diff:
        return
    more = f"; and {len(diff) - 4} more" if len(diff) > 4 else ""
    raise ConfigError(f"{where}: this state folder holds a run with other settings ({'; '.join(diff[:4])}{more}); "
                      "rerun with the same settings to resume, or use another --state folder")


def _short(v: object) -> str:
    s = json.dumps(v, sort_keys=True)
    return s if len(s) <= 60 else s[:57] + "..."
