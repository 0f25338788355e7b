"""Sampling from a causal LM: greedy or temperature sampling, chat template applied like in training."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from duelbandit.finetune.logprobs import format_prompt

__all__ = ["generate_texts"]


def generate_texts(model: Any, tokenizer: Any, prompts: Sequence[str | Sequence[dict]], *, max_new_tokens: int = 64,
                   temperature: float = 0.0, top_p: float = 1.0, seed: int = 0, batch_size: int = 8,
                   chat_template: bool | None = None, device: Any = None, verbose: bool = False) -> list[str]:
    """Responses to ``prompts`` (decoded new tokens, special tokens dropped), in order.

    ``temperature=0`` is greedy decoding (deterministic); otherwise tokens are sampled from
    softmax(logits / temperature) (nucleus ``top_p``) with torch's RNG seeded from ``seed`` inside a scoped
    block, so the caller's global RNG is untouched and the same seed gives the same texts.
    """
    import torch
    from tqdm.auto import tqdm

    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training, side = model.training, tokenizer.padding_side
    model.eval()
    tokenizer.padding_side = "left"  # generation appends on the right: pad on the left
    texts = [format_prompt(tokenizer, p, chat_template=chat_template) for p in prompts]
    use_chat = [t is not p for t, p in zip(texts, prompts)]
    out: list[str] = []
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            torch.manual_seed(seed)
            for s in tqdm(range(0, len(texts), batch_size), desc="generate", disable=not verbose):
                chunk = texts[s:s + batch_size]
                enc = tokenizer(chunk, return_tensors="pt", padding=True,
                                add_special_tokens=not all(use_chat[s:s + batch_size])).to(device)
                kw = {"do_sample": False} if temperature == 0 else {"do_sample": True, "temperature": temperature,
                                                                    "top_p": top_p}
                gen = model.generate(**enc, max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                                     eos_token_id=tokenizer.eos_token_id, **kw)
                new = gen[:, enc["input_ids"].shape[1]:]
                out += [t.strip() for t in tokenizer.batch_decode(new, skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return out
