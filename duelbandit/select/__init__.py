"""Selectors: which pairs to label. One protocol (:class:`Selector`) for offline and online rules."""

from __future__ import annotations

from duelbandit.errors import SelectorError
from duelbandit.select.base import Batch
from duelbandit.select.base import SelectionState
from duelbandit.select.base import Selector
from duelbandit.select.offline import ODPOSelector
from duelbandit.select.offline import UniformSelector

SELECTORS: dict[str, type] = {
    "uniform": UniformSelector,
    "odpo": ODPOSelector,
}


def make_selector(name: str, **params) -> Selector:
    """Build a selector by name (``duelbandit.select.SELECTORS`` lists them)."""
    try:
        cls = SELECTORS[name]
    except KeyError:
        raise SelectorError(f"selector: unknown name {name!r}; expected one of {sorted(SELECTORS)}") from None
    return cls(**params)


__all__ = [
    "Batch",
    "ODPOSelector",
    "SELECTORS",
    "SelectionState",
    "Selector",
    "UniformSelector",
    "make_selector",
]
