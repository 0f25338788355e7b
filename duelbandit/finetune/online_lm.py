"""Online preference optimisation of causal LMs: online IPO, IPO-MD and Nash-MD as trainer modes.

Every step takes ``prompts_per_step`` prompts and, per prompt, two completions:

- ``online_ipo`` (Calandriello et al. 2024): y, y' ~ stop-gradient(pi_theta); label by the preference model;
  loss (a(y_w) - a(y_l) - 1/(2 tau))^2 with a = log pi_theta - log pi_ref (sequence log-probs);
- ``ipo_md``: y, y' ~ pi_mix ∝ pi_theta^(1 - beta) pi_ref^beta token by token (the geometric mixture of the
  logits, :func:`duelbandit.finetune.sampling.sample_mixture`); same loss. beta = 0 is online IPO;
- ``nash_md`` (Munos et al. 2023, §7, the policy-gradient form): y ~ pi_theta, y' ~ pi_theta^mu (mixture with
  weight ``mixture`` on the reference); loss -[(P(y > y') - 1/2) - tau sg(a(y))] log pi_theta(y), whose
  gradient is the REINFORCE estimate of grad E_y [P(y > pi^mu) - tau KL(pi || pi_ref)].

Completions are scored as sampled (their token ids, EOS included; special tokens masked like the offline
trainer), never re-tokenised. Labels go to an append-only log; a killed run resumes from its checkpoint with
the same draws (every step's generators are seeded from (seed, step)).
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from duelbandit.errors import OnlineError
from duelbandit.finetune.preference import OnlineLabelLog, PreferenceModel

MODES = ("online_ipo", "ipo_md", "nash_md")


@dataclass(frozen=True)
class OnlineConfig:
    """Settings of an online run (recorded in the checkpoint; a resume must use the same ones but ``steps``).

    ``tau``: IPO's / Nash-MD's regularisation; ``beta``: IPO-MD's reference weight in the sampling mixture;
    ``mixture``: Nash-MD's reference weight eta*tau in pi^mu."""

    mode: str = "online_ipo"
    tau: float = 0.1
    beta: float = 0.0
    mixture: float = 0.125
    lr: float = 1e-5
    steps: int = 100
    prompts_per_step: int = 4
    max_new_tokens: int = 32
    temperature: float = 1.0
    max_grad_norm: float = 1.0
    mask_special: bool = True
    seed: int = 0
    save_every: int = 0

    def check(self) -> None:
        if self.mode not in MODES:
            raise OnlineError(f"mode: expected one of {MODES}, got {self.mode!r}")
        if not (self.tau > 0 and self.lr > 0 and self.temperature > 0):
            raise OnlineError(f"tau, lr, temperature: expected positive numbers, got {self.tau!r}, {self.lr!r}, "
                              f"{self.temperature!r}")
        for name in ("beta", "mixture"):
            if not 0 <= getattr(self, name) <= 1:
                raise OnlineError(f"{name}: expected a value in [0, 1], got {getattr(self, name)!r}")
        if self.steps < 0 or self.prompts_per_step < 1 or self.max_new_tokens < 1:
            raise OnlineError("steps >= 0, prompts_per_step >= 1 and max_new_tokens >= 1 are required")


def _scored_batch(prompt_ids: list[list[int]], comp: list[list[int]], pad: int, specials: set[int]) -> Any:
    """Right-padded Encoded rows prompt + completion; only completion tokens (non-special) are scored."""
    import torch

    from duelbandit.finetune.logprobs import Encoded

    T = max(len(p) + len(c) for p, c in zip(prompt_ids, comp))
    ids = torch.full((len(comp), T), pad, dtype=torch.long)
    att = torch.zeros((len(comp), T), dtype=torch.long)
    lm = torch.zeros((len(comp), T), dtype=torch.bool)
    for n, (p, c) in enumerate(zip(prompt_ids, comp)):
        ids[n, :len(p) + len(c)] = torch.tensor(p + c, dtype=torch.long)
        att[n, :len(p) + len(c)] = 1
        lm[n, len(p):len(p) + len(c)] = torch.tensor([t not in specials for t in c], dtype=torch.bool)
    return Encoded(ids, att, lm)


