"""Decoding-time realignment (DeRa, Liu et al. 2024): pick the KL regularisation of an aligned model at
decoding time, without retraining.

Sequence level, the optimum at regularisation beta / lambda is

    pi*_{beta/lambda}(y) ∝ pi_ref(y)^(1 - lambda) pi*_beta(y)^lambda                         (DeRa, eq. 8)

and DeRa approximates it token by token: logits h_lambda = lambda h_aligned + (1 - lambda) h_ref
(:func:`duelbandit.finetune.mixture.geometric_mixture`). lambda = 0 is the reference, 1 the aligned model,
lambda > 1 extrapolates (less regularisation). For one token the identity is exact; for sequences the
per-step normalisers differ (:func:`tabular_dera` measures by how much).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from duelbandit.errors import OnlineError
from duelbandit.finetune.mixture import geometric_mixture

LAMBDA_MAX = 5.0  # beyond this the extrapolated policy is essentially greedy on the aligned log-ratio


def check_lambdas(lambdas: Sequence[float]) -> list[float]:
    """Validate lambdas: at least one, each finite and in [0, LAMBDA_MAX].

    Raises:
        OnlineError: naming the offending position and value.
    """
    out = []
    if len(lambdas) == 0:
        raise OnlineError("lambdas: expected at least one value in [0, 5], got none")
    for k, v in enumerate(lambdas):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not np.isfinite(v) or not 0 <= v <= LAMBDA_MAX:
            raise OnlineError(
                f"lambdas[{k}] = {v!r}: expected a number in [0, {LAMBDA_MAX:g}] (0 = reference, 1 = aligned, "
                "> 1 extrapolates)")
        out.append(float(v))
    return out


def parse_lambdas(text: str) -> list[float]:
    """``"0,0.25,0.5"`` (a list) or ``"0:1.5:0.25"`` (start:stop:step, stop included) -> checked floats."""
    try:
        if ":" in text:
            a, b, s = (float(t) for t in text.split(":"))
            if not s > 0:
                raise ValueError
            vals = list(np.round(np.arange(a, b + s / 2, s), 10))
        else:
            vals = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise OnlineError(f"--lambdas: expected a comma list '0,0.5,1' or a range 'start:stop:step', got {text!r}") from None
    return check_lambdas(vals)


def tabular_dera(
    ref1: np.ndarray, ref2: np.ndarray, r: np.ndarray, *, beta: float, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """Two-token sequences (y1, y2) over V tokens: DeRa's per-token policy vs the sequence-level optimum.

    Args:
        ref1: (V,) pi_ref(y1).
        ref2: (V, V) pi_ref(y2 | y1) (rows sum to 1).
        r: (V, V) reward r(y1, y2).
        beta: regularisation of the aligned model pi*_beta ∝ pi_ref exp(r / beta).
        lam: DeRa's lambda.

    Returns:
        (dera, exact): (V, V) joint probabilities of DeRa's token-by-token policy built from pi*_beta's
        conditionals, and of pi*_{beta/lambda}. The second-token conditionals agree exactly; the first-token
        marginals differ because DeRa mixes pi*_beta(y1) ∝ pi_ref(y1) Z_beta(y1) (Z_beta(y1) =
        E_{pi_ref(y2|y1)} exp(r / beta)) into pi_ref(y1) Z_beta(y1)^lambda instead of pi_ref(y1) Z_{beta/lambda}(y1).
    """
    joint_ref = ref1[:, None] * ref2
    star = joint_ref * np.exp((r - r.max()) / beta)
    star /= star.sum()
    a1 = star.sum(1)  # pi*_beta(y1)
    a2 = star / a1[:, None]  # pi*_beta(y2 | y1)
    d1 = np.exp(geometric_mixture(np.log(a1), np.log(ref1), lam))
    d2 = np.exp(geometric_mixture(np.log(a2), np.log(ref2), lam))
    dera = d1[:, None] * d2
    if lam == 0:
        exact = joint_ref
    else:
        exact = joint_ref * np.exp(lam * (r - r.max()) / beta)
        exact /= exact.sum()
    return dera, exact


def realign_sweep(
    aligned: Any,
    reference: Any,
    tokenizer: Any,
    prompts: Sequence[str],
    lambdas: Sequence[float],
    *,
    reward: Callable[[Sequence[str], Sequence[str]], np.ndarray] | None = None,
    prefer: Callable[[Sequence[str], Sequence[str], Sequence[str]], np.ndarray] | None = None,
    max_new_tokens: int = 32,
    seed: int = 0,
    batch_size: int = 16,
    verbose: bool = True,
) -> tuple[list[dict], dict[float, list[str]]]:
    """Sample one completion per prompt at every lambda; score reward, win rate and KL to the reference.

    Per lambda: ``reward`` (mean and standard error of r(x, y) when ``reward`` is given), ``win_rate`` vs
    the reference's completions (lambda = 0, same seed) under ``prefer(prompts, a, b) -> P(a > b)``,
    ``kl_per_token`` = the mean over generated tokens of the exact per-step KL(pi_lambda || pi_ref) over
    the vocabulary, ``kl_per_sequence`` (its per-completion sum), and decoding ``tokens_per_s``. Every
    lambda uses the same torch seed (common random numbers, so differences between lambdas are not noise).

    Returns:
        (rows, completions by lambda).
    """
    import torch
    from tqdm.auto import tqdm

    from duelbandit.finetune.sampling import encode_prompts, sample_mixture

    lambdas = check_lambdas(lambdas)
    if len(prompts) == 0:
        raise OnlineError("prompts: expected at least one prompt, got none")
    device = next(aligned.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    aligned.eval()
    reference.eval()
    texts: dict[float, list[str]] = {}
    rows = []
    ref_texts = None
    order = sorted(set(lambdas) | ({0.0} if prefer is not None else set()))
    for lam in tqdm(order, desc="DeRa sweep", disable=not verbose):
        gen = torch.Generator(device=device).manual_seed(int(seed))
        outs, kl_tok, kl_seq, n_tok, secs = [], [], [], 0, 0.0
        for s in range(0, len(prompts), batch_size):
            ids, att = encode_prompts(tokenizer, list(prompts[s:s + batch_size]), device=device)
            t0 = time.perf_counter()
            smp = sample_mixture(aligned, reference, ids, att, weight=lam, max_new_tokens=max_new_tokens,
                                 generator=gen, eos_token_id=tokenizer.eos_token_id, pad_token_id=int(pad))
            secs += time.perf_counter() - t0
            m = smp.mask
            n_tok += int(m.sum())
            kl_tok.append(smp.kl_b[m].double().cpu().numpy())
            kl_seq.append(smp.kl_b.double().sum(1).cpu().numpy())
            for row, mm in zip(smp.tokens.tolist(), m.tolist()):
                outs.append(tokenizer.decode([t for t, v in zip(row, mm) if v], skip_special_tokens=True))
        texts[lam] = outs
        if lam == 0.0:
            ref_texts = outs
        row = {"lambda": lam, "n": len(outs), "tokens": n_tok, "seconds": secs,
               "tokens_per_s": n_tok / secs if secs > 0 else float("nan"),
               "kl_per_token": float(np.concatenate(kl_tok).mean()) if n_tok else 0.0,
               "kl_per_sequence": float(np.concatenate(kl_seq).mean())}
        if reward is not None:
            rw = np.asarray(reward(list(prompts), outs), dtype=np.float64)
            row["reward"] = float(rw.mean())
            row["reward_se"] = float(rw.std(ddof=1) / np.sqrt(len(rw))) if len(rw) > 1 else 0.0
        rows.append(row)
    if prefer is not None:
        for row in rows:
            p = np.asarray(prefer(list(prompts), texts[row["lambda"]], ref_texts), dtype=np.float64)
            row["win_rate"] = float(p.mean())
    keep = set(lambdas)
    return [r for r in rows if r["lambda"] in keep], {k: v for k, v in texts.items() if k in keep}


def plot_sweep(rows: list[dict], path: str | Path, *, title: str = "DeRa: reward vs KL to the reference") -> Path:
    """Reward (or win rate) vs per-token KL, one labelled point per lambda."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    key = "reward" if rows and "reward" in rows[0] else "win_rate" if rows and "win_rate" in rows[0] else None
    fig, ax = plt.subplots(figsize=(5.5, 4))
    x = [r["kl_per_token"] for r in rows]
    y = [r[key] if key else 0.0 for r in rows]
    if key == "reward":
        ax.errorbar(x, y, yerr=[r["reward_se"] for r in rows], fmt="o-", capsize=3)
    else:
        ax.plot(x, y, "o-")
    for r, xi, yi in zip(rows, x, y):
        ax.annotate(f"λ={r['lambda']:g}", (xi, yi), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel("KL(π_λ || π_ref) per token (nats)")
    ax.set_ylabel(key or "")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sweep_table(rows: list[dict]) -> str:
    """Markdown table: one row per lambda."""
    has_r = bool(rows) and "reward" in rows[0]
    head = "| lambda | KL/token | KL/sequence |" + (" reward (± se) |" if has_r else "") + " tokens/s |\n"
    head += "|---|---|---|" + ("---|" if has_r else "") + "---|\n"
    body = "".join(
        f"| {r['lambda']:g} | {r['kl_per_token']:.4f} | {r['kl_per_sequence']:.3f} |"
        + (f" {r['reward']:.3f} ± {r['reward_se']:.3f} |" if has_r else "")
        + f" {r['tokens_per_s']:.0f} |\n" for r in rows)
    return head + body
