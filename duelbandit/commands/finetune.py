"""``duelbandit finetune``: DPO / IPO / GPO / SLiC / mDPO / mIPO on preference pairs (TRL-format JSONL, e.g. our
``duelbandit export --format trl``), for SmolLM2-135M (default), the tiny built-in LM or any local HF model.

    duelbandit finetune --pairs train.jsonl --model smollm2 --loss dpo --beta 0.1 --out runs/dpo
    torchrun --nproc_per_node 2 -m duelbandit.cli finetune ...      # DDP, same flags
    duelbandit finetune --average runs/a/final runs/b/final --out runs/avg   # checkpoint averaging

Rerunning the same command continues an interrupted run from ``OUT/checkpoint``. See docs/finetune.md.
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pairs", help="TRL-format preference JSONL (prompt, chosen, rejected [, strength, edited, y])")
    p.add_argument("--model", default="smollm2", help="smollm2 (default), tiny, or a local model directory")
    p.add_argument("--loss", default="dpo", help="dpo | ipo | mdpo | mipo | slic | gpo:NAME (NAME: logistic, "
                   "hinge, squared, exponential, truncated_quadratic, savage)")
    p.add_argument("--beta", type=float, default=0.1, help="KL scale of dpo/mdpo/gpo (default 0.1)")
    p.add_argument("--tau", type=float, default=None, help="ipo/mipo regularisation (default: --beta)")
    p.add_argument("--normalize", choices=("sum", "mean"), default="sum",
                   help="sequence log-prob: sum over tokens (DPO) or per-token mean (TRL's ipo)")
    p.add_argument("--nll-weight", type=float, default=0.0, help="weight of the chosen NLL term (Llama 3: 0.2)")
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=4, help="pairs per optimiser step (global, all ranks)")
    p.add_argument("--grad-accum", type=int, default=1, help="micro-batches per step")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--max-length", type=int, default=512, help="context length (prompt + response tokens)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-every", type=int, default=0, help="checkpoint every N steps (0: at the end only)")
    p.add_argument("--lora", action="store_true", help="train LoRA adapters (peft) instead of all weights")
    p.add_argument("--lora-r", type=int, default=8)
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--ref-model", action="store_true",
                   help="run a frozen reference model every step instead of precomputing its log-probs once")
    p.add_argument("--keep-special", action="store_true", help="score special/formatting tokens too")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--average", nargs="+", metavar="DIR", help="instead of training: average these saved models")
    p.add_argument("--out", required=True, help="run folder (metrics.jsonl, checkpoint/, final/)")
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from duelbandit.errors import ConfigError

    if args.average:
        from duelbandit.finetune.checkpoints import average_checkpoints

        out = average_checkpoints(args.average, args.out)
        print(f"averaged {len(args.average)} models into {out}")
        return 0
    if not args.pairs:
        raise ConfigError("--pairs: required (a TRL-format preference JSONL, e.g. from duelbandit export --format trl)")
    from duelbandit.finetune.models import load_model
    from duelbandit.finetune.pairs import read_pairs
    from duelbandit.finetune.trainer import TrainConfig, train

    cfg = TrainConfig(
        loss=args.loss, beta=args.beta, tau=args.tau, normalize=args.normalize, nll_weight=args.nll_weight,
        lr=args.lr, warmup_steps=args.warmup_steps, batch_size=args.batch_size, grad_accum=args.grad_accum,
        epochs=args.epochs, max_steps=args.max_steps, max_length=args.max_length, seed=args.seed,
        save_every=args.save_every, precompute_ref=not args.ref_model, mask_special=not args.keep_special,
        lora=args.lora, lora_r=args.lora_r, lora_alpha=2 * args.lora_r,
        gradient_checkpointing=args.gradient_checkpointing,
    )
    cfg.check()  # settings first: a typo in --loss should not wait for the data
    rows = read_pairs(args.pairs)
    model, tok = load_model(args.model, seed=args.seed, verbose=not args.quiet)
    result = train(model, tok, rows, cfg, args.out, model_name=str(args.model), device=args.device,
                   verbose=not args.quiet)
    last = result["last"]
    if last:
        print(f"{result['steps']} steps on {len(rows)} pairs: loss {last['loss']:.4f}, pair accuracy "
              f"{last['pair_accuracy']:.2f}, reward margin {last['reward_margin']:.3f}; model in {args.out}/final")
    return 0
