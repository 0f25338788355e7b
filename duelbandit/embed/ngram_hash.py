"""Hashed n-gram counts, vectorised: the same sparse matrix as scikit-learn's ``HashingVectorizer``, ~3x faster.

scikit-learn builds every n-gram as a Python string and hashes it one at a time; on short texts that
loop is most of the hashing embedder's time. Here the texts of a chunk become one code-point array,
every n-gram is a window ``[start, start + length)`` of its UTF-8 bytes, and all windows are hashed at
once with a vectorised MurmurHash3_x86_32 (Appleby 2011, seed 0), the hash scikit-learn uses. Column
``abs(h) % n_features`` (with scikit-learn's rule for ``h = -2**31``) and the count per (text, column)
then give a matrix equal to ``HashingVectorizer(..., alternate_sign=False, norm=None, lowercase=True)``
entry for entry (same ``indptr``, ``indices`` and ``data``), so features built on it are unchanged.

Windows that are n-grams:

- ``"char_wb"``: each text is lower-cased, split on whitespace, and written as ``" w1 w2 ... wk "``; an
  n-gram is a window of n code points with no space strictly inside it (scikit-learn pads every word
  with one space on each side and takes its windows; a padded word shorter than n counts once, whole,
  which is the window of its own length; longer n give nothing).
- ``"word"``: tokens of ``token_pattern`` on the lower-cased text, written ``"t1 t2 ... tk"``; an n-gram
  is the bytes from the start of token j to the end of token j + n - 1, which is ``" ".join`` of them.

Texts are separated by ``"\\n"`` (neither analyser keeps one inside a text) and processed in chunks of at
most ~1M code points, so memory stays bounded on large pools and long texts. Texts that cannot be encoded
as UTF-8 (lone surrogates) go to scikit-learn, which raises the same error it always has.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import scipy.sparse as sp

_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_M1, _M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
_CHUNK_CHARS = 2**20  # code points per vectorised pass: ~100 MB of index arrays at the peak
_WORD = r"(?u)\b\w+\b"  # tokens of \w+ never hold the space and newline we join with


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _words32(buf: np.ndarray) -> np.ndarray:
    """w[i] = the little-endian uint32 of buf[i:i + 4] (zero-padded past the end), for every i."""
    b = np.concatenate([buf, np.zeros(3, dtype=np.uint8)]).astype(np.uint32)
    n = len(buf)
    return b[:n] | (b[1 : n + 1] << np.uint32(8)) | (b[2 : n + 2] << np.uint32(16)) | (
        b[3 : n + 3] << np.uint32(24)
    )


def murmurhash3_32(buf: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Signed MurmurHash3_x86_32 (seed 0) of the byte strings ``buf[s:s + n]``, all at once.

    Equals ``sklearn.utils.murmurhash3_32(bytes(buf[s:s + n]), seed=0)`` for every (s, n).
    """
    buf = np.asarray(buf, dtype=np.uint8)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    w = _words32(buf)
    h = np.zeros(len(starts), dtype=np.uint32)
    nblocks = lengths >> 2
    active = np.flatnonzero(nblocks > 0)
    b = 0
    while active.size:
        k = _rotl(w[starts[active] + 4 * b] * _C1, 15) * _C2
        h[active] = _rotl(h[active] ^ k, 13) * np.uint32(5) + np.uint32(0xE6546B64)
        b += 1
        active = active[nblocks[active] > b]
    rem = (lengths & 3).astype(np.uint32)
    tail = np.flatnonzero(rem)
    if tail.size:
        # the last len % 4 bytes, little-endian: the word at the tail with its high bytes masked off
        k = w[starts[tail] + 4 * nblocks[tail]] & ((np.uint32(1) << (np.uint32(8) * rem[tail])) - np.uint32(1))
        h[tail] ^= _rotl(k * _C1, 15) * _C2
    h ^= lengths.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= _M1
    h ^= h >> np.uint32(13)
    h *= _M2
    h ^= h >> np.uint32(16)
    return h.view(np.int32)


def _columns(h: np.ndarray, n_features: int) -> np.ndarray:
    """scikit-learn's column of a signed hash: abs(h) % n_features, and for h = -2**31 (whose abs overflows
    int32) the value scikit-learn defines, (2**31 - 1 - (n_features - 1)) % n_features."""
    col = np.abs(h.astype(np.int64)) % n_features
    col[h == np.iinfo(np.int32).min] = (2147483647 - (n_features - 1)) % n_features
    return col


