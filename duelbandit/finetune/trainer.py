"""The offline preference trainer: DPO / IPO / GPO / SLiC / mDPO / mIPO on any causal LM, CPU or GPU, one
process or ``torchrun`` DDP.

One optimiser step takes ``batch_size`` pairs (the global batch, split over ranks and ``grad_accum``
micro-batches), computes policy sequence log-probs of chosen and rejected in one forward, takes reference
log-probs from a cache computed once before training (or from a frozen reference model), and minimises the
mean per-pair loss (+ ``nll_weight`` x per-token NLL of the chosen response, Llama 3). The per-step pieces
(:func:`policy_logprobs`, :func:`pair_losses`) are public so online trainers can reuse them.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from duelbandit.errors import DuelbanditError
from duelbandit.finetune.checkpoints import load_checkpoint, save_checkpoint, save_model
from duelbandit.finetune.logprobs import Encoded, encode, precompute_logprobs, sequence_logprobs
from duelbandit.finetune.models import quiet_hf
from duelbandit.finetune.losses import dpo_loss, gpo_loss, ipo_loss, mdpo_loss, mipo_loss, nll_loss, slic_loss
from duelbandit.finetune.pairs import PreferenceRow, group_size, prompt_value

__all__ = ["LOSSES", "TrainConfig", "TrainingError", "encode_rows", "pair_losses", "policy_logprobs", "train"]

LOSSES = ("dpo", "ipo", "mdpo", "mipo", "slic", "gpo:NAME")


class TrainingError(DuelbanditError, ValueError):
    """Training cannot go on (a bad configuration, a NaN loss); the message says what was kept."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one run (recorded in every checkpoint; a resume must use the same ones, except
    ``max_steps``/``epochs``/``save_every``).

    ``beta`` scales rho for dpo / mdpo / gpo; ``tau`` is IPO's (default ``beta``); ``normalize`` is "sum"
    (DPO's sequence log-prob) or "mean" (per token, TRL's "ipo")."""

    loss: str = "dpo"
    beta: float = 0.1
    tau: float | None = None
    normalize: str = "sum"
    nll_weight: float = 0.0
    slic_delta: float = 1.0
    lr: float = 1e-5
    warmup_steps: int = 0
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    batch_size: int = 4
    grad_accum: int = 1
    epochs: int = 1
    max_steps: int | None = None
    max_length: int = 512
    seed: int = 0
    save_every: int = 0
    precompute_ref: bool = True
    mask_special: bool = True
    chat_template: bool | None = None
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    gradient_checkpointing: bool = False
    bf16: bool = True
    extra: dict = field(default_factory=dict)

    def check(self) -> None:
        if not (self.loss in LOSSES[:-1] or self.loss.startswith("gpo:")):
            raise TrainingError(f"loss: expected one of {LOSSES}, got {self.loss!r}")
        if self.loss.startswith("gpo:"):
            from duelbandit.finetune.losses import gpo_function

            gpo_function(self.loss[4:])
        for name in ("beta", "lr"):
            if not getattr(self, name) > 0:
                raise TrainingError(f"{name}: expected a positive number, got {getattr(self, name)!r}")
        if self.batch_size < 1 or self.grad_accum < 1 or self.batch_size % self.grad_accum:
            raise TrainingError(f"batch_size={self.batch_size}, grad_accum={self.grad_accum}: expected positive "
                                "integers with grad_accum dividing batch_size")


def encode_rows(tokenizer: Any, rows: list[PreferenceRow], cfg: TrainConfig) -> tuple[Encoded, Encoded, int]:
    """Tokenise chosen and rejected sides: row n's k responses are rows n*k ... n*k + k - 1."""
    k = group_size(rows)
    prompts = [prompt_value(r.prompt) for r in rows for _ in range(k)]
    where = [r.where for r in rows for _ in range(k)]
    opts = {"max_length": cfg.max_length, "chat_template": cfg.chat_template, "mask_special": cfg.mask_special}
    w = encode(tokenizer, prompts, [y for r in rows for y in r.chosen], where=where, **opts)
    l_ = encode(tokenizer, prompts, [y for r in rows for y in r.rejected], where=where, **opts)
    return w, l_, k


def _flat(index: Any, k: int) -> Any:
    import torch

    return (index[:, None] * k + torch.arange(k)[None, :]).reshape(-1)


