"""TransformerEmbedder wiring: no heavy import at `import duelbandit`, the registry, and the `auto` choice
(MiniLM when the embed extra is installed, hashing otherwise)."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np

from duelbandit.commands import embed as embed_cmd
from duelbandit.embed import TransformerEmbedder, get_embedder
from duelbandit.pool import Pool

ROOT = Path(__file__).resolve().parents[2]


def test_import_does_not_load_torch_transformers_or_ray():
    code = ("import sys, duelbandit, duelbandit.embed, duelbandit.embed.scale, duelbandit.commands.embed, "
            "duelbandit.commands.skills; print(sorted(m for m in ('torch', 'transformers', 'ray') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": ""}, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_registry_builds_the_transformer(tiny_model):
    emb = get_embedder("transformer", model=str(tiny_model), mode="response", cache=None, device="cpu")
    assert isinstance(emb, TransformerEmbedder)
    pool = Pool.from_lists(["q1", "q2"], [["same", "other"], ["same", "third"]])
    X = emb.embed(pool).X
    # response mode ignores the prompt: the two "same" responses get the same row
    np.testing.assert_allclose(X[0], X[2], atol=1e-7)


def test_auto_picks_minilm_only_when_installed(monkeypatch):
    import duelbandit.embed.transformer as tr

    args = argparse.Namespace(embedder=None, _default_embedder="auto")
    monkeypatch.setattr(tr, "default_model_available", lambda: False)
    assert embed_cmd.resolve_embedder_name(args) == "hashing"
    monkeypatch.setattr(tr, "default_model_available", lambda: True)
    assert embed_cmd.resolve_embedder_name(args) == "minilm"
    assert embed_cmd.resolve_embedder_name(argparse.Namespace(embedder="hashing", _default_embedder="auto")) == "hashing"
