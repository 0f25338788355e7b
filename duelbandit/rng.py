"""The one place where user-supplied randomness is normalised (see ARCHITECTURE.md, Conventions)."""

from __future__ import annotations

import numpy as np

RngLike = "int | np.random.Generator | np.random.SeedSequence | None"


def as_generator(rng: int | np.random.Generator | np.random.SeedSequence | None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``rng``.

    A Generator is returned as is (so a loop that passes the same Generator keeps one stream across
    rounds); an int or SeedSequence seeds a new PCG64 Generator. ``None`` is refused: every draw in
    duelbandit must be traceable to an explicit seed.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (np.random.SeedSequence, int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(rng)
    raise TypeError(
        f"rng: expected an int seed or a numpy.random.Generator, got {type(rng).__name__} ({rng!r}); "
        "duelbandit never draws from hidden global state"
    )


def seed_of(rng: int | np.random.Generator | np.random.SeedSequence | None) -> int | None:
    """The integer seed behind ``rng`` when there is one (recorded in outputs for provenance)."""
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return int(rng)
    return None
