"""The tiny LM and tokenizer; model loading errors; SmolLM2 conversion (opt-in, realmodel)."""

from __future__ import annotations

import os

import pytest
import torch

from duelbandit.finetune.models import ModelError, load_model, tiny_lm, tiny_tokenizer


def test_tiny_tokenizer_round_trips_bytes_and_renders_chatml():
    tok = tiny_tokenizer()
    text = "Grüße, 3,500 m! 😀"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text.encode("utf-8"))  # one token per byte
    assert tok.decode(ids) == text
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_tiny_lm_is_small_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, _ = tiny_lm(seed=5)
    after = torch.rand(1)
    assert torch.equal(before, after)  # the scoped seeding did not consume the global stream
    b, _ = tiny_lm(seed=5)
    c, _ = tiny_lm(seed=6)
    pa, pb, pc = (torch.cat([p.flatten() for p in m.parameters()]) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)
    assert pa.numel() * 4 < 1_000_000  # a few hundred KB in float32


def test_load_model_round_trip_and_bad_path(tmp_path):
    model, tok = load_model("tiny", seed=2)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    again, tok2 = load_model(tmp_path)
    x = torch.tensor([[1, 2, 3, 4]])
    torch.testing.assert_close(again(input_ids=x).logits, model(input_ids=x).logits)
    assert tok2.chat_template == tok.chat_template
    with pytest.raises(ModelError, match="expected 'tiny', 'smollm2' or a directory with a config.json"):
        load_model(tmp_path / "nope")


@pytest.mark.realmodel
def test_smollm2_converts_once_and_reloads_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    from duelbandit.finetune.models import convert_smollm2, smollm2_gguf_path

    path = convert_smollm2(verbose=False)
    assert path.is_relative_to(tmp_path) and (path / "config.json").is_file()
    assert not any(p.name.startswith(".") for p in path.parent.iterdir() if p.is_dir())  # no temp dir left
    mtime = os.path.getmtime(path / "config.json")
    model, tok = load_model("smollm2")
    assert os.path.getmtime(path / "config.json") == mtime  # loaded the cached copy, no second conversion
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    # the converted copy gives the logits of the GGUF loaded directly
    from transformers import AutoModelForCausalLM

    gguf = smollm2_gguf_path()
    direct = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    ids = tok("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        torch.testing.assert_close(model(input_ids=ids).logits, direct(input_ids=ids).logits)
