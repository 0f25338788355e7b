"""``duelbandit pipeline``: pool -> embed -> select + label -> fit BT -> DPO/IPO or online IPO -> DeRa sweep ->
report, in one command. Rerun the same command after a crash or a kill: finished stages are skipped, an
interrupted one resumes. Exit code 3: a file annotator waits for human labels (tasks in the collect stage's
pending.jsonl).

    duelbandit pipeline --pool bundled:40 --budget 64 --selector odpo --annotator judge --model tiny --out run/
"""

from __future__ import annotations

import argparse
import os

from duelbandit.pipeline.run import METHODS

EXIT_PENDING = 3


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pool", required=True, help="pool file (.jsonl/.csv) or bundled[:N]")
    p.add_argument("--budget", type=int, required=True, help="labels T")
    p.add_argument("--selector", default="robust",
                   help="any registered selector (default robust; odpo is the paper's design)")
    p.add_argument("--annotator", default="judge", help="judge (default), simulated-bt, or file:LABELS")
    p.add_argument("--model", default="tiny", help="tiny (default: CPU-minutes), smollm2, or a model directory")
    p.add_argument("--method", default="dpo", choices=METHODS, help="offline dpo / ipo, or online_ipo vs the fitted BT")
    p.add_argument("--embedder", default="hashing",
                   help="hashing (default), minilm, or a sentence-encoder directory")
    p.add_argument("--dim", type=int, default=32, help="feature dimension (PCA for encoders; 0 = no PCA)")
    p.add_argument("--batch-size", type=int, default=None, help="labels per collection round")
    p.add_argument("--beta", type=float, default=0.1)
    p.add_argument("--tau", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-batch", type=int, default=8, help="pairs (offline) or prompts (online) per step")
    p.add_argument("--online-steps", type=int, default=20)
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--lambdas", default="0,0.5,1,1.5", help="DeRa lambdas (list or start:stop:step)")
    p.add_argument("--eval-prompts", type=int, default=16)
    p.add_argument("--judge-temperature", type=float, default=0.1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output folder (rerun with the same one to resume)")
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from duelbandit.finetune.dera import parse_lambdas
    from duelbandit.pipeline import PipelineConfig, PipelinePaused, run_pipeline

    cfg = PipelineConfig(pool=args.pool, out=args.out, budget=args.budget, selector=args.selector,
                         annotator=args.annotator, model=args.model, method=args.method, embedder=args.embedder,
                         dim=args.dim, seed=args.seed, batch_size=args.batch_size,
                         judge_temperature=args.judge_temperature, beta=args.beta, tau=args.tau, lr=args.lr,
                         epochs=args.epochs, batch=args.train_batch, online_steps=args.online_steps,
                         max_new_tokens=args.max_new_tokens, lambdas=tuple(parse_lambdas(args.lambdas)),
                         eval_prompts=args.eval_prompts, device=args.device)
    try:
        res = run_pipeline(cfg, verbose=not args.quiet)
    except PipelinePaused as exc:
        print(f"paused: {exc}")
        return EXIT_PENDING
    print(f"report: {res['report']}" + (f" (win rate vs reference {res['win_rate']:.3f})" if res.get("win_rate")
                                        is not None else ""))
    return 0
