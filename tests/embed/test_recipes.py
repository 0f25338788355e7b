"""Pair recipes (joint / response / interaction), PCA + centring + unit-ball scale against numpy oracles,
and the config round trip: ``from_config`` rebuilds the embedder that made the features."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from duelbandit.embed import TransformerEmbedder, embedder_from_config
from duelbandit.embed.recipes import finish, raw_rows
from duelbandit.errors import FeatureError
from duelbandit.pool import Pool

POOL = Pool.from_lists(
    ["What is 2 + 2?", "Name a red fruit.", "Reverse 'abc'."],
    [["4", "5", "four"], ["apple", "banana"], ["cba", "abc", "bca", "cab"]],
)


def fake_encode(texts: list[str]) -> np.ndarray:
    """A deterministic stand-in encoder: a unit vector seeded by the text's hash."""
    out = []
    for t in texts:
        seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(6)
        out.append(v / np.linalg.norm(v))
    return np.array(out, dtype=np.float32)


def test_joint_and_response_rows():
    Z = raw_rows(POOL, "joint", fake_encode)
    for r in range(POOL.n_responses):
        n = int(POOL.response_prompt[r])
        np.testing.assert_array_equal(Z[r], fake_encode([POOL.prompts[n] + "\n" + POOL.responses[r]])[0])
    np.testing.assert_array_equal(raw_rows(POOL, "response", fake_encode), fake_encode(list(POOL.responses)))


def test_interaction_rows_let_the_prompt_change_the_difference():
    Z = raw_rows(POOL, "interaction", fake_encode)
    assert Z.shape == (POOL.n_responses, 12)
    for r in range(POOL.n_responses):
        p = fake_encode([POOL.prompts[int(POOL.response_prompt[r])]])[0]
        y = fake_encode([POOL.responses[r]])[0]
        np.testing.assert_allclose(Z[r], np.concatenate([y, p * y]), rtol=0, atol=0)
    # the same two responses under two prompts: the product block of the difference differs with the prompt
    two = Pool.from_lists(["prompt one", "prompt two"], [["yes", "no"], ["yes", "no"]])
    Z2 = raw_rows(two, "interaction", fake_encode)
    d1, d2 = Z2[0] - Z2[1], Z2[2] - Z2[3]
    np.testing.assert_array_equal(d1[:6], d2[:6])
    assert np.abs(d1[6:] - d2[6:]).max() > 1e-3


def test_finish_centre_and_scale():
    Z = np.random.default_rng(0).normal(size=(40, 7)) + 3.0
    X, info = finish(Z, dim=None, center=True, seed=0)
    C = Z - Z.mean(0)
    s = np.linalg.norm(C, axis=1).max()
    np.testing.assert_allclose(X, C / s, atol=1e-12)
    assert info["scale"] == pytest.approx(s) and info["pca"] is None
    # within-prompt differences are the raw ones up to the common scale
    np.testing.assert_allclose(X[3] - X[5], (Z[3] - Z[5]) / s, atol=1e-12)


def test_finish_pca_matches_numpy_svd():
    Z = np.random.default_rng(1).normal(size=(60, 10)) @ np.diag(np.linspace(3, 0.1, 10))
    X, info = finish(Z, dim=4, center=True, seed=0)
    C = Z - Z.mean(0)
    U, S, _ = np.linalg.svd(C, full_matrices=False)
    scores = U[:, :4] * S[:4]
    ref = scores / np.linalg.norm(scores, axis=1).max()
    np.testing.assert_allclose(np.abs(X), np.abs(ref), atol=1e-8)  # equal up to the sign of each component
    np.testing.assert_allclose(X @ X.T, ref @ ref.T, atol=1e-8)
    assert info["pca"]["explained_variance_ratio"] == pytest.approx((S[:4] ** 2).sum() / (S ** 2).sum())
    assert np.linalg.norm(X, axis=1).max() == pytest.approx(1.0)


def test_finish_rejects_a_dim_too_large():
    with pytest.raises(FeatureError, match=r"dim: expected an integer in \[1, min\(rows, columns\)\]"):
        finish(np.ones((5, 3)) + np.arange(15).reshape(5, 3), dim=4, center=True, seed=0)


@pytest.mark.parametrize(("mode", "dim"), [("joint", None), ("interaction", 5)])
def test_config_rebuilds_the_embedder(tiny_model, tmp_path, mode, dim):
    emb = TransformerEmbedder(str(tiny_model), mode=mode, dim=dim, device="cpu", cache=str(tmp_path))
    feats = emb.embed(POOL)
    assert feats.X.shape == (POOL.n_responses, dim or 32)
    assert np.linalg.norm(feats.X, axis=1).max() == pytest.approx(1.0)
    c = feats.config
    assert c["embedder"] == "transformer" and c["mode"] == mode and c["dim"] == dim
    assert c["raw_dim"] == (64 if mode == "interaction" else 32) and c["pool_fingerprint"] == POOL.fingerprint()
    again = embedder_from_config(c, cache=None)
    assert isinstance(again, TransformerEmbedder) and again.mode == mode and again.dim == dim
    np.testing.assert_allclose(again.embed(POOL).X, feats.X, atol=1e-6)


def test_config_refuses_other_weights(tiny_model, tmp_path):
    from tests.embed.conftest import make_tiny_encoder

    feats = TransformerEmbedder(str(tiny_model), device="cpu", cache=None).embed(POOL)
    other = make_tiny_encoder(tmp_path / "other", seed=5)
    cfg = {**feats.config, "model": str(other)}
    with pytest.raises(FeatureError, match="would not be reproduced"):
        embedder_from_config(cfg, cache=None).embed(POOL)


def test_bad_settings_fail_early(tmp_path):
    with pytest.raises(FeatureError, match="mode"):
        TransformerEmbedder("minilm", mode="concat")
    with pytest.raises(FeatureError, match="dim"):
        TransformerEmbedder("minilm", dim=0)
    with pytest.raises(FeatureError, match="is not a folder"):
        TransformerEmbedder(str(tmp_path / "missing"))


def test_hashing_config_rebuilds_too():
    from duelbandit.embed import HashingEmbedder

    feats = HashingEmbedder(dim=4, seed=0).embed(POOL)
    np.testing.assert_array_equal(embedder_from_config(feats.config).embed(POOL).X, feats.X)
