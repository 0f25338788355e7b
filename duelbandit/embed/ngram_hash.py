"""Hashed n-gram counts, vectorised: the same sparse matrix as scikit-learn's ``HashingVectorizer``, ~5x faster.

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
  which is the window of its own length; longer n give nothing). On ASCII text the window at i is the n
  bytes at i, so each order hashes every position with sliding slices and a boolean grid keeps the n-grams.
- ``"word"``: tokens of ``\\b\\w+\\b`` (maximal runs of ``re``'s word characters, found with array operations,
  not a regex per text) on the lower-cased text, written ``"t1 t2 ... tk"``; an n-gram is the bytes from the
  start of token j to the end of token j + n - 1, which is ``" ".join`` of them. Other token patterns go to
  scikit-learn.

Texts are separated by ``"\\n"`` (neither analyser keeps one inside a text) and processed in chunks of at
most 2^18 code points, so memory stays bounded on large pools and long texts. Several analysers' counts are
assembled side by side in one pass (:func:`hashed_counts`), optionally on their non-empty columns only.
Texts that cannot be encoded (lone surrogates) go to scikit-learn, which raises the same error it always has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp

_C1, _C2 = np.uint32(0xCC9E2D51), np.uint32(0x1B873593)
_M1, _M2 = np.uint32(0x85EBCA6B), np.uint32(0xC2B2AE35)
_CHUNK_CHARS = 2**18  # code points per vectorised pass: its arrays (~25 MB) stay near the CPU caches
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
    return _fmix(h ^ lengths.astype(np.uint32)).view(np.int32)


def _fmix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's finaliser, in place on a fresh uint32 array."""
    h ^= h >> np.uint32(16)
    h *= _M1
    h ^= h >> np.uint32(13)
    h *= _M2
    h ^= h >> np.uint32(16)
    return h


def _columns(h: np.ndarray, n_features: int) -> np.ndarray:
    """scikit-learn's column of a signed hash: abs(h) % n_features, and for h = -2**31 (whose abs overflows
    int32) the value scikit-learn defines, (2**31 - 1 - (n_features - 1)) % n_features."""
    col = np.abs(h.astype(np.int64)) % n_features
    col[h == np.iinfo(np.int32).min] = (2147483647 - (n_features - 1)) % n_features
    return col


