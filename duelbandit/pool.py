"""Compatibility path: the pool types live in :mod:`duelbandit.types`."""

from duelbandit.types import Candidates
from duelbandit.types import Features
from duelbandit.types import Pool

__all__ = ["Candidates", "Features", "Pool"]
