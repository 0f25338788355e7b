"""One command from a pool to an aligned model: embed -> collect (select + label) -> fit BT -> train ->
realign (DeRa sweep) -> report.

Each stage writes into ``OUT/<n>_<stage>/`` and, last, a marker ``stage.json`` holding the fingerprint of
its inputs (its settings + the fingerprints of the stages it reads). A rerun skips every stage whose marker
matches; a stage killed midway (no marker) runs again and resumes from its own crash-safe state (the
collection loop's label log and checkpoint, the trainers' checkpoints); a stage whose settings changed is
wiped and rerun, and so is everything after it (their input fingerprints change with it).

Training: ``dpo`` / ``ipo`` = offline on the collected pairs (duelbandit.finetune.trainer), ``online_ipo`` =
online IPO against the fitted Bradley–Terry model as the preference model (duelbandit.finetune.online_lm).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from duelbandit.errors import PipelineError
from duelbandit.io import dumps, write_json_atomic, write_text_atomic

STAGES = ("embed", "collect", "fit", "train", "realign", "report")
METHODS = ("dpo", "ipo", "online_ipo")


class PipelinePaused(PipelineError):
    """A file annotator has no label yet for some pairs: label them (tasks in ``pending``) and rerun."""

    def __init__(self, msg: str, pending: Path) -> None:
        super().__init__(msg)
        self.pending = pending


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of a pipeline run (defaults: a tiny-LM run that finishes in CPU-minutes)."""

    pool: str
    out: str
    budget: int = 64
    selector: str = "robust"
    annotator: str = "judge"
    model: str = "tiny"
    method: str = "dpo"
    embedder: str = "hashing"
    dim: int = 32
    seed: int = 0
    batch_size: int | None = None
    judge_temperature: float = 0.1
    beta: float = 0.1
    tau: float = 0.1
    lr: float = 5e-4
    epochs: int = 2
    batch: int = 8
    online_steps: int = 20
    max_new_tokens: int = 24
    lambdas: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5)
    eval_prompts: int = 16
    device: str = "cpu"
    selector_params: dict = field(default_factory=dict)

    def check(self) -> None:
        if self.budget < 1:
            raise PipelineError(f"--budget: expected an integer >= 1, got {self.budget}")
        if self.method not in METHODS:
            raise PipelineError(f"--method: expected one of {METHODS}, got {self.method!r}")
        from duelbandit.select import SELECTORS

        if self.selector not in SELECTORS:
            raise PipelineError(f"--selector: expected one of {sorted(SELECTORS)}, got {self.selector!r}")
        from duelbandit.finetune.dera import check_lambdas

        check_lambdas(list(self.lambdas))


def _fp(obj: Any) -> str:
    return hashlib.sha256(dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"


class _Runner:
    def __init__(self, out: Path, verbose: bool) -> None:
        self.out, self.verbose, self.done = out, verbose, {}

    def stage(self, k: int, name: str, inputs: dict, fn: Any) -> dict:
        folder = self.out / f"{k}_{name}"
        fp = _fp(inputs)
        marker, started = folder / "stage.json", folder / "inputs.json"
        if marker.is_file() and json.loads(marker.read_text()).get("fingerprint") == fp:
            got = json.loads(marker.read_text())
            if self.verbose:
                print(f"[{name}] up to date, skipped")
            self.done[name] = {**got["result"], "_fp": fp}
            return self.done[name]
        old = json.loads(started.read_text()).get("fingerprint") if started.is_file() else None
        if folder.exists() and old != fp:
            shutil.rmtree(folder)  # other settings or upstream data: this stage starts over
        folder.mkdir(parents=True, exist_ok=True)
        if not started.is_file():
            write_json_atomic(started, {"fingerprint": fp, "inputs": inputs})
        elif self.verbose:
            print(f"[{name}] resuming an interrupted run")
        if self.verbose:
            print(f"[{name}] running")
        result = fn(folder)
        write_json_atomic(marker, {"fingerprint": fp, "result": result})
        self.done[name] = {**result, "_fp": fp}
        return self.done[name]


def run_pipeline(cfg: PipelineConfig, *, verbose: bool = True) -> dict:
    """Run (or resume) the pipeline; returns the report stage's result (paths and headline numbers).

    Raises:
        PipelineError: bad settings; :class:`PipelinePaused` when a file annotator waits for labels.
    """
    cfg.check()
    from duelbandit.io import open_pool

    pool = open_pool(cfg.pool)
    out = Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise PipelineError(f"--out: {out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "config.json", asdict(cfg))
    R = _Runner(out, verbose)
    from duelbandit.pipeline.stages import collect_stage, embed_stage, fit_stage, realign_stage, report_stage, train_stage

    emb = R.stage(1, "embed", {"pool": pool.fingerprint(), "embedder": cfg.embedder, "dim": cfg.dim,
                              "seed": cfg.seed}, lambda d: embed_stage(cfg, pool, d))
    ann_file = Path(cfg.annotator[5:]) if cfg.annotator.startswith("file:") else None
    col = R.stage(2, "collect", {"embed": emb["_fp"], "selector": cfg.selector, "params": cfg.selector_params,
                                 "budget": cfg.budget, "batch": cfg.batch_size, "annotator": cfg.annotator,
                                 "judge_temperature": cfg.judge_temperature, "seed": cfg.seed,
                                 "file": _file_sha(ann_file) if ann_file else None},
                  lambda d: collect_stage(cfg, pool, R.out / "1_embed", d, verbose))
    fit = R.stage(3, "fit", {"collect": col["_fp"]}, lambda d: fit_stage(cfg, pool, R.out, d))
    train_keys = {"fit": fit["_fp"], "model": cfg.model, "method": cfg.method, "beta": cfg.beta, "tau": cfg.tau,
                  "lr": cfg.lr, "epochs": cfg.epochs, "batch": cfg.batch, "device": cfg.device,
                  "online_steps": cfg.online_steps, "max_new_tokens": cfg.max_new_tokens}
    tr = R.stage(4, "train", train_keys, lambda d: train_stage(cfg, pool, R.out, d, verbose))
    rl = R.stage(5, "realign", {"train": tr["_fp"], "lambdas": list(cfg.lambdas), "eval": cfg.eval_prompts},
                 lambda d: realign_stage(cfg, pool, R.out, d, verbose))
    rep = R.stage(6, "report", {"realign": rl["_fp"], "fit": fit["_fp"], "collect": col["_fp"]},
                  lambda d: report_stage(cfg, pool, R.out, d, R.done))
    return rep


def default_batch(cfg: PipelineConfig) -> int:
    from duelbandit.select import OFFLINE

    if cfg.batch_size is not None:
        return cfg.batch_size
    return cfg.budget if cfg.selector in OFFLINE else max(1, math.ceil(cfg.budget / 10))


def save_npy_atomic(path: Path, X: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, X, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_md(path: Path, text: str) -> None:
    write_text_atomic(path, text)
