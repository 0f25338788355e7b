"""Sequence log-probs against a token-by-token oracle; prompt and padding never scored; bad rows refused."""

from __future__ import annotations

import pytest
import torch

from duelbandit.finetune.logprobs import DataError, encode, precompute_logprobs, sequence_logprobs
from duelbandit.finetune.models import tiny_lm


@pytest.fixture(scope="module")
def lm():
    model, tok = tiny_lm(seed=1)
    model.eval()
    return model, tok


def _oracle(model, tok, prompt, response, *, mask_special):
    """Sum over response tokens of log p(token | all previous tokens), one unpadded forward per token."""
    p_text = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                     add_generation_prompt=True)
    p_ids = tok(p_text, add_special_tokens=False)["input_ids"]
    r_ids = tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    total, n = 0.0, 0
    with torch.no_grad():
        for t, y in enumerate(r_ids):
            if mask_special and y == tok.eos_token_id:
                continue
            prefix = torch.tensor([p_ids + r_ids[:t]])
            logits = model(input_ids=prefix).logits[0, -1].double()
            total += (logits.log_softmax(-1)[y]).item()
            n += 1
    return total, n


@pytest.mark.parametrize("mask_special", [True, False])
def test_sequence_logprob_equals_token_by_token_oracle(lm, mask_special):
    model, tok = lm
    prompts = ["What is 2 + 3?", "Name a colour."]
    responses = ["It is 5.", "Blue, or maybe a much longer answer than the other one"]
    enc = encode(tok, prompts, responses, mask_special=mask_special)
    with torch.no_grad():
        logp, n = sequence_logprobs(model, enc)
        mean, _ = sequence_logprobs(model, enc, normalize="mean")
    for k in range(2):
        want, want_n = _oracle(model, tok, prompts[k], responses[k], mask_special=mask_special)
        assert n[k].item() == want_n
        assert logp[k].item() == pytest.approx(want, rel=1e-5, abs=1e-4)
        assert mean[k].item() == pytest.approx(want / want_n, rel=1e-5, abs=1e-5)


def test_padding_and_batch_company_do_not_change_a_row(lm):
    model, tok = lm
    alone = encode(tok, ["Hi"], ["Hello there."])
    padded = encode(tok, ["Hi", "A much longer prompt " * 5], ["Hello there.", "ok"])
    assert padded.input_ids.shape[1] > alone.input_ids.shape[1]
    with torch.no_grad():
        a, _ = sequence_logprobs(model, alone)
        b, _ = sequence_logprobs(model, padded)
    assert b[0].item() == pytest.approx(a[0].item(), abs=1e-4)


def test_prompt_tokens_are_never_scored(lm):
    _, tok = lm
    enc = encode(tok, ["Some prompt"], ["Yes."], mask_special=False)
    p_len = len(tok(tok.apply_chat_template([{"role": "user", "content": "Some prompt"}], tokenize=False,
                                            add_generation_prompt=True), add_special_tokens=False)["input_ids"])
    assert not enc.loss_mask[0, :p_len].any()
    assert enc.loss_mask[0, p_len:].sum().item() == len("Yes.") + 1  # byte tokens + eos


def test_precompute_equals_a_direct_pass(lm):
    model, tok = lm
    prompts = [f"prompt {i}" for i in range(5)]
    responses = [f"answer number {i * 7}" for i in range(5)]
    enc = encode(tok, prompts, responses)
    with torch.no_grad():
        direct, _ = sequence_logprobs(model, enc)
    got = precompute_logprobs(model, enc, batch_size=2)
    torch.testing.assert_close(got, direct, atol=1e-4, rtol=1e-5)


def test_bad_rows_are_refused_with_their_name(lm):
    _, tok = lm
    with pytest.raises(DataError, match=r"pairs.jsonl:3: empty response"):
        encode(tok, ["p"], [""], where=["pairs.jsonl:3"])
    with pytest.raises(DataError, match=r"row 0: the prompt is \d+ tokens, longer than the context max_length=16"):
        encode(tok, ["x" * 40], ["y"], max_length=16)