def _encode(big: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code points, UTF-8 bytes, byte offset of each code point plus the end) of ``big``."""
    if big.isascii():
        buf = np.frombuffer(big.encode("ascii"), dtype=np.uint8)
        return buf, buf, np.arange(len(buf) + 1, dtype=np.int64)
    cps = np.frombuffer(big.encode("utf-32-le"), dtype="<u4")
    buf = np.frombuffer(big.encode("utf-8"), dtype=np.uint8)  # raises on lone surrogates, as sklearn does
    width = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
    off = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(width, out=off[1:])
    return cps, buf, off


def _grid(ok: np.ndarray, weight: np.ndarray | None = None):
    """Flat (anchor, order index, weight) of the True cells of an (anchors, orders) grid, anchor-major."""
    a, k = np.nonzero(ok)
    return a, k, (np.ones(len(a)) if weight is None else weight[a, k])


def _char_wb_windows(texts: list[str], lo: int, hi: int):
    """(row, byte start, byte length, count, bytes) of every char_wb n-gram, lo <= n <= hi, rows ascending."""
    big = "\n".join(" " + " ".join(ws) + " " if (ws := t.lower().split()) else "" for t in texts)
    cps, buf, off = _encode(big)
    L = len(cps)
    newline = np.concatenate([cps == 10, np.ones(hi, dtype=bool)])  # past the end reads as a newline
    space = np.concatenate([cps == 32, np.zeros(hi, dtype=bool)])
    sep = np.zeros(L + hi + 1, dtype=np.int32)
    np.cumsum(newline | space, out=sep[1:])
    i = np.arange(L)
    ns = np.arange(lo, hi + 1)
    # window (i, n): no newline at either end, no space or newline strictly inside
    ok = ~newline[:L, None] & ~newline[i[:, None] + ns[None, :] - 1]
    inner = sep[i[:, None] + np.maximum(ns - 1, 1)[None, :]] - sep[i[:, None] + 1]
    ok &= (inner == 0) | (ns[None, :] <= 2)
    weight = None
    if lo == 1:
        # scikit-learn pads each word on its own, so the space two words share is two unigrams: count
        # a space once per word it precedes and twice in all (before/after), i.e. 2 per following word
        before_word = space[:L] & ~newline[1 : L + 1] & ~space[1 : L + 1]
        ok[:, 0] &= ~space[:L] | before_word
        weight = np.ones(ok.shape)
        weight[before_word, 0] = 2.0
    a, k, w = _grid(ok, weight)
    row = np.zeros(L + 1, dtype=np.int64)
    np.cumsum(newline[:L], out=row[1:])  # texts ended before position i
    return row[a], off[a], off[a + ns[k]] - off[a], w, buf


def _word_windows(texts: list[str], lo: int, hi: int, token_pattern: str):
    """(row, byte start, byte length, count, bytes) of every word n-gram, lo <= n <= hi, rows ascending."""
    findall = re.compile(token_pattern).findall
    big = "\n".join(" ".join(findall(t.lower())) for t in texts)
    cps, buf, off = _encode(big)
    L = len(cps)
    newline = cps == 10
    cut = np.flatnonzero(newline | (cps == 32))
    left = np.concatenate([[0], cut + 1])  # token t spans [left[t], right[t]) in code points
    right = np.concatenate([cut, [L]])
    row = np.concatenate([[0], np.cumsum(newline[cut])])
    keep = right > left  # an empty text leaves an empty span between two newlines
    left, right, row = left[keep], right[keep], row[keep]
    K = len(left)
    ns = np.arange(lo, hi + 1)
    last = np.arange(K)[:, None] + ns[None, :] - 1  # the n-gram (t, n) ends at token t + n - 1
    inside = last < K
    ok = inside & (row[:, None] == row[np.minimum(last, K - 1)])  # all n tokens in one text
    a, k, w = _grid(ok)
    end = right[a + ns[k] - 1]
    return row[a], off[left[a]], off[end] - off[left[a]], w, buf


def _chunks(texts: list[str]):
    """Consecutive slices of ``texts`` of at most ``_CHUNK_CHARS`` code points (a longer text is its own)."""
    ends = np.cumsum([len(t) + 1 for t in texts])
    start = 0
    while start < len(texts):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + _CHUNK_CHARS, side="right")), start + 1)
        yield list(texts[start:stop])
        start = stop


def hashed_ngram_counts(
    texts: list[str],
    *,
    analyzer: Literal["word", "char_wb"],
    ngram_range: tuple[int, int],
    n_features: int,
    token_pattern: str = _WORD,
) -> sp.csr_matrix:
    """(len(texts), n_features) n-gram counts, equal to scikit-learn's ``HashingVectorizer`` with
    ``analyzer``, ``ngram_range``, ``n_features``, ``token_pattern``, ``alternate_sign=False``, ``norm=None``,
    ``dtype=float64`` (lower-casing on, no accent stripping, no stop words). Canonical CSR (sorted indices).
    """
    lo, hi = ngram_range
    vectorised = analyzer == "char_wb" or token_pattern == _WORD
    blocks = []
    for chunk in _chunks(texts):
        windows = None
        if vectorised:
            try:
                if analyzer == "char_wb":
                    windows = _char_wb_windows(chunk, lo, hi)
                else:
                    windows = _word_windows(chunk, lo, hi, token_pattern)
            except UnicodeEncodeError:  # lone surrogates: let scikit-learn raise its own error
                pass
        if windows is None:
            blocks.append(_sklearn_counts(chunk, analyzer, ngram_range, n_features, token_pattern))
            continue
        row, start, length, count, buf = windows
        col = _columns(murmurhash3_32(buf, start, length), n_features)
        indptr = np.zeros(len(chunk) + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=len(chunk)), out=indptr[1:])
        X = sp.csr_matrix((count, col, indptr), shape=(len(chunk), n_features))
        # two counting-sort transposes order each row's columns in O(nnz) (a per-row sort costs 3x more);
        # then duplicates are adjacent and summing them gives scikit-learn's canonical matrix
        X = X.tocsc().tocsr()
        X.sum_duplicates()
        blocks.append(X)
    if not blocks:
        return sp.csr_matrix((0, n_features), dtype=np.float64)
    out = sp.vstack(blocks, format="csr") if len(blocks) > 1 else blocks[0]
    out.indices = out.indices.astype(np.int32, copy=False)
    out.indptr = out.indptr.astype(np.int32 if out.nnz < 2**31 else np.int64, copy=False)
    return out


def _sklearn_counts(texts, analyzer, ngram_range, n_features, token_pattern) -> sp.csr_matrix:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=n_features,
        analyzer=analyzer,
        ngram_range=ngram_range,
        token_pattern=token_pattern,
        alternate_sign=False,
        norm=None,
        dtype=np.float64,
    ).transform(texts).tocsr()
