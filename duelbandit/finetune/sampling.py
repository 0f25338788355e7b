"""Token-by-token sampling from the geometric mixture of two causal LMs (DeRa, IPO-MD, Nash-MD sampling).

At every step both models see the same prefix; the next token is drawn from

    pi_w(. | prefix) = softmax(w h_a + (1 - w) h_b),   h = the models' next-token logits,

(:func:`duelbandit.finetune.mixture.geometric_mixture`). Both models keep their own KV cache, so a step
costs one single-token forward pass per model. Prompts are batched with LEFT padding (the new tokens of
every row line up), with explicit position ids so padding does not shift positions.

Works for any two Hugging Face causal LMs that share a tokenizer (same vocabulary); with ``model_b=None``
it is plain ancestral sampling from ``model_a`` (the baseline DeRa's cost is measured against).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duelbandit.errors import OnlineError
from duelbandit.finetune.mixture import geometric_mixture


@dataclass
class MixtureSamples:
    """What :func:`sample_mixture` returns (torch tensors, on the models' device).

    Attributes:
        tokens: (B, T) sampled completion ids; ``pad_token_id`` after a row's EOS.
        mask: (B, T) bool, True for generated tokens (the EOS itself included).
        logp: (B, T) log-probability of each sampled token under the mixture (0 where masked).
        kl_b: (B, T) exact per-step KL(pi_w(.|prefix) || pi_b(.|prefix)) over the whole vocabulary (0 where
            masked, and all zeros when ``model_b`` is None): DeRa's "KL to the reference per token".
    """

    tokens: Any
    mask: Any
    logp: Any
    kl_b: Any


def check_same_vocabulary(tok_a: Any, tok_b: Any, *, names: tuple[str, str] = ("model_a", "model_b")) -> None:
    """Refuse two tokenizers that would map the same text to different ids (the mixture would be wrong).

    Raises:
        OnlineError: naming both sides and the first difference found.
    """
    va, vb = tok_a.get_vocab(), tok_b.get_vocab()
    if va != vb:
        if len(va) != len(vb):
            what = f"{len(va)} vs {len(vb)} tokens"
        else:
            tok = next(t for t in sorted(va) if vb.get(t) != va[t])
            what = f"token {tok!r} has id {va[tok]} vs {vb.get(tok)}"
        raise OnlineError(
            f"{names[0]} and {names[1]} have different tokenizers ({what}); the geometric mixture needs "
            "two models that share one vocabulary (e.g. a fine-tune and its base model)"
        )


def _cache_kwarg(model: Any) -> str:
    """``cache`` in transformers >= 5.2x, ``past_key_values`` before (the old name warns, then goes)."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _vocab_size(model: Any) -> int:
    emb = model.get_output_embeddings()
    return int(emb.weight.shape[0]) if emb is not None else int(model.config.vocab_size)


def sample_mixture(
    model_a: Any,
    model_b: Any | None,
    input_ids: Any,
    attention_mask: Any,
    *,
    weight: float = 1.0,
    max_new_tokens: int = 32,
    generator: Any = None,
    temperature: float = 1.0,
    eos_token_id: int | None = None,
    pad_token_id: int = 0,
) -> MixtureSamples:
    """Draw one completion per row from pi_w ∝ pi_a^w pi_b^(1-w), token by token, with KV caches.

    Args:
        model_a: a causal LM (``model(input_ids, attention_mask, position_ids, past_key_values,
            use_cache=True)`` returning ``logits`` and ``past_key_values``, as every HF causal LM does).
        model_b: a second causal LM over the same vocabulary, or None (plain sampling from ``model_a``).
        input_ids: (B, P) LEFT-padded prompt ids (torch.long).
        attention_mask: (B, P) 1 for prompt tokens, 0 for left padding.
        weight: w in the mixture (DeRa's lambda; 1 - beta for IPO-MD); ignored when ``model_b`` is None.
        max_new_tokens: T >= 1.
        generator: a ``torch.Generator`` (on the models' device) for reproducible draws.
        temperature: > 0; the mixture's log-probs are divided by it before sampling.
        eos_token_id: a row stops after emitting it (None: always T tokens).
        pad_token_id: written after a row's EOS.

    Returns:
        :class:`MixtureSamples`.

    References:
        Liu et al. 2024 (DeRa), §3.2 per-token approximation; Calandriello et al. 2024 (IPO-MD), §4.
    """
    import torch

    if int(max_new_tokens) < 1:
        raise OnlineError(f"max_new_tokens: expected an integer >= 1, got {max_new_tokens!r}")
    if not temperature > 0:
        raise OnlineError(f"temperature: expected a value > 0, got {temperature!r}")
    if input_ids.ndim != 2 or attention_mask.shape != input_ids.shape:
        raise OnlineError(
            f"input_ids {tuple(input_ids.shape)} and attention_mask {tuple(attention_mask.shape)}: "
            "expected equal (batch, prompt_len) shapes"
        )
    if model_b is not None and _vocab_size(model_a) != _vocab_size(model_b):
        raise OnlineError(
            f"model_a has {_vocab_size(model_a)} output tokens and model_b {_vocab_size(model_b)}; the "
            "geometric mixture needs models over one vocabulary"
        )
    models = [model_a] if model_b is None else [model_a, model_b]
    B = input_ids.shape[0]
    device = input_ids.device
    mask = attention_mask.to(device=device, dtype=torch.long)
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    caches: list[Any] = [None] * len(models)
    keys = [_cache_kwarg(m) for m in models]
    cur, cur_pos = input_ids, pos
    done = torch.zeros(B, dtype=torch.bool, device=device)
    toks, valid, logps, kls = [], [], [], []
    with torch.inference_mode():
        for _ in range(int(max_new_tokens)):
            heads = []
            for k, m in enumerate(models):
                out = m(input_ids=cur, attention_mask=mask, position_ids=cur_pos, use_cache=True,
                        **{keys[k]: caches[k]})
                cache = getattr(out, "cache", None)
                caches[k] = cache if cache is not None else out.past_key_values
                heads.append(out.logits[:, -1, :].float())
            if model_b is None:
                lp = torch.log_softmax(heads[0], dim=-1)
                kl = torch.zeros(B, device=device)
            else:
                lp = geometric_mixture(heads[0], heads[1], float(weight))
                lb = torch.log_softmax(heads[1], dim=-1)
                p = lp.exp()
                kl = torch.where(p > 0, p * (lp - lb), torch.zeros_like(p)).sum(-1)
            if temperature != 1.0:
                lp = torch.log_softmax(lp / temperature, dim=-1)
            nxt = torch.multinomial(lp.exp(), 1, generator=generator).squeeze(-1)
            tok_lp = lp.gather(-1, nxt[:, None]).squeeze(-1)
            live = ~done
            nxt = torch.where(live, nxt, torch.full_like(nxt, pad_token_id))
            toks.append(nxt)
            valid.append(live)
            logps.append(torch.where(live, tok_lp, torch.zeros_like(tok_lp)))
            kls.append(torch.where(live, kl, torch.zeros_like(kl)))
            if eos_token_id is not None:
                done = done | (nxt == eos_token_id)
            if bool(done.all()):
                break
            cur = nxt[:, None]
            cur_pos = cur_pos[:, -1:] + 1
            mask = torch.cat([mask, torch.ones(B, 1, dtype=mask.dtype, device=device)], dim=1)
    return MixtureSamples(tokens=torch.stack(toks, 1), mask=torch.stack(valid, 1),
                          logp=torch.stack(logps, 1), kl_b=torch.stack(kls, 1))


def encode_prompts(tokenizer: Any, prompts: list[str], *, device: Any = "cpu") -> tuple[Any, Any]:
    """Left-padded (input_ids, attention_mask) for ``prompts`` (the layout :func:`sample_mixture` wants).

    Each prompt is rendered as the trainer renders it (:func:`duelbandit.finetune.logprobs.format_prompt`:
    a chat-template user turn with the generation prompt when the tokenizer has a template), so sampled
    completions continue exactly the context the fine-tuner scores them in.

    Raises:
        OnlineError: no prompts, or an empty prompt (named by its position).
    """
    if not prompts:
        raise OnlineError("prompts: expected at least one prompt, got none")
    for k, p in enumerate(prompts):
        if not isinstance(p, str) or not p.strip():
            raise OnlineError(f"prompts[{k}]: expected a non-empty text, got {p!r}")
    import torch

    from duelbandit.finetune.logprobs import format_prompt

    enc = []
    for p in prompts:
        text = format_prompt(tokenizer, p)
        enc.append(tokenizer(text, add_special_tokens=text is p)["input_ids"])
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    P = max(len(e) for e in enc)
    ids = torch.full((len(enc), P), int(pad), dtype=torch.long)
    att = torch.zeros((len(enc), P), dtype=torch.long)
    for r, e in enumerate(enc):
        ids[r, P - len(e):] = torch.tensor(e, dtype=torch.long)
        att[r, P - len(e):] = 1
    return ids.to(device), att.to(device)


def generate_mixture(
    model_a: Any,
    model_b: Any | None,
    tokenizer: Any,
    prompts: list[str],
    *,
    weight: float = 1.0,
    max_new_tokens: int = 32,
    generator: Any = None,
    temperature: float = 1.0,
    batch_size: int = 16,
) -> tuple[list[str], MixtureSamples | None]:
    """Text in, text out: sample one completion per prompt from the mixture, ``batch_size`` rows at a time.

    Returns:
        (completions decoded without special tokens, the last batch's :class:`MixtureSamples`).
    """
    if not prompts:
        raise OnlineError("prompts: expected at least one prompt, got none")
    device = next(model_a.parameters()).device
    texts: list[str] = []
    last = None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else (tokenizer.eos_token_id or 0)
    for s in range(0, len(prompts), max(1, int(batch_size))):
        ids, att = encode_prompts(tokenizer, prompts[s:s + batch_size], device=device)
        last = sample_mixture(model_a, model_b, ids, att, weight=weight, max_new_tokens=max_new_tokens,
                              generator=generator, temperature=temperature,
                              eos_token_id=tokenizer.eos_token_id, pad_token_id=int(pad))
        for row, m in zip(last.tokens.tolist(), last.mask.tolist()):
            texts.append(tokenizer.decode([t for t, v in zip(row, m) if v], skip_special_tokens=True))
    return texts, last
