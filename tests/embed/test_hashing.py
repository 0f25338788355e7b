"""HashingEmbedder: determinism, H1 (||psi|| <= 1), recorded config, and agreement with a scikit-learn oracle."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer

from duelbandit.embed import Embedder, HashingEmbedder, get_embedder, scale_to_unit_ball
from duelbandit.errors import FeatureError
from duelbandit.types import Pool

POOL = Pool.from_lists(
    [f"What is {a} + {b}?" for a, b in [(3, 4), (10, 25), (7, 7), (12, 30), (41, 1), (6, 9)]]
    + ["Name the capital of France.", "Reverse the word planet.", "How many days are in a week?"],
    [
        [f"{a + b}", f"The answer is {a + b}.", f"{a + b + 1}", f"It is {a - b} I think"]
        for a, b in [(3, 4), (10, 25), (7, 7), (12, 30), (41, 1), (6, 9)]
    ]
    + [["Paris", "Lyon", "The capital is Paris."], ["tenalp", "planet"], ["7", "seven", "There are 7 days."]],
    name="tiny",
)


def test_shape_norms_and_protocol():
    emb = HashingEmbedder(dim=8, seed=0)
    assert isinstance(emb, Embedder)
    feats = emb.embed(POOL)
    assert feats.X.shape == (POOL.n_responses, 8)
    assert feats.X.dtype == np.float64
    norms = np.linalg.norm(feats.X, axis=1)
    assert norms.max() <= 1 + 1e-12
    assert norms.max() == pytest.approx(1.0)
    np.testing.assert_allclose(feats.X.mean(axis=0), 0, atol=1e-12)  # centred
    feats.check_aligned(POOL)


@pytest.mark.parametrize("mode", ["joint", "concat"])
def test_same_seed_bit_identical_other_seed_differs(mode):
    a = HashingEmbedder(dim=6, mode=mode, seed=3).embed(POOL).X
    b = HashingEmbedder(dim=6, mode=mode, seed=3).embed(POOL).X
    c = HashingEmbedder(dim=6, mode=mode, seed=4).embed(POOL).X
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bits_do_not_depend_on_blas_threads():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        a = HashingEmbedder(dim=12, seed=0).embed(POOL).X
    with threadpool_limits(limits=4):
        b = HashingEmbedder(dim=12, seed=0).embed(POOL).X
    assert np.array_equal(a, b)


def test_config_records_every_setting_and_reproduces():
    emb = HashingEmbedder(dim=5, ngram_range=(1, 3), analyzer="word", seed=7, n_features=2**12)
    feats = emb.embed(POOL)
    cfg = feats.config
    assert feats.name == "hashing"
    for key, val in {
        "dim": 5,
        "mode": "joint",
        "n_features": 4096,
        "ngram_range": [1, 3],
        "analyzer": "word",
        "seed": 7,
        "center": True,
        "pool_fingerprint": POOL.fingerprint(),
    }.items():
        assert cfg[key] == val, key
    assert cfg["scale"] > 0 and 0 < cfg["explained_variance_ratio"] <= 1 + 1e-9 and cfg["rank"] == 5
    cfg = json.loads(json.dumps(cfg))  # JSON-safe, and a stored config rebuilds the same features
    assert np.array_equal(HashingEmbedder.from_config(cfg).embed(POOL).X, feats.X)


def _sklearn_tfidf() -> np.ndarray:
    """Dense tf-idf of hash(prompt \\n response), word 1-2-grams in 2**10 buckets, built by scikit-learn alone."""
    texts = [f"{POOL.prompts[n]}\n{r}" for n in range(POOL.n_prompts) for r in POOL.responses_of(n)]
    H = HashingVectorizer(
        n_features=2**10, token_pattern=r"(?u)\b\w+\b", ngram_range=(1, 2), alternate_sign=False, norm=None
    ).transform(texts)
    return TfidfTransformer(sublinear_tf=True).fit_transform(H).toarray()


def test_matches_an_independent_sklearn_pipeline():
    """Word analyzer, no centring: X = LSA(tf-idf(hash(prompt \\n response))) / max row norm (dense oracle)."""
    T = _sklearn_tfidf()
    T = T[:, np.any(T != 0, axis=0)]  # the recipe projects the non-empty hash columns
    Z = TruncatedSVD(4, random_state=1).fit_transform(T)
    expected = Z / np.linalg.norm(Z, axis=1).max()
    feats = HashingEmbedder(dim=4, analyzer="word", n_features=2**10, seed=1, center=False).embed(POOL)
    # the recipe runs the SVD in float32: agreement to float32 accuracy on unit-scale features
    np.testing.assert_allclose(feats.X, expected, rtol=0, atol=1e-5)
    assert feats.config["scale"] == pytest.approx(np.linalg.norm(Z, axis=1).max(), rel=1e-5)


def test_large_pools_fit_the_svd_on_a_seeded_subsample():
    """fit_size < texts: LSA basis fitted on a uniform subsample (drawn with seed), then every text projected."""
    T = _sklearn_tfidf()
    rows = np.sort(np.random.default_rng(1).choice(len(T), 20, replace=False))
    cols = np.any(T[rows] != 0, axis=0)
    svd = TruncatedSVD(4, random_state=1).fit(T[rows][:, cols])
    Z = T[:, cols] @ svd.components_.T
    emb = HashingEmbedder(dim=4, analyzer="word", n_features=2**10, seed=1, center=False, fit_size=20)
    feats = emb.embed(POOL)
    np.testing.assert_allclose(feats.X, Z / np.linalg.norm(Z, axis=1).max(), rtol=0, atol=1e-5)
    assert feats.config["fit_size"] == 20
    # a fit_size at or above the pool's size is the plain fit on every text, bit for bit
    full = HashingEmbedder(dim=4, analyzer="word", n_features=2**10, seed=1, center=False)
    assert np.array_equal(full.embed(POOL).X, dataclasses.replace(full, fit_size=len(T)).embed(POOL).X)


def test_char_ngrams_tell_numbers_apart():
    pool = Pool.from_lists(["What is 20 + 22?"], [["42", "43"]])
    X = HashingEmbedder(dim=2).embed(pool).X
    assert np.linalg.norm(X[0] - X[1]) > 0.5


def test_concat_blocks_and_cancelling_prompt_half():
    feats = HashingEmbedder(dim=7, mode="concat", seed=0).embed(POOL)
    assert feats.X.shape == (POOL.n_responses, 7)
    assert feats.config["block_dims"] == {"prompt": 3, "response": 4}
    assert set(feats.config["rank"]) == {"prompt", "response"}
    B = POOL.pairs().differences(feats.X)
    np.testing.assert_allclose(B[:, :3], 0, atol=1e-15)  # the prompt block is shared within a prompt
    assert np.all(np.linalg.norm(B[:, 3:], axis=1) > 0)
    assert np.linalg.norm(feats.X, axis=1).max() <= 1 + 1e-12


def test_rank_below_dim_pads_with_zero_columns():
    pool = Pool.from_lists(["Say hi.", "Say bye."], [["hi", "hello"], ["bye", "goodbye"]])
    feats = HashingEmbedder(dim=16, center=False).embed(pool)
    assert feats.X.shape == (4, 16)
    assert feats.config["rank"] <= 4
    np.testing.assert_array_equal(feats.X[:, 4:], 0)
    assert np.linalg.matrix_rank(feats.X) == feats.config["rank"]


def test_duplicate_texts_give_the_number_of_distinct_texts_as_rank():
    """6 texts, 3 distinct: three informative directions, the rest zero columns (the float32 SVD adds no noise ones)."""
    pool = Pool.from_lists(["Say hi.", "Say bye."], [["hi", "hi", "hello"], ["bye", "bye", "bye"]])
    feats = HashingEmbedder(dim=6, center=False).embed(pool)
    assert feats.config["rank"] == 3
    np.testing.assert_array_equal(feats.X[:, 3:], 0)
    assert np.linalg.matrix_rank(feats.X) == 3


@pytest.mark.parametrize(
    "kwargs,what",
    [
        ({"dim": 0}, "dim"),
        ({"dim": -3}, "dim"),
        ({"dim": 2.5}, "dim"),
        ({"dim": True}, "dim"),
        ({"dim": 1, "mode": "concat"}, "dim"),
        ({"mode": "sum"}, "mode"),
        ({"ngram_range": (2, 1)}, "ngram_range"),
        ({"ngram_range": (0, 1)}, "ngram_range"),
        ({"analyzer": "bpe"}, "analyzer"),
        ({"n_features": 0}, "n_features"),
        ({"seed": -1}, "seed"),
        ({"char_ngram_range": 3}, "char_ngram_range"),
        ({"fit_size": 0}, "fit_size"),
    ],
)
def test_bad_settings_name_the_parameter(kwargs, what):
    with pytest.raises(FeatureError, match=rf"^{what}"):
        HashingEmbedder(**kwargs)


def test_get_embedder():
    emb = get_embedder("hashing", dim=3, seed=2)
    assert isinstance(emb, HashingEmbedder) and emb.dim == 3 and emb.seed == 2
    with pytest.raises(FeatureError, match="'bert'"):
        get_embedder("bert")


def test_scale_to_unit_ball():
    X = np.array([[3.0, 4.0], [0.0, 1.0], [-6.0, 8.0]])
    Y, s = scale_to_unit_ball(X)
    assert s == 10.0
    np.testing.assert_allclose(Y, X / 10)
    with pytest.raises(FeatureError, match="same text"):
        scale_to_unit_ball(np.zeros((3, 2)))
