"""Embedders: turn a pool into features psi(x, y), one row per response, with ||psi|| <= 1.

``hashing`` (default, no model, CPU, deterministic) is always available; a transformer embedder (torch)
is imported lazily by :func:`get_embedder` so that ``import duelbandit`` never loads torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from duelbandit.embed.base import Embedder
from duelbandit.embed.base import scale_to_unit_ball
from duelbandit.embed.hashing import HashingEmbedder
from duelbandit.errors import FeatureError

# name -> (module, class); modules outside this list are never imported by name
_EMBEDDERS: dict[str, tuple[str, str]] = {
    "hashing": ("duelbandit.embed.hashing", "HashingEmbedder"),
    "transformer": ("duelbandit.embed.transformer", "TransformerEmbedder"),
}


def get_embedder(name: str, **kwargs: Any) -> Embedder:
    """The embedder called ``name``, built with ``kwargs`` (e.g. ``get_embedder("hashing", dim=64)``).

    Raises:
        FeatureError: unknown name, or an embedder whose module (or its torch dependency) is not available.
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


__all__ = [
    "Embedder",
    "HashingEmbedder",
    "get_embedder",
    "scale_to_unit_ball",
]
