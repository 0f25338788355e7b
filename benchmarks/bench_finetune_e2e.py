"""End to end: pairs chosen by odpo vs uniform on the bundled text pool (judge labels, equal budget) -> DPO on
SmolLM2-135M-Instruct -> judge reward of greedy generations on held-out prompts, before and after.

Also reports the DPO implicit reward's pair accuracy on ALL pairs of the held-out prompts (does
log pi/pi_ref rank responses like the judge?), a cheaper and more sensitive signal than generations.

Writes benchmarks/results/finetune_e2e.md and finetune_e2e.png. Sized for ~15 min on 2 loaded CPU cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def _subpool(pool, idx, name):
    from duelbandit.pool import Pool

    return Pool.from_lists([pool.prompts[n] for n in idx], [list(pool.responses_of(n)) for n in idx],
                           prompt_ids=[pool.prompt_ids[n] for n in idx],
                           skills=[pool.skills[n] for n in idx], name=name)


def _implicit_accuracy(model, tok, pool, rewards, ref_logp, *, batch_size):
    """Fraction of held-out pairs (i, j) with r_i != r_j where sign(a_i - a_j) = sign(r_i - r_j)."""
    from duelbandit.finetune.logprobs import encode, precompute_logprobs

    prompts = [pool.prompts[n] for n in range(pool.n_prompts) for _ in pool.responses_of(n)]
    enc = encode(tok, prompts, list(pool.responses), max_length=256)
    logp = precompute_logprobs(model, enc, batch_size=batch_size).numpy()
    if ref_logp is None:
        return logp, None
    a = logp - ref_logp
    cand = pool.pairs()
    gap_r = rewards[cand.i] - rewards[cand.j]
    keep = gap_r != 0
    return logp, float(np.mean(np.sign(a[cand.i] - a[cand.j])[keep] == np.sign(gap_r[keep])))


def _judge_generations(model, tok, pool, *, max_new_tokens):
    from duelbandit.data.judge import judge_score
    from duelbandit.finetune.generation import generate_texts

    texts = generate_texts(model, tok, list(pool.prompts), max_new_tokens=max_new_tokens, batch_size=8)
    scores = [judge_score(p, t, skill=s) for p, t, s in zip(pool.prompts, texts, pool.skills)]
    return texts, float(np.mean([s.reward for s in scores])), float(np.mean([s.correct for s in scores]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=64, help="labels per selector (default 64)")
    ap.add_argument("--held-out", type=int, default=40, help="held-out prompts (default 40)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--beta", type=float, default=0.1)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    import torch

    torch.manual_seed(args.seed)  # global seeding only here, in main()
    from duelbandit.annotate import JudgeAnnotator
    from duelbandit.data.textpool import make_text_pool, text_pool_rewards
    from duelbandit.embed import HashingEmbedder
    from duelbandit.finetune.models import load_model
    from duelbandit.finetune.pairs import parse_row
    from duelbandit.finetune.trainer import TrainConfig, train
    from duelbandit.io.export import trl_rows
    from duelbandit.select import ODPOSelector, SelectionState, UniformSelector

    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    pool = make_text_pool(300, seed=args.seed)
    perm = rng.permutation(pool.n_prompts)
    test = _subpool(pool, np.sort(perm[: args.held_out]), "held-out")
    trainp = _subpool(pool, np.sort(perm[args.held_out:]), "train")
    r_train, r_test = text_pool_rewards(trainp), text_pool_rewards(test)
    state = SelectionState(pool=trainp, features=HashingEmbedder(dim=32, seed=args.seed).embed(trainp))

    model, tok = load_model("smollm2", verbose=False)
    base_state = {k: v.clone() for k, v in model.state_dict().items()}
    ref_logp, _ = _implicit_accuracy(model, tok, test, r_test, None, batch_size=16)
    base_texts, base_reward, base_correct = _judge_generations(model, tok, test, max_new_tokens=args.max_new_tokens)
    results = {"base": {"judge_reward": base_reward, "correct": base_correct, "pair_accuracy": 0.5}}
    print(f"base: judge reward {base_reward:.3f}, correct {base_correct:.2f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    curves = {}
    samples = {"base": base_texts[:5]}
    for sel in (ODPOSelector(), UniformSelector()):
        batch = sel.select(state, args.budget, args.seed)
        labels = JudgeAnnotator(r_train, trainp, rng=args.seed, temperature=0.1).label(batch)
        log = [{"y": float(y), "pair_id": pid, "source": "judge", "seed": args.seed}
               for y, pid in zip(labels.y, trainp.pairs().pair_ids(labels.pairs))]
        rows = [r for k, x in enumerate(trl_rows(trainp, log, labels.pairs)) for r in parse_row(x, f"{sel.name}:{k}")]
        model.load_state_dict(base_state)
        with tempfile.TemporaryDirectory() as d:
            cfg = TrainConfig(loss="dpo", beta=args.beta, lr=args.lr, batch_size=4, epochs=args.epochs,
                              warmup_steps=2, max_length=256, seed=args.seed)
            train(model, tok, rows, cfg, d, model_name="smollm2", verbose=True)
            curves[sel.name] = [json.loads(x) for x in (Path(d) / "metrics.jsonl").read_text().splitlines()]
        _, acc = _implicit_accuracy(model, tok, test, r_test, ref_logp, batch_size=16)
        texts, rew, cor = _judge_generations(model, tok, test, max_new_tokens=args.max_new_tokens)
        samples[sel.name] = texts[:5]
        results[sel.name] = {"judge_reward": rew, "correct": cor, "pair_accuracy": acc, "pairs": len(rows),
                             "train_loss_last": curves[sel.name][-1]["loss"],
                             "train_acc_last": curves[sel.name][-1]["pair_accuracy"]}
        print(f"{sel.name}: {len(rows)} pairs, judge reward {rew:.3f}, correct {cor:.2f}, held-out implicit pair "
              f"accuracy {acc:.3f}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    _write(args, results, curves, samples, test, time.perf_counter() - t0)


def _write(args, results, curves, samples, test, seconds):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
    for name, c in curves.items():
        ax[0].plot([r["step"] for r in c], [r["loss"] for r in c], label=name)
        ax[1].plot([r["step"] for r in c], [r["pair_accuracy"] for r in c], label=name)
    ax[0].set(xlabel="step", ylabel="DPO loss (train batch)")
    ax[1].set(xlabel="step", ylabel="pair accuracy (train batch)")
    ax[0].legend()
    fig.tight_layout()
    fig.savefig(out / "finetune_e2e.png", dpi=110)
    lines = [
        "# End to end: odpo vs uniform pairs -> DPO on SmolLM2-135M-Instruct -> judge on held-out prompts",
        "",
        (f"Measured on a shared, loaded 2-core CPU machine ({platform.processor() or platform.machine()}, "
        f"load {os.getloadavg()[0]:.1f}, torch threads {__import__('torch').get_num_threads()}); total {seconds / 60:.1f} min. "
        f"Command: `python benchmarks/bench_finetune_e2e.py --budget {args.budget} --epochs {args.epochs} "
        f"--beta {args.beta} --lr {args.lr}`."),
        "",
        (f"Bundled text pool (300 prompts, seed {args.seed}); {len(test.prompts)} prompts held out; each selector "
        f"picks {args.budget} pairs of the other prompts (hashing features d=32), labelled by the judge "
        "(BT, temperature 0.1); DPO (beta "
        f"{args.beta}, lr {args.lr}, batch 4, {args.epochs} epochs, reference log-probs precomputed) from the "
        "same SmolLM2 start. Greedy generations (max "
        f"{args.max_new_tokens} new tokens) on the held-out prompts are scored by the judge. 'implicit pair "
        "accuracy': on every pair of held-out responses with different judge rewards, how often "
        "sign(a_i - a_j) = sign(r_i - r_j), a = log pi/pi_ref (0.5 = chance; base model: undefined, shown 0.5)."),
        "",
        "| model | train pairs | judge reward (held-out, greedy) | correct | implicit pair accuracy | last train loss |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        lines.append(f"| {name} | {r.get('pairs', '-')} | {r['judge_reward']:.3f} | {r['correct']:.2f} | "
                     f"{r['pair_accuracy']:.3f} | {r.get('train_loss_last', float('nan')):.3f} |")
    lines += ["", "First held-out generations:", ""]
    for k in range(min(3, len(test.prompts))):
        lines.append(f"- prompt: `{test.prompts[k]}`")
        for name, t in samples.items():
            lines.append(f"  - {name}: `{t[k][:120]}`")
    lines += ["", "![curves](finetune_e2e.png)", ""]
    (out / "finetune_e2e.md").write_text("\n".join(lines))
    (out / "finetune_e2e.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
