"""duelbandit: choose the prompt/response pairs worth a human preference label, with guarantees.

Scheid et al. 2024 ("Optimal Design for Reward Modeling in RLHF") give the offline selector and its
simple-regret bound; see docs/ for the flow and the math.
"""

from duelbandit.errors import DuelbanditError
from duelbandit.types import Candidates
from duelbandit.types import Features
from duelbandit.types import Pool
from duelbandit.rng import as_generator

__version__ = "0.1.0"

__all__ = [
    "Candidates",
    "DuelbanditError",
    "Features",
    "Pool",
    "as_generator",
]