def policy_logprobs(model: Any, chosen: Encoded, rejected: Encoded, *, normalize: str = "sum") -> tuple:
    """Sequence log-probs of chosen and rejected rows in ONE forward (rows concatenated, padded to the longer).

    Returns:
        (logp_w, logp_l, n_w): (N,) log-probs of each side and (N,) scored-token counts of the chosen side.
    """
    import torch

    T = max(chosen.input_ids.shape[1], rejected.input_ids.shape[1])

    def pad(x: Any, v: Any) -> Any:
        return torch.nn.functional.pad(x, (0, T - x.shape[1]), value=v)

    both = Encoded(
        torch.cat([pad(chosen.input_ids, 0), pad(rejected.input_ids, 0)]),
        torch.cat([pad(chosen.attention_mask, 0), pad(rejected.attention_mask, 0)]),
        torch.cat([pad(chosen.loss_mask, False), pad(rejected.loss_mask, False)]),
    )
    logp, n = sequence_logprobs(model, both, normalize=normalize)
    N = chosen.input_ids.shape[0]
    return logp[:N], logp[N:], n[:N]


def pair_losses(cfg: TrainConfig, a_w: Any, a_l: Any, *, label: Any = 1.0, margin: Any = 0.0,
                logp_w: Any = None, logp_l: Any = None) -> Any:
    """(B,) per-pair losses of ``cfg.loss`` from log-ratios a_w, a_l of shape (B, k) (k = 1 for pairs).

    dpo: :func:`dpo_loss` (with margin and soft label); ipo: :func:`ipo_loss` with tau (default beta);
    gpo:NAME: :func:`gpo_loss`; mdpo / mipo: the multi-sample losses; slic: :func:`slic_loss` on the policy
    log-probs ``logp_w``, ``logp_l`` (B, k) (no reference).
    """
    tau = cfg.tau if cfg.tau is not None else cfg.beta
    rho = a_w.mean(dim=1) - a_l.mean(dim=1)
    if cfg.loss == "dpo":
        return dpo_loss(rho, beta=cfg.beta, margin=margin, label=label)
    if cfg.loss == "ipo":
        return ipo_loss(rho, tau=tau)
    if cfg.loss == "mdpo":
        return mdpo_loss(a_w, a_l, beta=cfg.beta)
    if cfg.loss == "mipo":
        return mipo_loss(a_w, a_l, tau=tau, unbiased=True)
    if cfg.loss == "slic":
        return slic_loss(logp_w.mean(dim=1), logp_l.mean(dim=1), delta=cfg.slic_delta)
    return gpo_loss(rho, beta=cfg.beta, f=cfg.loss[4:])


def _dist() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:  # launched by torchrun: join the group
        import torch

        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _fingerprint(enc: tuple[Encoded, Encoded], cfg: TrainConfig, model_name: str) -> str:
    h = hashlib.sha256(model_name.encode())
    h.update(f"{cfg.normalize}".encode())
    for e in enc:
        for t in (e.input_ids, e.loss_mask):
            h.update(t.numpy().tobytes())
    return h.hexdigest()[:16]


def _reference(model: Any, chosen: Encoded, rejected: Encoded, cfg: TrainConfig, out: Path | None, key: str,
               device: Any, verbose: bool) -> tuple:
    """Reference log-probs of every row: loaded from ``out/ref_logprobs.safetensors`` when it matches the data
    (a resumed run needs them: the policy has moved), else computed once with the initial policy."""
    from safetensors.torch import load_file, save_file

    path = out / "ref_logprobs.safetensors" if out is not None else None
    if path is not None and path.is_file():
        got = load_file(str(path))
        if json.loads((out / "ref_logprobs.json").read_text()).get("key") == key:
            return got["chosen"], got["rejected"]
    bs = max(cfg.batch_size, 8)
    ref_w = precompute_logprobs(model, chosen, batch_size=bs, normalize=cfg.normalize, device=device, verbose=verbose)
    ref_l = precompute_logprobs(model, rejected, batch_size=bs, normalize=cfg.normalize, device=device,
                                verbose=verbose)
    if path is not None and _dist()[0] == 0:
        from duelbandit.io import write_json_atomic

        save_file({"chosen": ref_w, "rejected": ref_l}, str(path) + ".tmp")
        os.replace(str(path) + ".tmp", path)
        write_json_atomic(out / "ref_logprobs.json", {"key": key})
    return ref_w, ref_l