def train_online(
    model: Any, tokenizer: Any, prompts: list[str], preference: PreferenceModel, cfg: OnlineConfig,
    out: str | os.PathLike | None, *, reference: Any = None, device: Any = None, resume: bool = True,
    verbose: bool = True,
) -> dict:
    """Online IPO / IPO-MD / Nash-MD on ``prompts`` against ``preference`` (see the module docstring).

    ``reference`` defaults to a frozen copy of ``model`` as given. Writes under ``out``: ``labels.jsonl``
    (append-only), ``metrics.jsonl`` (loss, mean P(y > y'), KL estimate, grad norm), ``checkpoint/`` and
    ``final/`` (a ``save_pretrained`` model). Returns a summary dict.
    """
    import torch
    from tqdm.auto import tqdm

    from duelbandit.finetune.checkpoints import load_checkpoint, save_checkpoint, save_model
    from duelbandit.finetune.logprobs import format_prompt, sequence_logprobs, special_ids
    from duelbandit.finetune.losses import ipo_loss
    from duelbandit.finetune.sampling import encode_prompts, sample_mixture
    from duelbandit.io import append_jsonl

    cfg.check()
    if not prompts:
        raise OnlineError("prompts: expected at least one prompt, got none")
    device = torch.device(device or "cpu")
    model.to(device)
    ref = (reference if reference is not None else copy.deepcopy(model)).to(device).eval().requires_grad_(False)
    out = Path(out) if out is not None else None
    log = OnlineLabelLog(out / "labels.jsonl") if out is not None else None
    pad = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0)
    specials = special_ids(tokenizer) if cfg.mask_special else set()
    rendered = [format_prompt(tokenizer, p) for p in prompts]
    p_ids = [tokenizer(t, add_special_tokens=t is p)["input_ids"] for t, p in zip(rendered, prompts)]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("steps", "save_every")}
    ckpt = out / "checkpoint" if out is not None else None
    step = 0
    if resume and ckpt is not None and (ckpt / "state.json").is_file():
        state = load_checkpoint(ckpt, model, opt, sched)
        if state.get("settings") != settings:
            raise OnlineError(f"{ckpt}: the run found there used other settings; pass another --out")
        step = int(state["step"])
    logged = log.rows() if log is not None else []
    n_logged = len(logged)
    by_step: dict[int, list[dict]] = {}
    for r in logged:  # labels drawn before a kill: reused, never drawn (or asked) twice
        by_step.setdefault(int(r["step"]), []).append(r)
    B = cfg.prompts_per_step
    bar = tqdm(total=cfg.steps, initial=step, desc=cfg.mode, disable=not verbose)
    last: dict = {}
    while step < cfg.steps:
        gen = torch.Generator(device=device).manual_seed(cfg.seed * 1_000_003 + step)
        nrng = np.random.default_rng([cfg.seed, step])
        pick = nrng.choice(len(prompts), size=B, replace=len(prompts) < B)
        ids, att = encode_prompts(tokenizer, [prompts[i] for i in pick] * 2, device=device)
        model.eval()
        samp = {"max_new_tokens": cfg.max_new_tokens, "generator": gen, "temperature": cfg.temperature,
                "eos_token_id": tokenizer.eos_token_id, "pad_token_id": pad}
        if cfg.mode == "online_ipo":
            s = sample_mixture(model, None, ids, att, **samp)
            toks, mask = s.tokens, s.mask
        elif cfg.mode == "ipo_md":
            s = sample_mixture(model, ref, ids, att, weight=1.0 - cfg.beta, **samp)
            toks, mask = s.tokens, s.mask
        else:  # y ~ pi_theta (first half), y' ~ pi^mu (second half), one stream each
            s1 = sample_mixture(model, None, ids[:B], att[:B], **samp)
            s2 = sample_mixture(model, ref, ids[B:], att[B:], weight=1.0 - cfg.mixture, **samp)
            T = max(s1.tokens.shape[1], s2.tokens.shape[1])
            toks = torch.cat([torch.nn.functional.pad(s1.tokens, (0, T - s1.tokens.shape[1]), value=pad),
                              torch.nn.functional.pad(s2.tokens, (0, T - s2.tokens.shape[1]), value=pad)])
            mask = torch.cat([torch.nn.functional.pad(s1.mask, (0, T - s1.mask.shape[1])),
                              torch.nn.functional.pad(s2.mask, (0, T - s2.mask.shape[1]))])
        comp = [[t for t, v in zip(r, m) if v] for r, m in zip(toks.tolist(), mask.tolist())]
        texts = [tokenizer.decode(c, skip_special_tokens=True) for c in comp]
        xs = [prompts[i] for i in pick]
        a, b = texts[:B], texts[B:]
        # labels: those logged for this step before a kill are reused (never asked twice); the rest are drawn
        # from the same per-step stream, so a resumed run labels exactly as an uninterrupted one
        old = by_step.get(step, [])
        k = len(old)
        if [(r["prompt"], r["a"], r["b"]) for r in old] != list(zip(xs, a, b))[:k]:
            raise OnlineError(f"{log.path}: the labels logged for step {step} are for other completions than "
                              "this resumed run draws (another model or settings?)")
        y = np.empty(B)
        y[:k] = [r["p"] if cfg.mode == "nash_md" else r["y"] for r in old]
        u = nrng.random(B)  # one uniform per label, drawn whether or not the label was logged already
        if k < B:
            p = preference.prob(xs[k:], a[k:], b[k:])
            y[k:] = p if cfg.mode == "nash_md" else (u[k:] < p).astype(np.float64)
            if log is not None:
                log.append([{"index": n_logged + j, "step": step, "prompt": x, "a": ya, "b": yb, "p": float(pj),
                             "y": None if cfg.mode == "nash_md" else float(yj), "source": preference.name}
                            for j, (x, ya, yb, pj, yj) in enumerate(zip(xs[k:], a[k:], b[k:], p, y[k:]))])
            n_logged += B - k
        batch = _scored_batch([p_ids[i] for i in pick] * 2, comp, pad, specials).to(device)
        with torch.no_grad():
            ref_lp, _ = sequence_logprobs(ref, batch)
        model.train()
        lp, _ = sequence_logprobs(model, batch)
        adv = lp - ref_lp  # a(y) for every completion
        yt = torch.as_tensor(y, dtype=adv.dtype, device=device)
        if cfg.mode == "nash_md":
            score = (yt - 0.5) - cfg.tau * adv[:B].detach()
            per = -score * lp[:B]
        else:
            rho = torch.where(yt > 0.5, adv[:B] - adv[B:], adv[B:] - adv[:B])
            per = ipo_loss(rho, tau=cfg.tau)
        loss = per.mean()
        if not torch.isfinite(loss):
            raise OnlineError(f"step {step}: non-finite loss {loss.item()}; lower lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        opt.step()
        sched.step()
        step += 1
        last = {"step": step, "loss": loss.item(), "p_mean": float(np.mean(y)), "kl": adv[:B].mean().item(),
                "grad_norm": float(gnorm), "mean_tokens": float(mask.sum(1).double().mean())}
        if out is not None:
            append_jsonl(out / "metrics.jsonl", [last])
            if cfg.save_every and step % cfg.save_every == 0:
                save_checkpoint(ckpt, model, opt, sched, {"step": step, "settings": settings})
        bar.update(1)
    bar.close()
    model.eval()
    if out is not None:
        save_checkpoint(ckpt, model, opt, sched, {"step": step, "settings": settings})
        save_model(out / "final", model, tokenizer)
    return {"steps": step, "last": last, "out": str(out) if out is not None else None}
