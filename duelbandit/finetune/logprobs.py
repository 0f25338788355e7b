"""Tokenising (prompt, response) pairs and sequence log-probs of causal LMs, prompt and padding masked.

    log pi(y | x) = sum_{t in response} log softmax(h_{t-1})[y_t]        (normalize="sum", DPO's convention)
    log pi(y | x) / |y|                                                  (normalize="mean", TRL's "ipo")

Prompt and response are tokenised separately and concatenated, so the boundary is exact and prompt tokens
are never scored. With a chat template (SmolLM2, the tiny LM) the prompt is rendered as a user turn with the
generation prompt, and the response is followed by the tokenizer's eos (the end of the assistant turn).
Llama 3 masks special/formatting tokens out of the DPO loss (they are shared by chosen and rejected and
only add conflicting gradients): ``mask_special=True`` does that.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from duelbandit.errors import DuelbanditError

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "DataError",
    "Encoded",
    "encode",
    "format_prompt",
    "precompute_logprobs",
    "sequence_logprobs",
    "special_ids",
]


class DataError(DuelbanditError, ValueError):
    """Training data is malformed: missing columns, empty responses, prompts longer than the context."""


@dataclass
class Encoded:
    """Right-padded token batch. ``loss_mask[n, t]`` is True where token t of row n is a scored response
    token (the target of the prediction made at t - 1)."""

    input_ids: Tensor  # (N, T) int64
    attention_mask: Tensor  # (N, T) int64
    loss_mask: Tensor  # (N, T) bool

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    def rows(self, index: Any) -> Encoded:
        """The sub-batch ``index`` (tensor/list of rows or a slice), trimmed to its longest row."""
        ids, att, lm = self.input_ids[index], self.attention_mask[index], self.loss_mask[index]
        T = max(int(att.sum(dim=1).max()), 1) if ids.shape[0] else 1
        return Encoded(ids[:, :T], att[:, :T], lm[:, :T])

    def to(self, device: Any) -> Encoded:
        return Encoded(self.input_ids.to(device), self.attention_mask.to(device), self.loss_mask.to(device))


def special_ids(tokenizer: Any) -> set[int]:
    """Ids of every special token (eos, pad, chat markers such as ``<|im_start|>``)."""
    ids = set(tokenizer.all_special_ids)
    ids |= {i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items() if getattr(t, "special", False)}
    return ids


def format_prompt(tokenizer: Any, prompt: str | Sequence[dict], *, chat_template: bool | None = None) -> str:
    """The prompt as text the model continues: a chat-template user turn with the generation prompt when the
    tokenizer has a template (``chat_template=None``: auto) or messages are given, else the prompt as is."""
    use_chat = bool(getattr(tokenizer, "chat_template", None)) if chat_template is None else chat_template
    if isinstance(prompt, str) and not use_chat:
        return prompt
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def encode(tokenizer: Any, prompts: Sequence[str | Sequence[dict]], responses: Sequence[str], *,
           max_length: int = 512, chat_template: bool | None = None, mask_special: bool = True,
           add_eos: bool = True, where: Sequence[str] | None = None) -> Encoded:
    """Tokenise ``(prompt, response)`` rows into a right-padded :class:`Encoded` batch.

    Args:
        tokenizer: a Hugging Face tokenizer.
        prompts, responses: (N,) texts (a prompt may be a list of chat messages).
        max_length: context length; a row longer than it has its response truncated at the end.
        chat_template: use the tokenizer's chat template (None: when it has one).
        mask_special: leave special/formatting tokens out of ``loss_mask`` (Llama 3).
        add_eos: end each response with the tokenizer's eos token.
        where: (N,) row names for error messages (e.g. ``"pairs.jsonl:12"``).

    Raises:
        DataError: an empty response, or a prompt that leaves no room for a response token.
    """
    import torch

    if len(prompts) != len(responses):
        raise DataError(f"encode: {len(prompts)} prompts but {len(responses)} responses")
    specials = special_ids(tokenizer) if mask_special else set()
    eos = [tokenizer.eos_token_id] if add_eos and tokenizer.eos_token_id is not None else []
    rows, masks = [], []
    for n, (p, r) in enumerate(zip(prompts, responses)):
        name = where[n] if where is not None else f"row {n}"
        text = format_prompt(tokenizer, p, chat_template=chat_template)
        use_chat = text is not p
        p_ids = tokenizer(text, add_special_tokens=not use_chat)["input_ids"]
        r_ids = tokenizer(r, add_special_tokens=False)["input_ids"] if isinstance(r, str) else []
        if not r_ids:
            raise DataError(f"{name}: empty response (expected a non-empty string, got {r!r})")
        if len(p_ids) + 1 > max_length:
            raise DataError(f"{name}: the prompt is {len(p_ids)} tokens, longer than the context "
                            f"max_length={max_length} (a response needs at least 1 more token)")
        ids = (p_ids + r_ids + eos)[:max_length]
        scored = [False] * len(p_ids) + [t not in specials for t in ids[len(p_ids):]]
        rows.append(ids)
        masks.append(scored)
    T = max(len(x) for x in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    input_ids = torch.full((len(rows), T), pad, dtype=torch.long)
    attention = torch.zeros((len(rows), T), dtype=torch.long)
    loss_mask = torch.zeros((len(rows), T), dtype=torch.bool)
    for n, (ids, m) in enumerate(zip(rows, masks)):
        input_ids[n, : len(ids)] = torch.tensor(ids)
        attention[n, : len(ids)] = 1
        loss_mask[n, : len(ids)] = torch.tensor(m)
    return Encoded(input_ids, attention, loss_mask)


def sequence_logprobs(model: Any, batch: Encoded, *, normalize: str = "sum") -> tuple[Tensor, Tensor]:
    """Sequence log-probs of the scored tokens: ``sum_t mask_t log p(y_t | y_<t)`` (or its per-token mean).

    Args:
        model: a causal LM returning ``.logits`` of shape (N, T, V).
        batch: an :class:`Encoded` batch on the model's device.
        normalize: "sum" (DPO) or "mean" (per-token average; TRL's "ipo").

    Returns:
        (logp, n_tokens): (N,) float32 log-probs and (N,) scored-token counts.
    """
    import torch

    if normalize not in ("sum", "mean"):
        raise DataError(f"normalize: expected 'sum' or 'mean', got {normalize!r}")
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1].float()
    labels = batch.input_ids[:, 1:]
    mask = batch.loss_mask[:, 1:]
    # log softmax at the label only: logit[label] - logsumexp(logits), without an (N, T, V) log-softmax copy
    tok = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    tok = torch.where(mask, tok, torch.zeros((), dtype=tok.dtype, device=tok.device))
    n = mask.sum(dim=1)
    logp = tok.sum(dim=1)
    if normalize == "mean":
        logp = logp / n.clamp(min=1)
    return logp, n


def precompute_logprobs(model: Any, batch: Encoded, *, batch_size: int = 8, normalize: str = "sum",
                        device: Any = None, verbose: bool = False) -> Tensor:
    """(N,) sequence log-probs of every row under ``model`` (no gradient, eval mode), in mini-batches: the
    reference log-probs a DPO run computes once per dataset."""
    import torch
    from tqdm.auto import tqdm

    was_training = model.training
    model.eval()
    out = []
    starts = range(0, len(batch), batch_size)
    with torch.no_grad():
        for s in tqdm(starts, desc="reference log-probs", disable=not verbose, leave=False):
            sub = batch.rows(slice(s, s + batch_size))
            out.append(sequence_logprobs(model, sub.to(device) if device is not None else sub,
                                         normalize=normalize)[0].cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0)
