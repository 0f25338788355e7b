"""``duelbandit generate``: responses from a model (a fine-tune's ``OUT/final``, smollm2, tiny), greedy by default.

    duelbandit generate --model runs/dpo/final --prompt "What is 12 + 30?"
    duelbandit generate --model smollm2 --prompts prompts.jsonl --out answers.jsonl --temperature 0.7
"""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="a saved model directory (e.g. RUN/final), smollm2 or tiny")
    p.add_argument("--prompt", action="append", default=[], help="a prompt (repeatable)")
    p.add_argument("--prompts", help="JSONL with a 'prompt' per line (e.g. a TRL pairs file)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None)
    p.add_argument("--out", help="write {prompt, response} JSONL here instead of printing")
    p.add_argument("--quiet", action="store_true")


def run(args: argparse.Namespace) -> int:
    from duelbandit.errors import ConfigError
    from duelbandit.io import dumps, read_jsonl, write_text_atomic

    prompts = list(args.prompt)
    if args.prompts:
        for line, obj in read_jsonl(args.prompts, error=ConfigError):
            if not isinstance(obj.get("prompt"), (str, list)) or not obj["prompt"]:
                raise ConfigError(f"{args.prompts}:{line}: field 'prompt': expected non-empty text or messages")
            prompts.append(obj["prompt"])
    if not prompts:
        raise ConfigError("no prompts: give --prompt TEXT or --prompts FILE")
    if args.temperature < 0:
        raise ConfigError(f"--temperature: expected a number >= 0, got {args.temperature}")
    from duelbandit.finetune.generation import generate_texts
    from duelbandit.finetune.models import load_model

    model, tok = load_model(args.model, seed=args.seed, device=args.device, verbose=not args.quiet)
    texts = generate_texts(model, tok, prompts, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                           top_p=args.top_p, seed=args.seed, verbose=not args.quiet)
    rows = [{"prompt": p, "response": t} for p, t in zip(prompts, texts)]
    if args.out:
        write_text_atomic(args.out, "".join(dumps(r) + "\n" for r in rows))
        print(f"wrote {len(rows)} responses to {args.out}")
    else:
        for r in rows:
            print(r["response"])
    return 0