def _encode(big: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(code points, UTF-8 bytes, byte offset of each code point plus the end) of ``big``; the offsets are
    None for ASCII, where code point i is byte i."""
    if big.isascii():
        buf = np.frombuffer(big.encode("ascii"), dtype=np.uint8)
        return buf, buf, None
    cps = np.frombuffer(big.encode("utf-32-le"), dtype="<u4")
    buf = np.frombuffer(big.encode("utf-8"), dtype=np.uint8)  # raises on lone surrogates, as sklearn does
    width = 1 + (cps >= 0x80) + (cps >= 0x800) + (cps >= 0x10000)
    off = np.zeros(len(cps) + 1, dtype=np.int64)
    np.cumsum(width, out=off[1:])
    return cps, buf, off


def _char_wb_grid(cps: np.ndarray, lo: int, hi: int):
    """Which char_wb windows (i, n) of the joined text are n-grams: an (L, orders) grid, anchor-major, its
    count weights (None: all 1), and the row (text) of every anchor."""
    L = len(cps)
    newline = np.ones(L + hi, dtype=bool)  # past the end reads as a newline
    np.equal(cps, 10, out=newline[:L])
    sep = newline.copy()
    sep[:L] |= cps == 32
    # window (i, n): no newline at either end, no space or newline strictly inside; each order is a column
    # of shifted slices (no index arithmetic), and the inside grows by one position per order
    ok = np.empty((L, hi - lo + 1), dtype=bool)
    inside_clear = np.ones(L, dtype=bool)
    for n in range(2, hi + 1):
        if n > 2:
            inside_clear &= ~sep[n - 2 : n - 2 + L]
        if n >= lo:
            ok[:, n - lo] = ~newline[:L] & ~newline[n - 1 : n - 1 + L] & inside_clear
    weight = None
    if lo == 1:
        # scikit-learn pads each word on its own, so the space two words share is two unigrams: count
        # a space once per word it precedes and twice in all (before/after), i.e. 2 per following word
        space = sep[:L] & ~newline[:L]
        before_word = space & ~sep[1 : L + 1]
        ok[:, 0] = ~newline[:L] & (~space | before_word)
        weight = np.ones(ok.shape)
        weight[:, 0] = np.where(before_word, 2.0, 1.0)
    ended = newline[:L].astype(np.int64)
    row = np.cumsum(ended) - ended  # texts ended before position i
    return ok, weight, row


def _fixed_length_hashes(w: np.ndarray, L: int, n: int) -> np.ndarray:
    """Unsigned MurmurHash3_x86_32 of the n bytes at every position i < L, where ``w`` are the bytes' words
    (:func:`_words32`, at least L + n - 1 long): one length for all, so every step is a slice, no gather."""
    h = np.zeros(L, dtype=np.uint32)
    for b in range(n >> 2):
        k = _rotl(w[4 * b : 4 * b + L] * _C1, 15) * _C2
        h = _rotl(h ^ k, 13) * np.uint32(5) + np.uint32(0xE6546B64)
    if n & 3:
        k = w[n - (n & 3) : n - (n & 3) + L] & np.uint32((1 << (8 * (n & 3))) - 1)
        h ^= _rotl(k * _C1, 15) * _C2
    return _fmix(h ^ np.uint32(n))


def _char_wb_entries(texts: list[str], lo: int, hi: int, n_features: int):
    """(row, column, count) of every char_wb n-gram, lo <= n <= hi, rows ascending."""
    big = "\n".join(" " + " ".join(ws) + " " if (ws := t.lower().split()) else "" for t in texts)
    cps, buf, off = _encode(big)
    ok, weight, row = _char_wb_grid(cps, lo, hi)
    if off is None:
        # ASCII: an n-gram at i is the n bytes at i, so each order hashes every position with slices and the
        # grid keeps the n-grams (~3x faster than gathering the windows' bytes)
        L = len(buf)
        w = _words32(np.concatenate([buf, np.zeros(hi, dtype=np.uint8)]))
        H = np.empty(ok.shape, dtype=np.uint32)
        for n in range(lo, hi + 1):
            H[:, n - lo] = _fixed_length_hashes(w, L, n)
        per_anchor = np.count_nonzero(ok, axis=1)
        rows = np.repeat(row, per_anchor)
        count = np.ones(len(rows)) if weight is None else weight[ok]
        return rows, _columns(H[ok].view(np.int32), n_features), count
    a, k = np.nonzero(ok)  # anchor-major, so rows come out ascending
    n = k + lo
    h = murmurhash3_32(buf, off[a], off[a + n] - off[a])
    return row[a], _columns(h, n_features), (np.ones(len(a)) if weight is None else weight[a, k])


_ASCII_WORD = np.array([re.fullmatch(r"\w", chr(c)) is not None for c in range(128)])


def _is_word_char(cps: np.ndarray) -> np.ndarray:
    """``re``'s ``\\w`` (str.isalnum() or underscore) for every code point, each distinct one asked once."""
    if cps.dtype == np.uint8:
        return _ASCII_WORD[cps]
    word = np.zeros(len(cps), dtype=bool)
    ascii_ = cps < 128
    word[ascii_] = _ASCII_WORD[cps[ascii_]]
    if not ascii_.all():
        other = np.flatnonzero(~ascii_)
        uniq, inv = np.unique(cps[other], return_inverse=True)
        word[other] = np.array([re.fullmatch(r"\w", chr(c)) is not None for c in uniq])[inv]
    return word


def _tokens(texts: list[str]):
    """The tokens of ``\\b\\w+\\b`` (maximal runs of word characters) of every lower-cased text, found with
    array operations: (code points of all tokens, each followed by one space, token start, token end in
    those code points, text of each token). Equal to ``re.findall`` per text (tested)."""
    lows = [t.lower() for t in texts]
    lens = np.fromiter(map(len, lows), dtype=np.int64, count=len(lows))
    big = "\n".join(lows)
    cps = np.frombuffer(big.encode("ascii"), dtype=np.uint8) if big.isascii() else np.frombuffer(
        big.encode("utf-32-le"), dtype="<u4")  # raises on lone surrogates, as the UTF-8 step would
    N = len(cps)
    word = np.zeros(N + 1, dtype=bool)  # one non-word past the end
    word[:N] = _is_word_char(cps)
    after = np.zeros(N + 1, dtype=bool)
    after[1:] = word[:N]
    starts = np.flatnonzero(word & ~after)
    ends = np.flatnonzero(~word & after)  # one past each token's last character
    # keep the word characters and the character right after each token, which becomes its separator space
    keep = word[:N].copy()
    keep[ends[ends < N]] = True
    pos = np.cumsum(keep) - 1  # index of each kept character in the compacted array
    out = np.where(word[:N], cps, 32)[keep].astype(cps.dtype)
    row = np.searchsorted(np.cumsum(lens + 1), starts, side="right")  # texts ended before the token
    return out, pos[starts], pos[ends - 1] + 1, row


def _word_windows(texts: list[str], lo: int, hi: int):
    """(row, byte start, byte length, bytes) of every word n-gram (tokens of ``\\b\\w+\\b``), lo <= n <= hi,
    rows ascending; each counts once."""
    cps, left, right, row = _tokens(texts)
    buf, off = (cps, None) if cps.dtype == np.uint8 else _encode(cps.tobytes().decode("utf-32-le"))[1:]
    K = len(left)
    ok = np.zeros((K, hi - lo + 1), dtype=bool)
    for n in range(lo, min(hi, K) + 1):
        ok[: K - n + 1, n - lo] = row[: K - n + 1] == row[n - 1 :]  # all n tokens in one text
    a, k = np.nonzero(ok)
    end = right[a + k + (lo - 1)]  # the n-gram (t, n) ends at token t + n - 1
    if off is not None:
        left, end = off[left], off[end]
    return row[a], left[a], end - left[a], buf


def _chunks(texts: list[str]):
    """Consecutive slices of ``texts`` of at most ``_CHUNK_CHARS`` code points (a longer text is its own)."""
    ends = np.cumsum([len(t) + 1 for t in texts])
    start = 0
    while start < len(texts):
        base = ends[start - 1] if start else 0
        stop = max(int(np.searchsorted(ends, base + _CHUNK_CHARS, side="right")), start + 1)
        yield list(texts[start:stop])
        start = stop


@dataclass(frozen=True)
class Analyzer:
    """One n-gram analyser of a hashed count matrix (scikit-learn ``HashingVectorizer`` settings)."""

    analyzer: Literal["word", "char_wb"]
    ngram_range: tuple[int, int]
    token_pattern: str = _WORD


def _entries(chunk: list[str], spec: Analyzer, n_features: int):
    """(row, column, count) of every n-gram of ``chunk`` under ``spec``, rows ascending (not yet summed)."""
    lo, hi = spec.ngram_range
    if spec.analyzer == "char_wb" or spec.token_pattern == _WORD:
        try:
            if spec.analyzer == "char_wb":
                return _char_wb_entries(chunk, lo, hi, n_features)
            row, start, length, buf = _word_windows(chunk, lo, hi)
            return row, _columns(murmurhash3_32(buf, start, length), n_features), np.ones(len(row))
        except UnicodeEncodeError:  # lone surrogates: let scikit-learn raise its own error
            pass
    X = _sklearn_counts(chunk, spec.analyzer, spec.ngram_range, n_features, spec.token_pattern).tocoo()
    return X.row, X.col, X.data


def _chunk_counts(
    chunk: list[str], analyzers: list[Analyzer], n_features: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Canonical counts of one chunk on its non-empty columns, and those columns' indices (ascending)."""
    m = len(chunk)
    parts = []
    for spec in analyzers:
        row, col, count = _entries(chunk, spec, n_features)
        indptr = np.zeros(m + 1, dtype=np.int64)
        np.cumsum(np.bincount(row, minlength=m), out=indptr[1:])
        # a counting sort by column, O(nnz + columns) (sorting each row costs 3x more), keeps every column's
        # rows ascending, so duplicates are adjacent and summing them needs no sort
        X = sp.csr_matrix((count, col, indptr), shape=(m, n_features)).tocsc()
        X.sum_duplicates()
        parts.append(X)
    # the analysers own disjoint column blocks: stacking their columns is concatenation
    nnz = np.cumsum([0] + [X.nnz for X in parts])
    indptr = np.concatenate([X.indptr[:-1] + nnz[a] for a, X in enumerate(parts)] + [[nnz[-1]]])
    cols = np.flatnonzero(np.diff(indptr))
    C = sp.csc_matrix(
        (np.concatenate([X.data for X in parts]), np.concatenate([X.indices for X in parts]),
         np.append(indptr[cols], nnz[-1])),
        shape=(m, len(cols)),
    )
    R = C.tocsr()  # the second counting sort, by row, orders every row's columns
    R.has_canonical_format = True
    return R, cols


def _index_dtype(n: int) -> type:
    return np.int32 if n < 2**31 else np.int64


def _index_arrays(X: sp.csr_matrix) -> sp.csr_matrix:
    X.indices = X.indices.astype(_index_dtype(X.shape[1]), copy=False)
    X.indptr = X.indptr.astype(_index_dtype(X.nnz), copy=False)
    return X


def hashed_counts_compact(
    texts: list[str], analyzers: list[Analyzer], n_features: int
) -> tuple[sp.csr_matrix, np.ndarray]:
    """:func:`hashed_counts` restricted to its non-empty columns (``X[:, cols]``), and ``cols`` (ascending)."""
    blocks = [_chunk_counts(chunk, analyzers, n_features) for chunk in _chunks(texts)]
    if not blocks:
        return sp.csr_matrix((0, 0), dtype=np.float64), np.zeros(0, dtype=np.int64)
    if len(blocks) == 1:
        return _index_arrays(blocks[0][0]), blocks[0][1]
    # the union of the chunks' columns; each chunk's column ids map into it monotonically, so rows stay sorted
    cols = np.unique(np.concatenate([c for _, c in blocks]))
    nnz = np.cumsum([0] + [X.nnz for X, _ in blocks])
    X = sp.csr_matrix(
        (np.concatenate([X.data for X, _ in blocks]),
         np.concatenate([np.searchsorted(cols, c)[X.indices] for X, c in blocks]),
         np.concatenate([X.indptr[:-1] + nnz[i] for i, (X, _) in enumerate(blocks)] + [[nnz[-1]]])),
        shape=(len(texts), len(cols)),
    )
    X.has_canonical_format = True
    return _index_arrays(X), cols


def hashed_counts(texts: list[str], analyzers: list[Analyzer], n_features: int) -> sp.csr_matrix:
    """(len(texts), len(analyzers) * n_features) counts: the analysers' matrices side by side, equal to
    ``scipy.sparse.hstack`` of :func:`hashed_ngram_counts` for each, built in one pass. Canonical CSR."""
    width = len(analyzers) * n_features
    X, cols = hashed_counts_compact(texts, analyzers, n_features)
    indices = cols[X.indices].astype(_index_dtype(width))
    out = sp.csr_matrix((X.data, indices, X.indptr), shape=(len(texts), width))
    out.has_canonical_format = True
    return out


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
    return hashed_counts(texts, [Analyzer(analyzer, tuple(ngram_range), token_pattern)], n_features)


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
