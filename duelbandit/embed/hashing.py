"""The default embedder: hashed n-grams -> tf-idf -> truncated SVD -> unit ball. No model, no download.

psi(x, y) for response y of prompt x is built in four recorded steps:

1. text -> sparse counts equal to scikit-learn's ``HashingVectorizer`` (word n-grams over ``\\w+`` tokens, so
   single digits count, and/or character n-grams within word boundaries, which tell ``42`` from ``43``);
2. tf-idf weighting (``TfidfTransformer(sublinear_tf=True)``, rows l2-normalised) fitted on this pool;
3. projection to ``dim`` dimensions with ``TruncatedSVD(algorithm="randomized", random_state=seed)``
   (latent semantic analysis, Halko et al. 2011) of the tf-idf matrix restricted to its non-empty
   columns, in float32 (features equal to a float64 fit to ~1e-5, at half the memory traffic), then
   optional centering over the pool's responses;
4. one global scale so that max_r ||psi_r|| = 1 (Scheid et al. 2024, H1), see :func:`scale_to_unit_ball`.

Centering leaves every within-prompt difference psi_i - psi_j unchanged, but removes the large shared
first SVD component, so after step 4 the differences (what the design sees) are larger.

Rank: when the pool has fewer texts (or fewer independent ones) than ``dim``, the SVD yields only
``rank`` informative directions; the remaining columns are zeros, so X always has ``dim`` columns and
``config["rank"]`` says how many carry information (the design handles a singular M(w)).
"""

from __future__ import annotations

import functools
from dataclasses import KW_ONLY, asdict, dataclass, fields
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from threadpoolctl import ThreadpoolController

from duelbandit.embed.base import scale_to_unit_ball
from duelbandit.embed.heap import retain_heap
from duelbandit.embed.ngram_hash import Analyzer, hashed_counts, hashed_counts_compact
from duelbandit.errors import FeatureError
from duelbandit.types import Features, Pool

_TOKEN = r"(?u)\b\w+\b"  # scikit-learn's default drops 1-character tokens, i.e. single digits


@functools.cache
def _blas() -> ThreadpoolController:
    # built once: threadpool_limits() re-scans the loaded libraries on every call (3-10 ms, a tenth of a
    # 2,000-text embed); numpy's and scipy's BLAS are loaded by the imports above, before the first call
    return ThreadpoolController()


