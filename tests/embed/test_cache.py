"""The SQLite vector cache: hits skip the model, new texts only are encoded, the key holds every setting,
a killed run keeps its committed chunks, and concurrent runs give identical, complete results."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from duelbandit.embed import TransformerEmbedder
from duelbandit.embed.cache import CACHE_FILE, EmbeddingCache, default_cache_dir
from duelbandit.io import save_pool
from duelbandit.pool import Pool

ROOT = Path(__file__).resolve().parents[2]


def _texts(n: int, tag: str = "") -> list[str]:
    return [f"{tag}text {i}: {'lorem ipsum ' * (i % 5)}end" for i in range(n)]


def _count_forward(emb: TransformerEmbedder) -> list[int]:
    calls = [0]
    emb.encoder().model.register_forward_pre_hook(lambda *a, **k: calls.__setitem__(0, calls[0] + 1))
    return calls


def test_cache_hits_skip_the_model(tiny_model, tmp_path):
    texts = _texts(40)
    first = TransformerEmbedder(str(tiny_model), cache=str(tmp_path), device="cpu")
    c1 = _count_forward(first)
    v1 = first.encode_texts(texts)
    assert c1[0] > 0
    second = TransformerEmbedder(str(tiny_model), cache=str(tmp_path), device="cpu")
    c2 = _count_forward(second)
    v2 = second.encode_texts(texts)
    assert c2[0] == 0  # not one forward pass
    assert second.last_stats == {"texts": 40, "distinct": 40, "hits": 40, "encoded": 0}
    np.testing.assert_array_equal(v1, v2)
    nocache = TransformerEmbedder(str(tiny_model), cache=None, device="cpu").encode_texts(texts)
    np.testing.assert_allclose(v2, nocache, atol=1e-6)


def test_only_new_texts_are_encoded(tiny_model, tmp_path):
    old, new = _texts(30), _texts(7, tag="new ")
    TransformerEmbedder(str(tiny_model), cache=str(tmp_path), device="cpu").encode_texts(old)
    emb = TransformerEmbedder(str(tiny_model), cache=str(tmp_path), device="cpu")
    mixed = old[:10] + new + old[10:] + new[:2]  # repeats count once
    V = emb.encode_texts(mixed)
    assert emb.last_stats == {"texts": 39, "distinct": 37, "hits": 30, "encoded": 7}
    assert emb.encoder().n_encoded == 7
    ref = TransformerEmbedder(str(tiny_model), cache=None, device="cpu").encode_texts(mixed)
    np.testing.assert_allclose(V, ref, atol=1e-6)


def test_key_holds_every_vector_setting(tiny_model, tmp_path):
    texts = _texts(12)
    TransformerEmbedder(str(tiny_model), cache=str(tmp_path), device="cpu").encode_texts(texts)
    shorter = TransformerEmbedder(str(tiny_model), cache=str(tmp_path), device="cpu", max_length=8)
    shorter.encode_texts(texts)
    assert shorter.last_stats["hits"] == 0  # another max length makes other vectors
    with sqlite3.connect(tmp_path / CACHE_FILE) as db:
        assert db.execute("SELECT COUNT(DISTINCT ns) FROM vectors").fetchone()[0] == 2
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_other_weights_never_hit(tiny_model, tmp_path):
    from tests.embed.conftest import make_tiny_encoder

    other = make_tiny_encoder(tmp_path / "other", seed=1)
    texts = _texts(10)
    TransformerEmbedder(str(tiny_model), cache=str(tmp_path / "c"), device="cpu").encode_texts(texts)
    emb = TransformerEmbedder(str(other), cache=str(tmp_path / "c"), device="cpu")
    emb.encode_texts(texts)
    assert emb.last_stats["hits"] == 0


def test_default_cache_dir_respects_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "duelbandit"
    with EmbeddingCache() as c:
        assert c.path == tmp_path / "xdg" / "duelbandit" / CACHE_FILE and c.path.exists()


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


def test_killed_run_resumes_from_the_cache(tiny_model, tmp_path):
    texts = _texts(120)
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    script = textwrap.dedent(f"""
        import json, os, signal
        from duelbandit.embed import TransformerEmbedder
        emb = TransformerEmbedder({str(tiny_model)!r}, cache={str(tmp_path / 'c')!r}, device="cpu",
                                  cache_chunk=25)
        enc = emb.encoder()
        real, calls = enc.encode, [0]
        def encode(t, **kw):
            calls[0] += 1
            if calls[0] == 4:  # killed while the 4th chunk is being encoded
                os.kill(os.getpid(), signal.SIGKILL)
            return real(t, **kw)
        enc.encode = encode
        emb.encode_texts(json.load(open({str(tmp_path / 'texts.json')!r})))
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    with sqlite3.connect(tmp_path / "c" / CACHE_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 75  # 3 committed chunks of 25
    emb = TransformerEmbedder(str(tiny_model), cache=str(tmp_path / "c"), device="cpu")
    V = emb.encode_texts(texts)
    assert emb.last_stats["hits"] == 75 and emb.last_stats["encoded"] == 45
    ref = TransformerEmbedder(str(tiny_model), cache=None, device="cpu").encode_texts(texts)
    np.testing.assert_allclose(V, ref, atol=1e-6)


def test_two_concurrent_runs_share_one_cache(tiny_model, tmp_path):
    pool = Pool.from_lists([f"prompt {n}?" for n in range(60)],
                           [[f"answer {k} to {n}" for k in range(3)] for n in range(60)])
    save_pool(pool, tmp_path / "pool.jsonl")
    cmds = [[sys.executable, "-m", "duelbandit.cli", "embed", "--pool", str(tmp_path / "pool.jsonl"),
             "--embedder", str(tiny_model), "--cache", str(tmp_path / "c"), "--device", "cpu", "--quiet",
             "--out", str(tmp_path / f"run{k}.npy")] for k in range(2)]
    procs = [subprocess.Popen(c, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for c in cmds]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    a, b = np.load(tmp_path / "run0.npy"), np.load(tmp_path / "run1.npy")
    np.testing.assert_array_equal(a, b)
    assert a.shape == (180, 32)
    with sqlite3.connect(tmp_path / "c" / CACHE_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0] == 180  # complete, no duplicates
    ref = TransformerEmbedder(str(tiny_model), cache=None, device="cpu").embed(pool)
    np.testing.assert_allclose(a, ref.X, atol=1e-5)


def test_corrupt_cache_file_is_a_clear_error(tmp_path):
    from duelbandit.errors import FeatureError

    (tmp_path / CACHE_FILE).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(FeatureError, match="not a usable SQLite database"):
        EmbeddingCache(tmp_path)
