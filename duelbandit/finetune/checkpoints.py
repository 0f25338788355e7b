"""Checkpoints of the fine-tuner: trainable weights as safetensors, optimizer/scheduler state dicts loaded with
``weights_only=True``, written to a temp dir and renamed; and checkpoint averaging (Llama 3 averages models
from runs with different data or hyper-parameters)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from duelbandit.errors import DuelbanditError

__all__ = ["CheckpointError", "average_checkpoints", "load_checkpoint", "save_checkpoint", "save_model"]


class CheckpointError(DuelbanditError, ValueError):
    """A checkpoint is missing, incomplete or does not match the run or model it is loaded into."""


def _atomic_dir(target: Path, fill: Any) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        fill(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def trainable_state(model: Any) -> dict:
    """Trainable parameters by name (LoRA adapters only, or every weight of a full fine-tune); tied weights
    appear once, which safetensors requires."""
    return {k: p.detach().contiguous().cpu() for k, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(folder: str | os.PathLike, model: Any, optimizer: Any, scheduler: Any, state: dict) -> Path:
    """Write ``trainable.safetensors``, ``optimizer.pt``, ``scheduler.pt`` and ``state.json`` atomically."""
    import torch
    from safetensors.torch import save_file

    def fill(tmp: Path) -> None:
        save_file(trainable_state(model), str(tmp / "trainable.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        (tmp / "state.json").write_text(json.dumps(state, indent=1))

    return _atomic_dir(Path(folder), fill)


def load_checkpoint(folder: str | os.PathLike, model: Any, optimizer: Any, scheduler: Any) -> dict:
    """Load a :func:`save_checkpoint` folder into ``model``/``optimizer``/``scheduler``; return its state."""
    import torch
    from safetensors.torch import load_file

    folder = Path(folder)
    need = ["trainable.safetensors", "optimizer.pt", "scheduler.pt", "state.json"]
    missing = [n for n in need if not (folder / n).is_file()]
    if missing:
        raise CheckpointError(f"{folder}: incomplete checkpoint, missing {missing}")
    weights = load_file(str(folder / "trainable.safetensors"))
    params = dict(model.named_parameters())
    unknown = sorted(set(weights) - set(params))
    if unknown:
        raise CheckpointError(f"{folder}: weights {unknown[:3]} do not belong to this model")
    with torch.no_grad():
        for k, v in weights.items():
            params[k].copy_(v)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(folder / "scheduler.pt", weights_only=True))
    return json.loads((folder / "state.json").read_text())


def save_model(folder: str | os.PathLike, model: Any, tokenizer: Any) -> Path:
    """``save_pretrained`` of model (safetensors) and tokenizer into ``folder``, atomically."""

    def fill(tmp: Path) -> None:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)

    return _atomic_dir(Path(folder), fill)


def average_checkpoints(folders: Sequence[str | os.PathLike], out: str | os.PathLike,
                        weights: Sequence[float] | None = None) -> Path:
    """Average the weights of saved models (``save_pretrained`` folders, e.g. runs' ``final/``): theta =
    sum_i w_i theta_i with w uniform by default (Llama 3 averages checkpoints of runs with different data or
    hyper-parameters; "model soups", Wortsman et al. 2022). Config and tokenizer are copied from the first.

    Raises:
        CheckpointError: fewer than one folder, mismatched tensor names or shapes, bad weights.
    """
    import torch
    from safetensors.torch import load_file, save_file

    folders = [Path(f) for f in folders]
    if not folders:
        raise CheckpointError("average_checkpoints: expected at least one model folder, got none")
    w = [1.0 / len(folders)] * len(folders) if weights is None else [float(x) for x in weights]
    if len(w) != len(folders) or any(x < 0 for x in w) or abs(sum(w) - 1.0) > 1e-9:
        raise CheckpointError(f"weights: expected {len(folders)} non-negative numbers summing to 1, got {weights}")
    states = []
    for f in folders:
        files = sorted(f.glob("*.safetensors"))
        if not files:
            raise CheckpointError(f"{f}: no *.safetensors weights (expected a save_pretrained folder)")
        sd: dict = {}
        for file in files:
            sd.update(load_file(str(file)))
        states.append(sd)
    first = states[0]
    for f, sd in zip(folders[1:], states[1:]):
        if set(sd) != set(first) or any(sd[k].shape != first[k].shape for k in first):
            raise CheckpointError(f"{f}: tensor names or shapes differ from {folders[0]}; only models of the "
                                  "same architecture can be averaged")
    avg = {k: sum(wi * sd[k].to(torch.float64) for wi, sd in zip(w, states)).to(first[k].dtype) for k in first}

    def fill(tmp: Path) -> None:
        for item in folders[0].iterdir():
            if item.is_file() and not item.name.endswith(".safetensors") and item.name != "model.safetensors.index.json":
                shutil.copy2(item, tmp / item.name)
        save_file(avg, str(tmp / "model.safetensors"), metadata={"format": "pt"})

    return _atomic_dir(Path(out), fill)