def _int(name: str, v: object, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise FeatureError(f"{name}: expected an integer >= {lo}, got {v!r}")
    return int(v)


def _range(name: str, v: object) -> tuple[int, int]:
    try:
        a, b = v  # type: ignore[misc]
        a, b = _int(name, a, 1), _int(name, b, 1)
    except (TypeError, ValueError, FeatureError):
        raise FeatureError(
            f"{name}: expected a pair (low, high) of integers 1 <= low <= high, got {v!r}"
        ) from None
    if a > b:
        raise FeatureError(f"{name}: expected low <= high, got {v!r}")
    return a, b


def _nonempty_columns(X: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """``X`` restricted to its non-empty columns (in order), and their indices in ``X``.

    The same matrix as ``X[:, cols]``, built by relabelling ``indices`` in O(nnz) (rows stay sorted, since the
    relabelling is monotone) instead of scipy's general column indexing.
    """
    cols = np.flatnonzero(np.bincount(X.indices, minlength=X.shape[1]))
    if len(cols) == X.shape[1]:
        return X, cols
    new = np.zeros(X.shape[1], dtype=X.indices.dtype)
    new[cols] = np.arange(len(cols), dtype=X.indices.dtype)
    out = sp.csr_matrix((X.data, new[X.indices], X.indptr), shape=(X.shape[0], len(cols)))
    out.has_sorted_indices = X.has_sorted_indices
    return out, cols


@dataclass(frozen=True)
class LSAFit:
    """A fitted step 3: tf-idf rows -> ``dim`` LSA coordinates (see :meth:`HashingEmbedder.fit_lsa`).

    ``cols`` are the tf-idf matrix's columns the SVD was fitted on; directions below the rank tolerance
    (``keep`` False) and those beyond the fit's row count are zero columns.
    """

    svd: TruncatedSVD
    cols: np.ndarray
    keep: np.ndarray
    dim: int

    @property
    def rank(self) -> int:
        return int(self.keep.sum())

    @property
    def explained(self) -> float:
        """Explained-variance ratio of the kept directions, on the rows the SVD was fitted on."""
        return float(self.svd.explained_variance_ratio_[self.keep].sum())

    def pad(self, Zk: np.ndarray) -> np.ndarray:
        Z = np.zeros((Zk.shape[0], self.dim))  # float64 from here on: the design's precision
        Z[:, : Zk.shape[1]] = np.where(self.keep[None, :], Zk, 0.0)
        return Z

    def transform(self, T: sp.csr_matrix) -> np.ndarray:
        """(rows, dim) coordinates of tf-idf rows ``T`` (same columns as the matrix the fit was given)."""
        with _blas().limit(limits=1, user_api="blas"):
            return self.pad(self.svd.transform(T[:, self.cols].astype(np.float32)))


@dataclass(frozen=True)
class HashingEmbedder:
    """Model-free, deterministic features: hashing n-grams -> tf-idf -> SVD to ``dim`` -> ||psi|| <= 1.

    Args:
        dim: output dimension d (>= 1; >= 2 for ``mode="concat"``).
        mode: ``"joint"`` embeds the text ``prompt + "\\n" + response`` (default: the response is read in
            its prompt's context); ``"concat"`` concatenates a prompt block (``dim // 2`` columns, fitted on
            the prompts) and a response block (the rest, fitted on the responses). In ``"concat"`` the
            prompt block is the same for all responses of a prompt, so it cancels in psi_i - psi_j: a
            linear reward on it cannot let the prompt change which response is better.
        n_features: hash buckets per analyzer (2**18 by default; collisions are rare at pool sizes).
        ngram_range: word n-gram orders (low, high).
        analyzer: ``"word"``, ``"char"`` (character n-grams inside word boundaries) or ``"both"`` (default).
        char_ngram_range: character n-gram orders, used by ``"char"`` and ``"both"``.
        seed: ``random_state`` of the randomized SVD. Same pool + same settings + same seed gives
            bit-identical features on a given machine and library build, whatever the thread settings
            (the SVD runs on one BLAS thread); another seed gives features equal up to the SVD's accuracy.
        center: subtract the mean over responses after the projection (default True).
        fit_size: the SVD is fitted on at most this many texts (a uniform subsample drawn with ``seed``
            when there are more) and then projects all of them: on large pools the fit, not the
            projection, is the cost, and 10,000 texts pin a 32-128-d LSA basis down well. Pools of up to
            ``fit_size`` texts are fitted on every text, as before.

    Example:
        >>> feats = HashingEmbedder(dim=32, seed=0).embed(pool)  # doctest: +SKIP
        >>> feats.X.shape == (pool.n_responses, 32)  # doctest: +SKIP
    """

    dim: int = 32
    _: KW_ONLY
    mode: Literal["joint", "concat"] = "joint"
    n_features: int = 2**18
    ngram_range: tuple[int, int] = (1, 2)
    analyzer: Literal["word", "char", "both"] = "both"
    char_ngram_range: tuple[int, int] = (2, 4)
    seed: int = 0
    center: bool = True
    fit_size: int = 10_000

    name: ClassVar[str] = "hashing"

    def __post_init__(self) -> None:
        # validated here, not at embed time: a wrong setting should fail before a long run starts
        _int("dim", self.dim, 1)
        if self.mode not in ("joint", "concat"):
            raise FeatureError(f"mode: expected 'joint' or 'concat', got {self.mode!r}")
        if self.mode == "concat" and self.dim < 2:
            raise FeatureError(
                f"dim: mode='concat' splits dim between prompt and response; need dim >= 2, got {self.dim}"
            )
        _int("n_features", self.n_features, 1)
        object.__setattr__(self, "ngram_range", _range("ngram_range", self.ngram_range))
        object.__setattr__(self, "char_ngram_range", _range("char_ngram_range", self.char_ngram_range))
        if self.analyzer not in ("word", "char", "both"):
            raise FeatureError(f"analyzer: expected 'word', 'char' or 'both', got {self.analyzer!r}")
        _int("seed", self.seed, 0)
        _int("fit_size", self.fit_size, 1)
        if not isinstance(self.center, (bool, np.bool_)):
            raise FeatureError(f"center: expected True or False, got {self.center!r}")

    @classmethod
    def from_config(cls, config: dict) -> HashingEmbedder:
        """The embedder that produced ``Features.config`` (extra keys such as ``scale`` are ignored)."""
        return cls(**{f.name: config[f.name] for f in fields(cls) if f.name in config})

    def _analyzers(self) -> list[Analyzer]:
        word = Analyzer("word", self.ngram_range, _TOKEN)
        char = Analyzer("char_wb", self.char_ngram_range)
        return {"word": [word], "char": [char], "both": [word, char]}[self.analyzer]

    def _hash(self, texts: list[str]) -> sp.csr_matrix:
        """Step 1: counts equal, entry for entry, to scikit-learn's HashingVectorizer per analyser, side by side
        (tested); ~5x faster on short texts."""
        return hashed_counts(texts, self._analyzers(), self.n_features)

    def fit_lsa(self, T: sp.csr_matrix, k: int) -> tuple[LSAFit, np.ndarray] | None:
        """Fit step 3 on the rows of a tf-idf matrix ``T`` (texts x hash columns): the randomized SVD to k
        dimensions, on every row or, above ``fit_size`` rows, on a subsample drawn with ``seed``, restricted to
        the columns non-empty in the rows it is fitted on. Returns the fit and the (rows, k) coordinates of
        every row of ``T``; None when the rows it would be fitted on are all empty.

        :class:`duelbandit.finetune.preference.HashingFeatureMap` fits through this too, so new texts are
        projected exactly as the pool's were.
        """
        m = T.shape[0]
        fit = T
        if m > self.fit_size:
            fit = T[np.sort(np.random.default_rng(self.seed).choice(m, self.fit_size, replace=False))]
        # the SVD sees only the hash columns some fitted text uses: the same singular values and vectors,
        # and the randomized SVD's dense (columns x k) steps shrink from 2**19 rows to the n-grams present
        fit, cols = _nonempty_columns(fit)
        if fit.nnz == 0:
            return None
        # float32: the SVD's sparse products move half the bytes (~2x faster); the features agree with a
        # float64 fit to ~1e-5 and the linear-BT ceiling on the bundled pool is unchanged (bench_embed)
        fit = fit.astype(np.float32)
        k_eff = min(k, fit.shape[0])  # randomized SVD silently returns min(k, m) columns; make that explicit
        svd = TruncatedSVD(n_components=k_eff, algorithm="randomized", random_state=self.seed)
        # one BLAS thread: multi-threaded dense products sum in a thread-count-dependent order, and the
        # features (hence the design and the batch) must be bit-identical on any CPU setting
        everyone = fit.shape[0] == m
        with _blas().limit(limits=1, user_api="blas"):
            Zk = svd.fit_transform(fit) if everyone else svd.fit(fit)
        s = svd.singular_values_
        keep = s > s.max() * max(fit.shape) * np.finfo(fit.dtype).eps  # numpy's matrix_rank tolerance
        lsa = LSAFit(svd=svd, cols=cols, keep=keep, dim=k)
        return lsa, (lsa.pad(Zk) if everyone else lsa.transform(T))

    def _block(self, texts: list[str], k: int) -> tuple[np.ndarray, int, float]:
        """(len(texts), k) LSA coordinates, their numerical rank, and the SVD's explained-variance ratio
        (both measured on the texts the SVD is fitted on)."""
        retain_heap()  # later calls reuse this one's freed memory instead of page-faulting it back in
        # tf-idf on the hash columns some text uses: the same weights as on all 2**19, for less work
        T = hashed_counts_compact(texts, self._analyzers(), self.n_features)[0]
        got = self.fit_lsa(TfidfTransformer(sublinear_tf=True).fit_transform(T), k) if T.nnz else None
        if got is None:
            return np.zeros((len(texts), k)), 0, 0.0
        lsa, Z = got
        return Z, lsa.rank, lsa.explained

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) LSA coordinates of ``texts`` (tf-idf + SVD fitted on them; steps 1-3, uncentred).

        Used for prompt-level vectors (skill discovery); :meth:`embed` is the pair-feature path.
        """
        return self._block(list(texts), self.dim)[0]

    def embed(self, pool: Pool) -> Features:
        """psi for every response of ``pool``, in ``pool.responses`` order; the recipe goes to config."""
        if self.mode == "joint":
            texts = [f"{pool.prompts[n]}\n{r}" for n, r in zip(pool.response_prompt, pool.responses)]
            Z, rank, evr = self._block(texts, self.dim)
            extra: dict = {"rank": rank, "explained_variance_ratio": evr}
        else:
            dp = self.dim // 2
            Zp, rp, ep = self._block(list(pool.prompts), dp)
            Zr, rr, er = self._block(list(pool.responses), self.dim - dp)
            Z = np.hstack([Zp[pool.response_prompt], Zr])
            extra = {
                "rank": {"prompt": rp, "response": rr},
                "explained_variance_ratio": {"prompt": ep, "response": er},
                "block_dims": {"prompt": dp, "response": self.dim - dp},
            }
        if self.center:
            Z = Z - Z.mean(axis=0, keepdims=True)
        X, scale = scale_to_unit_ball(Z)
        config = {
            "embedder": self.name,
            **asdict(self),
            **extra,
            "scale": scale,
            "projection": (
                "hashing->nonzero columns->tfidf(sublinear_tf)->float32 randomized svd (fit on <= fit_size texts)"
                "->center->max-norm"
            ),
            "pool_fingerprint": pool.fingerprint(),
            "sklearn_version": sklearn.__version__,
        }
        config["ngram_range"] = list(self.ngram_range)  # JSON-friendly, and from_config accepts lists
        config["char_ngram_range"] = list(self.char_ngram_range)
        return Features(X=X, name=self.name, config=config)
