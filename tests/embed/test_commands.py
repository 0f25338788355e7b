"""The embed command and the feature options of select / collect: embed once, reuse the exact features,
refuse mismatches with a clear message (the curation path end to end on transformer features)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from duelbandit.cli import main
from duelbandit.io import save_pool
from duelbandit.pool import Pool

POOL = Pool.from_lists([f"Question {n}: what is {n} times 3?" for n in range(12)],
                       [[f"{3 * n}", f"{3 * n + 1}", f"It is {3 * n}.", f"maybe {n}"] for n in range(12)])


@pytest.fixture
def pool_file(tmp_path):
    return save_pool(POOL, tmp_path / "pool.jsonl")


def test_embed_then_select_with_features(tiny_model, pool_file, tmp_path, capsys):
    out = tmp_path / "F.npy"
    assert main(["embed", "--pool", str(pool_file), "--embedder", str(tiny_model), "--mode", "interaction",
                 "--cache", str(tmp_path / "c"), "--device", "cpu", "--quiet", "--out", str(out)]) == 0
    # interaction encodes the 12 prompts and the 48 responses (all distinct: 3n + 1 is never a multiple of 3)
    assert "60 distinct, 0 from the cache, 60 encoded" in capsys.readouterr().out
    X = np.load(out)
    meta = json.loads((tmp_path / "F.npy.json").read_text())
    assert X.shape == (48, 64) and meta["config"]["mode"] == "interaction"
    assert meta["config"]["pool_fingerprint"] == POOL.fingerprint()
    tasks = tmp_path / "tasks.jsonl"
    assert main(["select", "--pool", str(pool_file), "--features", str(out), "--budget", "20",
                 "--selector", "uniform", "--out", str(tasks), "--quiet"]) == 0
    design = json.loads((tmp_path / "tasks.jsonl.design.json").read_text())
    assert design["features"]["name"] == "transformer" and design["features"]["mode"] == "interaction"
    assert len(tasks.read_text().splitlines()) == 20


def test_features_and_embedder_together_are_refused(pool_file, tmp_path, capsys):
    assert main(["embed", "--pool", str(pool_file), "--embedder", "hashing", "--dim", "4", "--quiet",
                 "--out", str(tmp_path / "F.npy")]) == 0
    code = main(["select", "--pool", str(pool_file), "--features", str(tmp_path / "F.npy"), "--embedder",
                 "hashing", "--budget", "5", "--out", str(tmp_path / "t.jsonl")])
    assert code == 2 and "already fixes the embedder" in capsys.readouterr().err


def test_features_of_another_pool_are_refused(pool_file, tmp_path, capsys):
    assert main(["embed", "--pool", "bundled:12", "--embedder", "hashing", "--quiet",
                 "--out", str(tmp_path / "F.npy")]) == 0
    code = main(["collect", "--pool", str(pool_file), "--features", str(tmp_path / "F.npy"), "--budget", "4",
                 "--state", str(tmp_path / "s"), "--quiet"])
    assert code == 2 and "rows but pool" in capsys.readouterr().err


def test_bad_mode_and_missing_model(pool_file, tmp_path, capsys):
    assert main(["select", "--pool", str(pool_file), "--embedder", "hashing", "--mode", "interaction",
                 "--budget", "5", "--out", str(tmp_path / "t.jsonl")]) == 2
    assert "modes ['joint', 'concat']" in capsys.readouterr().err
    assert main(["embed", "--pool", str(pool_file), "--embedder", str(tmp_path / "no-model"),
                 "--out", str(tmp_path / "F.npy")]) == 2
    assert "is not a folder" in capsys.readouterr().err
