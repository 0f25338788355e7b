"""The default embedder: hashed n-grams -> tf-idf -> truncated SVD -> unit ball. No model, no download.

psi(x, y) for response y of prompt x is built in four recorded steps:

1. text -> sparse counts equal to scikit-learn's ``HashingVectorizer`` (word n-grams over ``\\w+`` tokens, so
   single digits count, and/or character n-grams within word boundaries, which tell ``42`` from ``43``);
2. tf-idf weighting (``TfidfTransformer(sublinear_tf=True)``, rows l2-normalised) fitted on this pool;
3. projection to ``dim`` dimensions with ``TruncatedSVD(algorithm="randomized", random_state=seed)``
   (latent semantic analysis, Halko et al. 2011) of the tf-idf matrix restricted to its non-empty
   columns, then optional centering over the pool's responses;
4. one global scale so that max_r ||psi_r|| = 1 (Scheid et al. 2024, H1), see :func:`scale_to_unit_ball`.

Centering leaves every within-prompt difference psi_i - psi_j unchanged, but removes the large shared
first SVD component, so after step 4 the differences (what the design sees) are larger.

Rank: when the pool has fewer texts (or fewer independent ones) than ``dim``, the SVD yields only
``rank`` informative directions; the remaining columns are zeros, so X always has ``dim`` columns and
``config["rank"]`` says how many carry information (the design handles a singular M(w)).
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, asdict, dataclass, fields
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from threadpoolctl import ThreadpoolController

from duelbandit.embed.base import scale_to_unit_ball
from duelbandit.embed.ngram_hash import hashed_ngram_counts
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

    def _hash(self, texts: list[str]) -> sp.csr_matrix:
        # equal, entry for entry, to scikit-learn's HashingVectorizer (tested), ~3x faster on short texts
        jobs = []
        if self.analyzer in ("word", "both"):
            jobs.append(functools.partial(
                hashed_ngram_counts, texts, analyzer="word", ngram_range=self.ngram_range,
                n_features=self.n_features, token_pattern=_TOKEN,
            ))
        if self.analyzer in ("char", "both"):
            jobs.append(functools.partial(
                hashed_ngram_counts, texts, analyzer="char_wb", ngram_range=self.char_ngram_range,
                n_features=self.n_features,
            ))
        if len(jobs) == 1:
            return jobs[0]()
        # the two analysers are independent and spend most of their time in numpy, which releases the GIL:
        # on 2 cores the pair takes about the time of the slower one
        with ThreadPoolExecutor(len(jobs)) as pool:
            blocks = [f.result() for f in [pool.submit(job) for job in jobs]]
        return sp.hstack(blocks, format="csr")

    def _block(self, texts: list[str], k: int) -> tuple[np.ndarray, int, float]:
        """(len(texts), k) LSA coordinates, their numerical rank, and the SVD's explained-variance ratio
        (both measured on the texts the SVD is fitted on)."""
        T = TfidfTransformer(sublinear_tf=True).fit_transform(self._hash(texts))
        m = T.shape[0]
        fit = T
        if m > self.fit_size:
            rows = np.sort(np.random.default_rng(self.seed).choice(m, self.fit_size, replace=False))
            fit = T[rows]
        # drop hash columns empty in the fit: same singular values and vectors, and the randomized SVD's
        # dense (columns x k) steps shrink from 2**19 rows to the few thousand n-grams present (~50x faster)
        cols = np.flatnonzero(np.bincount(fit.indices, minlength=T.shape[1]))
        fit = fit[:, cols]
        k_eff = min(k, fit.shape[0])  # randomized SVD silently returns min(k, m) columns; make that explicit
        Z = np.zeros((m, k))
        if fit.nnz == 0:
            return Z, 0, 0.0
        svd = TruncatedSVD(n_components=k_eff, algorithm="randomized", random_state=self.seed)
        # one BLAS thread: multi-threaded dense products sum in a thread-count-dependent order, and the
        # features (hence the design and the batch) must be bit-identical on any CPU setting
        with _blas().limit(limits=1, user_api="blas"):
            Zk = svd.fit_transform(fit) if m <= self.fit_size else svd.fit(fit).transform(T[:, cols])
        s = svd.singular_values_
        keep = s > s.max() * max(fit.shape) * np.finfo(np.float64).eps  # numpy's matrix_rank tolerance
        Z[:, :k_eff] = np.where(keep[None, :], Zk, 0.0)
        return Z, int(keep.sum()), float(svd.explained_variance_ratio_[keep].sum())

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
                "hashing->tfidf(sublinear_tf)->nonzero columns->randomized svd (fit on <= fit_size texts)"
                "->center->max-norm"
            ),
            "pool_fingerprint": pool.fingerprint(),
            "sklearn_version": sklearn.__version__,
        }
        config["ngram_range"] = list(self.ngram_range)  # JSON-friendly, and from_config accepts lists
        config["char_ngram_range"] = list(self.char_ngram_range)
        return Features(X=X, name=self.name, config=config)
