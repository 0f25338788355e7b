"""retain_heap: glibc keeps freed memory for reuse, so repeated embeds stop page-faulting it back in."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from duelbandit.embed import heap

GLIBC = heap._libc_mallopt() is not None

_PROBE = """
import json, resource, sys
from duelbandit.embed import HashingEmbedder, heap
from duelbandit.data.textpool import make_text_pool
from duelbandit.embed.recipes import recipe_texts
texts = recipe_texts(make_text_pool(300, seed=0), "joint")[:1500]
emb = HashingEmbedder(dim=16, seed=0)
emb.embed_texts(texts)  # the first call touches its memory either way
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    emb.embed_texts(texts)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 3
print(json.dumps({"applied": heap.retain_heap(), "faults": faults}))
"""


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "DUELBANDIT_KEEP_HEAP"}
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], env={**clean, **env}, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="mallopt thresholds exist only in glibc")
def test_repeated_embeds_fault_far_less_with_the_heap_kept():
    kept, off = _probe(), _probe(DUELBANDIT_KEEP_HEAP="0")
    assert kept["applied"] and not off["applied"]
    # measured (bench_embed): under 1,000 vs ~8,400 minor faults per 2,000-text embed
    assert kept["faults"] * 3 < off["faults"]


def test_user_malloc_settings_are_left_alone():
    assert not _probe(MALLOC_ARENA_MAX="2")["applied"]


def test_off_switch_and_platform(monkeypatch):
    monkeypatch.setattr(heap, "_done", None)
    monkeypatch.setenv("DUELBANDIT_KEEP_HEAP", "0")
    assert heap.retain_heap() is False
    monkeypatch.setattr(heap, "_done", None)
    monkeypatch.delenv("DUELBANDIT_KEEP_HEAP")
    monkeypatch.setattr(heap.sys, "platform", "darwin")
    assert heap._libc_mallopt() is None
