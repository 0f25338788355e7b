"""Vectorised n-gram hashing: the same matrix as scikit-learn's HashingVectorizer, entry for entry."""

from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.utils import murmurhash3_32 as sk_murmur

from duelbandit.embed import ngram_hash
from duelbandit.embed.ngram_hash import hashed_ngram_counts, murmurhash3_32

WORD = r"(?u)\b\w+\b"
# ASCII, 2-, 3- and 4-byte UTF-8, case pairs whose lower() changes length, every kind of whitespace
ALPHABET = list("ab Zc.,!1  \t\n\r\x0b\x0c\u2003\u00a0éÉ中文😀ßİ\u0301_-")


def _random_texts(rng: np.random.Generator, m: int, max_len: int = 70) -> list[str]:
    return ["".join(rng.choice(ALPHABET, rng.integers(0, max_len))) for _ in range(m)]


EDGE = ["", " ", "\n\n", "a", "  ab  cd  ", "x" * 700, "Hello, World!\n\nfoo  bar", "İstanbul ÇAY", "😀😀 😀"]


def _sklearn(texts, analyzer, ngram_range, n_features):
    return HashingVectorizer(
        n_features=n_features,
        analyzer=analyzer,
        ngram_range=ngram_range,
        token_pattern=WORD,
        alternate_sign=False,
        norm=None,
        dtype=np.float64,
    ).transform(texts)


def _assert_same_csr(ours, ref):
    ref = ref.tocsr()
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(ours.indptr, ref.indptr)
    np.testing.assert_array_equal(ours.indices, ref.indices)  # canonical: sorted, no duplicates
    np.testing.assert_array_equal(ours.data, ref.data)


def test_murmurhash_equals_sklearn_on_random_byte_strings():
    rng = np.random.default_rng(0)
    buf = rng.integers(0, 256, size=4000, dtype=np.uint8)
    starts = rng.integers(0, 3900, size=3000)
    lengths = rng.integers(0, 41, size=3000)  # 0..10 blocks and every tail length
    ours = murmurhash3_32(buf, starts, lengths)
    ref = [sk_murmur(bytes(buf[s : s + n]), seed=0) for s, n in zip(starts, lengths)]
    np.testing.assert_array_equal(ours, np.array(ref, dtype=np.int32))


@pytest.mark.parametrize(
    ("analyzer", "ngram_range"),
    [("char_wb", (2, 4)), ("char_wb", (1, 5)), ("char_wb", (3, 3)), ("word", (1, 2)), ("word", (1, 3)), ("word", (2, 2))],
)
@pytest.mark.parametrize("n_features", [2**18, 97, 8])  # 97 and 8: collisions in every row
def test_equals_sklearn_hashing_vectorizer(analyzer, ngram_range, n_features):
    texts = _random_texts(np.random.default_rng(1), 150) + EDGE
    ours = hashed_ngram_counts(texts, analyzer=analyzer, ngram_range=ngram_range, n_features=n_features)
    _assert_same_csr(ours, _sklearn(texts, analyzer, ngram_range, n_features))


def test_the_hash_of_minus_two_to_the_31_follows_sklearn():
    # abs(-2**31) overflows int32; scikit-learn defines its column explicitly, and so must we
    h = np.array([np.iinfo(np.int32).min, -5, 5, 0], dtype=np.int32)
    cols = ngram_hash._columns(h, 1000)
    assert list(cols) == [(2147483647 - 999) % 1000, 5, 5, 0]


def test_chunk_boundaries_change_nothing(monkeypatch):
    texts = _random_texts(np.random.default_rng(2), 53) + EDGE
    ref = _sklearn(texts, "char_wb", (2, 4), 2**12)
    monkeypatch.setattr(ngram_hash, "_CHUNK_CHARS", 40)  # a few texts per chunk, the long one alone
    _assert_same_csr(hashed_ngram_counts(texts, analyzer="char_wb", ngram_range=(2, 4), n_features=2**12), ref)
    ref = _sklearn(texts, "word", (1, 2), 2**12)
    _assert_same_csr(hashed_ngram_counts(texts, analyzer="word", ngram_range=(1, 2), n_features=2**12), ref)


def test_lone_surrogates_fail_as_sklearn_fails():
    with pytest.raises(UnicodeEncodeError):
        _sklearn(["ok", "bad \ud800 text"], "char_wb", (2, 4), 64)
    with pytest.raises(UnicodeEncodeError):
        hashed_ngram_counts(["ok", "bad \ud800 text"], analyzer="char_wb", ngram_range=(2, 4), n_features=64)


def test_other_token_patterns_take_sklearn_path():
    texts = ["a bb ccc", "dd-ee ff"]
    pattern = r"(?u)\b\w\w+\b"  # scikit-learn's default, which drops 1-character tokens
    ours = hashed_ngram_counts(texts, analyzer="word", ngram_range=(1, 2), n_features=64, token_pattern=pattern)
    ref = HashingVectorizer(
        n_features=64, analyzer="word", ngram_range=(1, 2), alternate_sign=False, norm=None
    ).transform(texts)
    _assert_same_csr(ours, ref)


def test_tokens_equal_re_findall_per_text():
    """The array tokenizer finds exactly the tokens of ``\\b\\w+\\b`` in each lower-cased text, in order."""
    texts = _random_texts(np.random.default_rng(3), 200) + EDGE + ["x_1 y\n\nz", "ΣΑΣ σας. ΟΔΟΣ"]
    cps, left, right, row = ngram_hash._tokens(texts)
    chars = "".join(map(chr, cps))
    got = [[] for _ in texts]
    for a, b, r in zip(left, right, row):
        got[r].append(chars[a:b])
    assert got == [re.findall(WORD, t.lower()) for t in texts]


@pytest.mark.parametrize("char_range", [(2, 4), (1, 3)])
def test_analysers_side_by_side_equal_sklearn_hstack(char_range, monkeypatch):
    """hashed_counts (one pass over both analysers) = hstack of scikit-learn's matrices, on one chunk and on
    many; the compact form is that matrix on its non-empty columns."""
    texts = _random_texts(np.random.default_rng(4), 120) + EDGE + ["", ""]
    specs = [ngram_hash.Analyzer("word", (1, 2)), ngram_hash.Analyzer("char_wb", char_range)]
    ref = sp.hstack([_sklearn(texts, "word", (1, 2), 2**10), _sklearn(texts, "char_wb", char_range, 2**10)]).tocsr()
    for chunk_chars in (2**20, 50):  # one chunk; then a few texts per chunk
        monkeypatch.setattr(ngram_hash, "_CHUNK_CHARS", chunk_chars)
        _assert_same_csr(ngram_hash.hashed_counts(texts, specs, 2**10), ref)
        X, cols = ngram_hash.hashed_counts_compact(texts, specs, 2**10)
        np.testing.assert_array_equal(cols, np.flatnonzero(ref.getnnz(axis=0)))
        _assert_same_csr(X, ref[:, cols])


def test_empty_inputs():
    specs = [ngram_hash.Analyzer("word", (1, 2)), ngram_hash.Analyzer("char_wb", (2, 4))]
    assert ngram_hash.hashed_counts([], specs, 64).shape == (0, 128)
    for texts in ([""], ["", " ", "\n"]):
        X = ngram_hash.hashed_counts(texts, specs, 64)
        assert X.shape == (len(texts), 128) and X.nnz == 0
