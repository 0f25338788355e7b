"""Features on disk: F.npy + F.npy.json round trip, and refusals (another pool, a torn or foreign file)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from duelbandit.embed import HashingEmbedder
from duelbandit.embed.files import load_features, save_features
from duelbandit.errors import FeatureError
from duelbandit.pool import Pool

POOL = Pool.from_lists([f"question {n}" for n in range(8)], [[f"a{n}", f"b{n}", f"c {n} c"] for n in range(8)])


def test_round_trip(tmp_path):
    feats = HashingEmbedder(dim=5, seed=0).embed(POOL)
    path = save_features(feats, tmp_path / "F.npy")
    back = load_features(path, POOL)
    np.testing.assert_array_equal(back.X, feats.X)
    assert back.name == "hashing" and back.config == json.loads(json.dumps(feats.config))
    assert json.loads((tmp_path / "F.npy.json").read_text())["shape"] == [POOL.n_responses, 5]


def test_another_pool_is_refused(tmp_path):
    save_features(HashingEmbedder(dim=5, seed=0).embed(POOL), tmp_path / "F.npy")
    other = Pool.from_lists([f"question {n}" for n in range(8)], [[f"a{n}", f"b{n}", f"z {n}"] for n in range(8)])
    with pytest.raises(FeatureError, match="fingerprint"):
        load_features(tmp_path / "F.npy", other)
    smaller = Pool.from_lists(["q"], [["a", "b"]])
    with pytest.raises(FeatureError, match="rows"):
        load_features(tmp_path / "F.npy", smaller)


def test_bad_files(tmp_path):
    with pytest.raises(FeatureError, match="does not exist"):
        load_features(tmp_path / "nope.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FeatureError, match="not a plain numeric"):
        load_features(tmp_path / "obj.npy")
    np.save(tmp_path / "X.npy", np.zeros((3, 2)))
    with pytest.raises(FeatureError, match="X.npy.json: missing"):
        load_features(tmp_path / "X.npy")
    (tmp_path / "X.npy.json").write_text('{"shape": [3, 3], "config": {}}')
    with pytest.raises(FeatureError, match="does not match"):
        load_features(tmp_path / "X.npy")
    with pytest.raises(FeatureError, match=r"\.npy"):
        save_features(HashingEmbedder(dim=2).embed(POOL), tmp_path / "F.txt")
