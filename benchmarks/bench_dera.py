"""DeRa on SmolLM2-135M: what does one lambda sweep show after a short DPO run, and what does DeRa decoding
cost against plain decoding?

1. A short DPO run on CPU (duelbandit.finetune.trainer): pairs of the bundled text pool, chosen = the
   response the judge scores higher.
2. The DeRa sweep (duelbandit.finetune.dera.realign_sweep) over lambdas on held-out bundled prompts: judge
   reward (mean ± se), win rate against the reference's completions (judge, temperature 0.1), exact KL to the
   reference per token.
3. Decoding cost, same prompts and number of new tokens (EOS disabled so every row decodes the same count):
   plain ancestral sampling from the aligned model (our KV-cached sampler with one model, and transformers'
   ``generate(do_sample=True)`` as the library baseline) vs DeRa (two models, two forward passes per token).
   Goal: DeRa tokens/s >= 0.45x plain.

Usage:
    python benchmarks/bench_dera.py            # ~5-10 min on 2 shared cores
    python benchmarks/bench_dera.py --quick    # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2")
    ap.add_argument("--pairs", type=int, default=16)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-6)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--lambdas", default="0,0.5,1,1.5,2")
    ap.add_argument("--eval-prompts", type=int, default=12)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--speed-batch", type=int, default=8)
    ap.add_argument("--speed-tokens", type=int, default=24)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--speed-only", action="store_true",
                    help="only the decoding-cost section (two copies of the model), to bench_dera_speed.md")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    if args.quick:
        args.pairs, args.steps, args.eval_prompts, args.max_new_tokens, args.repeats = 8, 2, 4, 8, 1
        args.speed_tokens = 8
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    from duelbandit.data.judge import judge_reward
    from duelbandit.data.textpool import load_bundled_pool
    from duelbandit.finetune.dera import parse_lambdas, plot_sweep, realign_sweep, sweep_table
    from duelbandit.finetune.models import load_model
    from duelbandit.finetune.pairs import PreferenceRow
    from duelbandit.finetune.preference import JudgePreference
    from duelbandit.finetune.sampling import encode_prompts, sample_mixture
    from duelbandit.finetune.trainer import TrainConfig, train

    load0 = os.getloadavg()
    t_start = time.time()
    pool = load_bundled_pool()
    n_eval = args.eval_prompts
    train_prompts = range(n_eval, pool.n_prompts)
    rows = []
    for n in train_prompts:
        rs = pool.responses_of(n)
        sc = [judge_reward(pool.prompts[n], r) for r in rs]
        hi, lo = int(np.argmax(sc)), int(np.argmin(sc))
        if sc[hi] > sc[lo]:
            rows.append(PreferenceRow(prompt=pool.prompts[n], chosen=(rs[hi],), rejected=(rs[lo],)))
        if len(rows) == args.pairs:
            break
    ref, tok = load_model(args.model, verbose=False)
    aligned, _ = load_model(args.model, verbose=False)
    t0 = time.time()
    bs = max(1, len(rows) // args.steps)
    if args.speed_only:  # decoding cost does not depend on the weights' values: skip training and the sweep
        args.steps = 0
    summary = {"steps": 0} if args.speed_only else train(aligned, tok, rows, TrainConfig(loss="dpo", beta=args.beta, lr=args.lr, batch_size=bs,
                                                    max_steps=args.steps, seed=0), None, device="cpu", verbose=False)
    train_s = time.time() - t0
    aligned.eval()
    judge = JudgePreference(temperature=0.1)
    prompts = list(pool.prompts[:n_eval])
    t0 = time.time()
    sweep, _ = ([], None) if args.speed_only else realign_sweep(
        aligned, ref, tok, prompts, parse_lambdas(args.lambdas), reward=judge.reward,
                             prefer=judge.prob, max_new_tokens=args.max_new_tokens, seed=0, batch_size=8, verbose=False)
    sweep_s = time.time() - t0

    # decoding cost: equal work (EOS disabled), medians over repeats
    ids, att = encode_prompts(tok, prompts[: args.speed_batch] * max(1, args.speed_batch // max(1, len(prompts))))
    ids, att = ids[: args.speed_batch], att[: args.speed_batch]
    n_tok = ids.shape[0] * args.speed_tokens

    def timed_interleaved(fns: dict) -> dict:
        # one round runs every decoder once, so load drift on a shared machine hits all of them alike
        ts: dict = {k: [] for k in fns}
        for r in range(args.repeats):
            for k, fn in fns.items():
                t = time.perf_counter()
                fn(r)
                ts[k].append(time.perf_counter() - t)
        return {k: n_tok / statistics.median(v) for k, v in ts.items()}

    pad = tok.pad_token_id

    def plain(r):
        sample_mixture(aligned, None, ids, att, max_new_tokens=args.speed_tokens,
                       generator=torch.Generator().manual_seed(r), pad_token_id=pad)

    def dera(r):
        sample_mixture(aligned, ref, ids, att, weight=0.5, max_new_tokens=args.speed_tokens,
                       generator=torch.Generator().manual_seed(r), pad_token_id=pad)

    def hf(r):
        torch.manual_seed(r)
        with torch.inference_mode():
            aligned.generate(input_ids=ids, attention_mask=att, do_sample=True, max_new_tokens=args.speed_tokens,
                             min_new_tokens=args.speed_tokens, pad_token_id=pad, top_k=0, top_p=1.0)

    for fn in (plain, hf, dera):
        fn(0)  # warm-up
    speed = timed_interleaved({"plain (ours, 1 model)": plain, "HF generate (1 model)": hf,
                               "DeRa (ours, 2 models)": dera})
    ratio = speed["DeRa (ours, 2 models)"] / speed["plain (ours, 1 model)"]
    ratio_hf = speed["DeRa (ours, 2 models)"] / speed["HF generate (1 model)"]
    total = time.time() - t_start
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.speed_only:
        plot_sweep(sweep, out / "bench_dera.png", title=f"DeRa on {args.model} after {summary['steps']} DPO steps")
    lines = ["# DeRa on SmolLM2-135M (bench_dera.py)", "",
             (f"Model {args.model} (Q4_1 GGUF dequantised to fp32); DPO: {len(rows)} judge-labelled pairs of the bundled "
             f"pool (best vs worst response of a prompt), {summary['steps']} steps, batch {bs}, lr {args.lr}, "
             f"beta {args.beta} ({train_s:.0f} s). Sweep: {n_eval} held-out bundled prompts, one completion each, "
             f"{args.max_new_tokens} new tokens max, same seed per lambda ({sweep_s:.0f} s)."), "",
             "## Reward and KL per lambda", "", sweep_table(sweep),
             "| lambda | win rate vs reference (judge) |", "|---|---|"]
    lines += [f"| {r['lambda']:g} | {r.get('win_rate', float('nan')):.3f} |" for r in sweep]
    lines += ["", "## Decoding cost", "",
              (f"{ids.shape[0]} prompts x {args.speed_tokens} new tokens (EOS disabled), median of {args.repeats} interleaved rounds; "
              f"torch threads {args.threads}."), "", "| decoder | tokens/s |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in speed.items()]
    lines += ["", (f"DeRa / plain (ours): **{ratio:.2f}x** (goal >= 0.45x: {'met' if ratio >= 0.45 else 'NOT met'}); "
              f"DeRa / HF generate: {ratio_hf:.2f}x."), "", "## Machine", "",
              (f"{platform.platform()}, {os.cpu_count()} cores, python {platform.python_version()}, torch "
              f"{torch.__version__}, {args.threads} torch threads; load average at start {load0[0]:.1f}, at end "
              f"{os.getloadavg()[0]:.1f} (shared, loaded 2-core machine: timings are noisy; ratios are from the same "
              f"run); total {total:.0f} s."), ""]
    if args.speed_only:
        lines = ["# DeRa decoding cost on SmolLM2-135M (bench_dera.py --speed-only)", ""] + \
            lines[lines.index("## Decoding cost"):]
    name = "bench_dera_speed" if args.speed_only else "bench_dera"
    (out / f"{name}.md").write_text("\n".join(lines))
    (out / f"{name}.json").write_text(json.dumps({"sweep": sweep, "speed": speed, "ratio": ratio,
                                                     "train": summary}, indent=1, default=str))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
