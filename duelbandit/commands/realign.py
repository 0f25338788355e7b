"""``duelbandit realign``: decoding-time realignment (DeRa) sweep of an aligned model against its reference.

    duelbandit realign --aligned DIR --reference smollm2 --lambdas 0,0.25,0.5,0.75,1,1.25,1.5 --prompts P --out OUT

samples one completion per prompt at every lambda with logits lambda h_aligned + (1 - lambda) h_ref,
scores them (``--scorer judge``: the bundled judge; ``none``: KL only), and writes ``OUT/sweep.json``,
``OUT/sweep.md``, ``OUT/reward_vs_kl.png`` and ``OUT/samples.jsonl``. Pick the lambda whose point you like:
serve the aligned model with that lambda, no retraining. See docs/realign.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from duelbandit.errors import OnlineError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--aligned", required=True, help="the aligned model: a directory (a finetune checkpoint) or 'tiny'")
    p.add_argument("--reference", default="smollm2", help="reference model: smollm2 (default), tiny, or a directory")
    p.add_argument("--lambdas", default="0:1.5:0.25",
                   help="comma list (0,0.5,1) or start:stop:step; each in [0, 5] (default 0:1.5:0.25)")
    p.add_argument("--prompts", required=True,
                   help="prompts: a .txt file (one per line), a JSONL/CSV pool or prompt file with a 'prompt' field, "
                        "or bundled[:N] (the bundled text pool)")
    p.add_argument("--scorer", default="judge", choices=("judge", "none"),
                   help="reward per completion: the bundled judge (its prompts only), or none (KL only)")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--quiet", action="store_true")


def read_prompts(spec: str) -> list[str]:
    """Prompts from a .txt file (one per non-empty line), a JSONL file with a 'prompt' field per line, or
    a pool (``bundled[:N]`` or a pool file: its prompts).

    Raises:
        OnlineError: a missing or empty file, or a line without a prompt (named by file:line).
    """
    from duelbandit.io.jsonl import read_jsonl

    if spec.startswith("bundled"):
        from duelbandit.io import open_pool

        return list(open_pool(spec).prompts)
    path = Path(spec)
    if not path.is_file():
        raise OnlineError(f"--prompts: {path} is not a file")
    if path.suffix == ".txt":
        out = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    else:
        out = []
        for line, row in read_jsonl(path, error=OnlineError):
            x = row.get("prompt") if isinstance(row, dict) else None
            if not isinstance(x, str) or not x.strip():
                raise OnlineError(f"{path}:{line}: expected a non-empty string field 'prompt', got {x!r}")
            out.append(x)
    if not out:
        raise OnlineError(f"--prompts: {path} holds no prompt (empty file)")
    return list(dict.fromkeys(out))  # a prompt file may repeat prompts (one line per response)


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from duelbandit.finetune.dera import parse_lambdas, plot_sweep, realign_sweep, sweep_table
    from duelbandit.finetune.models import load_model
    from duelbandit.finetune.sampling import check_same_vocabulary
    from duelbandit.io import dumps, write_json_atomic, write_text_atomic

    lambdas = parse_lambdas(args.lambdas)
    prompts = read_prompts(args.prompts)
    verbose = not args.quiet
    aligned, tok_a = load_model(args.aligned, device=args.device, verbose=verbose)
    reference, tok_r = load_model(args.reference, device=args.device, verbose=verbose)
    check_same_vocabulary(tok_a, tok_r, names=(f"--aligned {args.aligned}", f"--reference {args.reference}"))
    reward = None
    if args.scorer == "judge":
        from duelbandit.finetune.preference import JudgePreference

        reward = JudgePreference().reward
    rows, texts = realign_sweep(aligned, reference, tok_a, prompts, lambdas, reward=reward,
                                max_new_tokens=args.max_new_tokens, seed=args.seed,
                                batch_size=args.batch_size, verbose=verbose)
    out = Path(args.out)
    write_json_atomic(out / "sweep.json", {"aligned": str(args.aligned), "reference": str(args.reference),
                                           "prompts": args.prompts, "seed": args.seed, "rows": rows})
    write_text_atomic(out / "samples.jsonl", "".join(
        dumps({"lambda": lam, "prompt": x, "completion": y}) + "\n"
        for lam, ys in texts.items() for x, y in zip(prompts, ys)))
    plot_sweep(rows, out / "reward_vs_kl.png")
    write_text_atomic(out / "sweep.md", sweep_table(rows))
    if verbose:
        print(sweep_table(rows))
        print(f"wrote {out}/sweep.json, sweep.md, reward_vs_kl.png, samples.jsonl")
    return 0
