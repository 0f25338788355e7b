"""Embedders: turn a pool into features psi(x, y), one row per response, with ||psi|| <= 1.

``hashing`` (no model, CPU, deterministic) is always available. ``transformer`` (a sentence encoder,
default all-MiniLM-L6-v2, offline) needs the ``embed`` extra; its module imports torch and transformers
only inside functions, so ``import duelbandit`` never loads them.

- :mod:`duelbandit.embed.recipes`: pair-feature recipes (joint, response, interaction), PCA, unit ball.
- :mod:`duelbandit.embed.encoder`: texts -> vectors as sentence-transformers computes them, faster.
- :mod:`duelbandit.embed.cache`: the SQLite vector cache (WAL, crash-safe, shared by concurrent runs).
- :mod:`duelbandit.embed.files`: features on disk (``F.npy`` + ``F.npy.json``, or a Ray shard manifest).
- :mod:`duelbandit.embed.skills`: skill discovery (clusters of prompts, named by class-based tf-idf).
- :mod:`duelbandit.embed.scale`: the same embedder on Ray Data over pool shards.
"""

from __future__ import annotations

import importlib
from typing import Any

from duelbandit.embed.base import Embedder
from duelbandit.embed.base import scale_to_unit_ball
from duelbandit.embed.cache import EmbeddingCache
from duelbandit.embed.cache import default_cache_dir
from duelbandit.embed.hashing import HashingEmbedder
from duelbandit.embed.recipes import MODES
from duelbandit.embed.transformer import TransformerEmbedder
from duelbandit.errors import FeatureError

# name -> (module, class); modules outside this list are never imported by name
_EMBEDDERS: dict[str, tuple[str, str]] = {
    "hashing": ("duelbandit.embed.hashing", "HashingEmbedder"),
    "transformer": ("duelbandit.embed.transformer", "TransformerEmbedder"),
}


def get_embedder(name: str, **kwargs: Any) -> Embedder:
    """The embedder called ``name``, built with ``kwargs`` (e.g. ``get_embedder("hashing", dim=64)``,
    ``get_embedder("transformer", model="minilm", mode="interaction")``).

    Raises:
        FeatureError: unknown name, or an embedder whose module is not available.
    """
    if name not in _EMBEDDERS:
        raise FeatureError(f"embedder: expected one of {sorted(_EMBEDDERS)}, got {name!r}")
    module, cls = _EMBEDDERS[name]
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise FeatureError(
            f"embedder {name!r} is not available: {exc.name!r} cannot be imported "
            "(the transformer embedder needs torch: pip install 'duelbandit[embed]')"
        ) from None
    return getattr(mod, cls)(**kwargs)


def embedder_from_config(config: dict, **overrides: Any) -> Embedder:
    """The embedder that produced ``Features.config`` (``config["embedder"]`` names it); ``overrides`` are
    run-only options of the transformer embedder (``cache``, ``verbose``)."""
    name = config.get("embedder")
    if name not in _EMBEDDERS:
        raise FeatureError(f"features config: 'embedder' must be one of {sorted(_EMBEDDERS)}, got {name!r}")
    module, cls = _EMBEDDERS[name]
    klass = getattr(importlib.import_module(module), cls)
    return klass.from_config(config, **overrides) if overrides else klass.from_config(config)


__all__ = [
    "MODES",
    "Embedder",
    "EmbeddingCache",
    "HashingEmbedder",
    "TransformerEmbedder",
    "default_cache_dir",
    "embedder_from_config",
    "get_embedder",
    "scale_to_unit_ball",
]