def _trim_metrics(path: Path, step: int) -> None:
    """Drop the metrics of steps after the checkpoint a resume starts from: a run killed between a step's log
    line and its next checkpoint logged steps it will train again (rewritten atomically; the log is a
    record of the run, not of labels, so the replayed steps replace the lost ones)."""
    from duelbandit.io import write_text_atomic

    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    keep = [x for x in lines if x.strip() and json.loads(x).get("step", 0) <= step]
    if len(keep) != len(lines):
        write_text_atomic(path, "".join(keep))


def train(model: Any, tokenizer: Any, rows: list[PreferenceRow], cfg: TrainConfig, out: str | os.PathLike | None,
          *, model_name: str = "model", device: Any = None, resume: bool = True, verbose: bool = True) -> dict:
    """Fine-tune ``model`` on preference ``rows`` with ``cfg`` (module docstring); returns a summary dict.

    Writes under ``out`` (rank 0): ``metrics.jsonl`` (one line per step: loss, reward margin, pair accuracy,
    kl, grad norm, lr; fsynced), ``checkpoint/`` (trainable weights, optimiser, scheduler, step; resumable),
    ``ref_logprobs.safetensors`` and ``final/`` (a ``save_pretrained`` model: LoRA adapters merged).
    A run found in ``out`` with ``resume=True`` continues from its checkpoint: same data order, same result.

    Raises:
        TrainingError: bad settings, a resume with different settings, or a non-finite loss (the last good
            weights are saved to ``out/checkpoint`` first).
    """
    import torch
    from tqdm.auto import tqdm

    from duelbandit.io import append_jsonl

    cfg.check()
    quiet_hf(verbose)
    rank, world = _dist()
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", rank % torch.cuda.device_count())
    out = Path(out) if out is not None else None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    B = cfg.batch_size
    if B % (world * cfg.grad_accum):
        raise TrainingError(f"batch_size={B}: expected a multiple of world_size x grad_accum = {world * cfg.grad_accum}")
    chosen, rejected, k = encode_rows(tokenizer, rows, cfg)
    if (cfg.loss in ("dpo", "ipo", "slic") or cfg.loss.startswith("gpo:")) and k != 1:
        raise TrainingError(f"loss {cfg.loss!r} takes one response per side; the data has groups of k={k} "
                            "(use mdpo or mipo)")
    label = torch.tensor([r.label for r in rows], dtype=torch.float32)
    margin = torch.tensor([r.margin for r in rows], dtype=torch.float32)
    N = len(rows)
    steps_per_epoch = N // B
    if steps_per_epoch == 0:
        raise TrainingError(f"batch_size={B}: larger than the {N} preference rows")
    total = steps_per_epoch * cfg.epochs if cfg.max_steps is None else cfg.max_steps
    model.to(device)
    key = _fingerprint((chosen, rejected), cfg, model_name)
    ref_model = None
    if cfg.precompute_ref:
        ref_w, ref_l = _reference(model, chosen, rejected, cfg, out, key, device, verbose and rank == 0)
    else:  # a frozen copy, run on every batch (what TRL does without precompute_ref_log_probs)
        ref_model = copy.deepcopy(model).eval().requires_grad_(False)
    if cfg.lora:
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0,
                                                 target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
                                                 task_type="CAUSAL_LM"))
    if cfg.gradient_checkpointing:
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5 renamed it
            model.activation_checkpointing_enable({"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if cfg.lora:
            model.enable_input_require_grads()
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    warm = max(cfg.warmup_steps, 0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / (warm + 1)))
    wrapped = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        wrapped = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    settings = {k_: v for k_, v in asdict(cfg).items() if k_ not in ("max_steps", "epochs", "save_every")}
    step = 0
    ckpt = out / "checkpoint" if out is not None else None
    if resume and ckpt is not None and (ckpt / "state.json").is_file():
        state = load_checkpoint(ckpt, model, opt, sched)
        if state.get("settings") != json.loads(json.dumps(settings)) or state.get("data") != key:
            raise TrainingError(f"{ckpt}: the run found there used other settings or data; pass another --out "
                                "or delete it to start over")
        step = int(state["step"])
        if rank == 0:
            _trim_metrics(out / "metrics.jsonl", step)

    def save(at: int) -> None:
        if ckpt is not None and rank == 0:
            save_checkpoint(ckpt, model, opt, sched, {"step": at, "settings": settings, "data": key})

    use_bf16 = cfg.bf16 and device.type == "cuda"
    local = B // world
    micro = local // cfg.grad_accum
    bar = tqdm(total=total, initial=step, desc=f"finetune {cfg.loss}", disable=not verbose or rank != 0)
    last: dict = {}
    while step < total:
        t_step = time.perf_counter()
        epoch, s = divmod(step, steps_per_epoch)
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + epoch)  # order depends on (seed, epoch) only
        perm = torch.randperm(N, generator=gen)
        idx_global = perm[s * B:(s + 1) * B]
        idx_local = idx_global[rank * local:(rank + 1) * local]
        opt.zero_grad(set_to_none=True)
        stats = torch.zeros(6, dtype=torch.float64)  # loss, margin, acc, kl, nll, count
        for m in range(cfg.grad_accum):
            idx = idx_local[m * micro:(m + 1) * micro]
            flat = _flat(idx, k)
            cw, cl = chosen.rows(flat).to(device), rejected.rows(flat).to(device)
            sync = m == cfg.grad_accum - 1 or world == 1
            ctx = wrapped.no_sync() if not sync else contextlib.nullcontext()
            with ctx, torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
                lw, ll, nw = policy_logprobs(wrapped, cw, cl, normalize=cfg.normalize)
                if ref_model is not None:
                    with torch.no_grad():
                        rw, rl, _ = policy_logprobs(ref_model, cw, cl, normalize=cfg.normalize)
                else:
                    rw, rl = ref_w[flat].to(device), ref_l[flat].to(device)
                a_w, a_l = (lw - rw).view(-1, k), (ll - rl).view(-1, k)
                per = pair_losses(cfg, a_w, a_l, label=label[idx].to(device), margin=margin[idx].to(device),
                                  logp_w=lw.view(-1, k), logp_l=ll.view(-1, k))
                nll = nll_loss(lw, nw).view(-1, k).mean(dim=1)
                if cfg.nll_weight:
                    per = per + cfg.nll_weight * nll
                loss = per.sum() / local
                if not torch.isfinite(loss):
                    save(step)
                    bar.close()
                    raise TrainingError(f"step {step}: the loss is {loss.item()} (non-finite); stopped. The last "
                                        f"good weights (before this step) are in {ckpt}. Lower --lr or --beta, "
                                        "or check the data for degenerate pairs")
                loss.backward()
            with torch.no_grad():
                rho = (a_w.mean(1) - a_l.mean(1)).detach().double()
                stats += torch.stack([per.detach().double().sum(), cfg.beta * rho.sum(), (rho > 0).double().sum(),
                                      0.5 * (a_w.detach().double().mean(1) + a_l.detach().double().mean(1)).sum(),
                                      nll.detach().double().sum(), torch.tensor(float(len(idx)), dtype=torch.float64)])
        if world > 1:
            import torch.distributed as dist

            dist.all_reduce(stats)
        gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm if cfg.max_grad_norm > 0 else math.inf)
        lr = sched.get_last_lr()[0]
        opt.step()
        sched.step()
        step += 1
        c = stats[5].item()
        last = {"step": step, "epoch": epoch, "loss": stats[0].item() / c, "reward_margin": stats[1].item() / c,
                "pair_accuracy": stats[2].item() / c, "kl": stats[3].item() / c, "nll_chosen": stats[4].item() / c,
                "grad_norm": float(gnorm), "lr": lr, "seconds": time.perf_counter() - t_step}
        if rank == 0 and out is not None:
            append_jsonl(out / "metrics.jsonl", [last])
        bar.update(1)
        bar.set_postfix(loss=f"{last['loss']:.4f}", acc=f"{last['pair_accuracy']:.2f}")
        if cfg.save_every and step % cfg.save_every == 0 and step < total:
            save(step)
    bar.close()
    save(step)
    if cfg.lora:
        model = model.merge_and_unload()
    if out is not None and rank == 0:
        save_model(out / "final", model, tokenizer)
    return {"steps": step, "last": last, "out": str(out) if out is not None else None}

