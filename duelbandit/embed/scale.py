"""Embedding a pool that outgrows one machine: the same embedder on Ray Data.

Input: a pool stored as Parquet or JSONL shards in the one-row-per-prompt schema (``prompt``, ``responses``
(list of str), optional ``id``), read with Ray Data's own readers in file-name order. Each Ray actor holds
one model (:class:`_EmbedBatch`, a stateful callable class for ``Dataset.map_batches``; ``num_gpus=1`` per
actor when the cluster has GPUs) and turns a batch of prompts into the recipe's raw rows, one per response,
through the same code as the single-process path (:meth:`TransformerEmbedder.raw`, with the cache when
its folder is shared). The driver streams the rows back in input order (``preserve_order``) and writes
``part-NNNNN.npy`` shards plus ``manifest.json`` (:mod:`duelbandit.embed.files`), which ``--features``
accepts; loading applies PCA / centring / scale over all rows, as the single-process path does.

The driver also recomputes the pool's fingerprint from the rows it receives (ids as ``load_pool`` gives
them), so the shards are tied to the pool they came from.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from duelbandit.embed.files import MANIFEST, SHARD_FORMAT, save_npy_atomic
from duelbandit.embed.transformer import TransformerEmbedder
from duelbandit.errors import FeatureError
from duelbandit.io import default_prompt_id, write_json_atomic
from duelbandit.pool import Pool

_READ_CPUS = 0.5  # CPU reserved for Ray Data's readers
_SUFFIXES = {".parquet": "parquet", ".jsonl": "json", ".json": "json", ".ndjson": "json"}


def shard_files(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> tuple[list[str], str]:
    """The sorted shard files of a folder / glob / list, and their format (``"parquet"`` or ``"json"``)."""
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    files: list[Path] = []
    for it in items:
        p = Path(it)
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix in _SUFFIXES)
        elif any(ch in str(it) for ch in "*?["):
            files += sorted(Path().glob(str(it))) if not p.is_absolute() else sorted(
                Path(p.anchor).glob(str(p.relative_to(p.anchor))))
        elif p.is_file():
            files.append(p)
        else:
            raise FeatureError(f"--pool: {str(it)!r} is neither a file, a folder nor a glob of pool shards")
    kinds = {_SUFFIXES.get(f.suffix) for f in files}
    if not files or None in kinds or len(kinds) != 1:
        raise FeatureError(f"--pool: expected Parquet or JSONL pool shards of one kind, got {[str(f) for f in files]}")
    return [str(f) for f in files], kinds.pop()


class _EmbedBatch:
    """Ray Data stateful callable: one TransformerEmbedder (one model) per actor."""

    def __init__(self, kwargs: dict[str, Any], threads: int | None) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        self.emb = TransformerEmbedder(**kwargs)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        prompts = [str(p) for p in batch["prompt"]]
        responses = [[str(r) for r in rs] for rs in batch["responses"]]
        ids = [("" if v is None else str(v)) for v in batch["id"]] if "id" in batch else [""] * len(prompts)
        pool = Pool.from_lists(prompts, responses, name="ray batch")
        Z = self.emb.raw(pool)
        counts = [len(r) for r in responses]
        return {
            "pid": np.repeat(np.array(ids, dtype=object), counts),
            "prompt": np.repeat(np.array(prompts, dtype=object), counts),
            "response": np.array([r for rs in responses for r in rs], dtype=object),
            "local": np.concatenate([np.arange(c) for c in counts]).astype(np.int64),
            "z": Z,
        }


class _Fingerprint:
    """Pool.fingerprint computed incrementally over rows in pool order (ids as load_pool assigns them)."""

    def __init__(self) -> None:
        self.h = hashlib.sha256()
        self.repeats: dict[str, int] = {}
        self.open = False
        self.prompts = 0

    def row(self, pid: str, prompt: str, response: str, local: int) -> None:
        if local == 0:
            if self.open:
                self.h.update(b"\x02")
            if not pid:
                self.repeats[prompt] = self.repeats.get(prompt, 0) + 1
                k = self.repeats[prompt]
                pid = default_prompt_id(prompt) + (f"-{k}" if k > 1 else "")
            self.h.update(pid.encode() + b"\x00" + prompt.encode())
            self.open = True
            self.prompts += 1
        self.h.update(b"\x01" + response.encode())

    def hexdigest(self) -> str:
        h = self.h.copy()
        if self.open:
            h.update(b"\x02")
        return h.hexdigest()[:16]


def embed_with_ray(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    embedder: TransformerEmbedder,
    *,
    batch_prompts: int = 256,
    actors: int | None = None,
    cpus_per_actor: float = 1.0,
    gpus_per_actor: float | None = None,
    shard_rows: int = 65536,
    verbose: bool = True,
) -> Path:
    """Embed pool shards on Ray Data and write raw feature shards + ``manifest.json`` into ``out_dir``.

    Args:
        inputs: a folder, a glob, or a list of Parquet / JSONL shard files (one row per prompt).
        out_dir: output folder (created).
        embedder: the recipe; its settings travel to every actor.
        batch_prompts: prompts per ``map_batches`` call.
        actors: actor-pool size; None = (cluster CPUs - 0.5) // cpus_per_actor (or the number of GPUs); never
            more than leaves half a CPU to the readers.
        cpus_per_actor: CPUs (and torch threads) per actor.
        gpus_per_actor: GPUs per actor; None = 1 when the cluster has GPUs, else 0.
        shard_rows: rows per output shard.

    Returns:
        the manifest's path. Ray must be importable (``pip install 'duelbandit[scale]'``); a running Ray is
        used as is, otherwise ``ray.init()`` starts a local one.
    """
    try:
        import ray
        import ray.data
    except ImportError:
        raise FeatureError("--engine ray needs Ray Data: pip install 'duelbandit[scale]'") from None
    files, kind = shard_files(inputs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config = embedder.recipe_config()  # loads the model once here: a bad model fails before the cluster job
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    res = ray.cluster_resources()
    if gpus_per_actor is None:
        gpus_per_actor = 1.0 if res.get("GPU", 0) > 0 else 0.0
    # the readers need CPU too: actors that took every CPU would starve them (a deadlock, not a slowdown)
    cpus = float(res.get("CPU", 1))
    cpus_per_actor = min(cpus_per_actor, max(cpus - _READ_CPUS, 0.1))
    fit = max(1, int((cpus - _READ_CPUS) // cpus_per_actor))
    if actors is None:
        actors = int(res.get("GPU", 0) // gpus_per_actor) if gpus_per_actor else fit
    actors = max(1, min(actors, fit))
    kwargs = {k: config[k] for k in TransformerEmbedder._RECORDED}
    kwargs.update(weights_sha256=config["weights_sha256"], cache=embedder.cache, verbose=False,
                  device="cuda" if gpus_per_actor else "cpu")
    kwargs["max_length"] = embedder.max_length
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # rows come back in pool order
    ctx.enable_progress_bars = verbose
    read = ray.data.read_parquet if kind == "parquet" else ray.data.read_json
    ds = read(files, num_cpus=_READ_CPUS, **({} if kind == "parquet" else {"lines": True}))
    missing = {"prompt", "responses"} - set(ds.schema().names)
    if missing:
        raise FeatureError(f"--pool: the shards need the one-row-per-prompt columns prompt, responses (and "
                           f"optionally id); {sorted(missing)} missing in {files[0]}")
    ds = ds.map_batches(_EmbedBatch, fn_constructor_kwargs={"kwargs": kwargs, "threads": max(1, int(cpus_per_actor))},
                        batch_size=batch_prompts, batch_format="numpy", concurrency=actors,
                        num_cpus=cpus_per_actor, num_gpus=gpus_per_actor or None)
    fp = _Fingerprint()
    shards, rows = [], 0
    bar = tqdm(desc="shards", unit="row", disable=not verbose, leave=False)
    for batch in ds.iter_batches(batch_size=shard_rows, batch_format="numpy"):
        for pid, p, r, k in zip(batch["pid"], batch["prompt"], batch["response"], batch["local"]):
            fp.row(str(pid), str(p), str(r), int(k))
        name = f"part-{len(shards):05d}.npy"
        Z = np.ascontiguousarray(np.stack(batch["z"]) if batch["z"].dtype == object else batch["z"], np.float32)
        save_npy_atomic(out / name, Z)
        shards.append({"file": name, "rows": int(Z.shape[0])})
        rows += int(Z.shape[0])
        bar.update(int(Z.shape[0]))
    bar.close()
    manifest = {
        "format": SHARD_FORMAT, "version": 1, "engine": "ray", "inputs": files, "shards": shards, "rows": rows,
        "raw_dim": int(config["encoder_dim"] * (2 if embedder.mode == "interaction" else 1)),
        "prompts": fp.prompts, "config": config, "pool_fingerprint": fp.hexdigest(),
        "ray": {"version": ray.__version__, "actors": actors, "cpus_per_actor": cpus_per_actor,
                "gpus_per_actor": gpus_per_actor},
    }
    return write_json_atomic(out / MANIFEST, manifest)
