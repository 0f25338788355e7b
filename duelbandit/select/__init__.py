"""Selectors: which pairs to label. One protocol (:class:`Selector`) for offline and online rules.

``SELECTORS`` maps each name to its class (``make_selector(name, **params)`` builds one):

- offline: ``uniform``, ``odpo`` (:mod:`duelbandit.select.offline`);
- two-stage local design: ``two_stage`` (:mod:`duelbandit.select.local`);
- sequential: ``apo``, ``apo_practical``, ``greedy_logdet``, ``min_margin`` (``entropy`` is its deprecated
  alias), ``certainty`` (:mod:`duelbandit.select.online`), ``maxinp``, ``colstim``
  (:mod:`duelbandit.select.dueling`) and ``dts`` (:mod:`duelbandit.select.dts`);
- misspecification-robust: ``mixture``, ``bayes_d``, ``v_optimal``, ``two_phase``, ``contenders`` and the
  default ``robust`` (:mod:`duelbandit.select.robust`; the check they use: :mod:`duelbandit.select.diagnose`);
- budget allocation over skill clusters by a trained RandQL agent: ``randql_allocator``
  (:mod:`duelbandit.select.allocator`, :mod:`duelbandit.select.allocation`).

The collection loop (:mod:`duelbandit.select.loop`) runs any of them in rounds, with crash-safe resume.
"""

from __future__ import annotations

from duelbandit.errors import SelectorError
from duelbandit.select.allocator import RandQLAllocator as RandQLAllocator
from duelbandit.select.base import Batch as Batch
from duelbandit.select.base import SelectionState as SelectionState
from duelbandit.select.base import Selector as Selector
from duelbandit.select.dts import DTSSelector as DTSSelector
from duelbandit.select.local import TwoStageSelector as TwoStageSelector
from duelbandit.select.offline import ODPOSelector as ODPOSelector
from duelbandit.select.offline import UniformSelector as UniformSelector
from duelbandit.select.online import APOSelector as APOSelector
from duelbandit.select.online import CertaintySelector as CertaintySelector
from duelbandit.select.dueling import CoLSTIMSelector as CoLSTIMSelector
from duelbandit.select.dueling import MaxInPSelector as MaxInPSelector
from duelbandit.select.online import EntropySelector as EntropySelector
from duelbandit.select.online import GreedyLogDetSelector as GreedyLogDetSelector
from duelbandit.select.online import MinMarginSelector as MinMarginSelector
from duelbandit.select.online import PracticalAPOSelector as PracticalAPOSelector
from duelbandit.select.robust import BayesDSelector as BayesDSelector
from duelbandit.select.robust import ContendersSelector as ContendersSelector
from duelbandit.select.robust import MixtureSelector as MixtureSelector
from duelbandit.select.robust import RobustSelector as RobustSelector
from duelbandit.select.robust import TwoPhaseSelector as TwoPhaseSelector
from duelbandit.select.robust import VOptimalSelector as VOptimalSelector

SELECTORS: dict[str, type] = {
    "uniform": UniformSelector,
    "odpo": ODPOSelector,
    "two_stage": TwoStageSelector,
    "apo": APOSelector,
    "apo_practical": PracticalAPOSelector,
    "greedy_logdet": GreedyLogDetSelector,
    "min_margin": MinMarginSelector,
    "entropy": EntropySelector,  # deprecated alias of min_margin
    "certainty": CertaintySelector,
    "maxinp": MaxInPSelector,
    "colstim": CoLSTIMSelector,
    "dts": DTSSelector,
    "randql_allocator": RandQLAllocator,
    "mixture": MixtureSelector,
    "bayes_d": BayesDSelector,
    "v_optimal": VOptimalSelector,
    "two_phase": TwoPhaseSelector,
    "contenders": ContendersSelector,
    "robust": RobustSelector,
}

# selectors whose choice does not depend on labels (they ignore update())
OFFLINE: frozenset[str] = frozenset({"uniform", "odpo", "mixture", "bayes_d", "v_optimal"})
# adaptive selectors that plan over the whole collection: the loop passes them total=budget
PLANNED: frozenset[str] = frozenset({"two_stage", "two_phase", "contenders", "robust"})


def make_selector(name: str, **params) -> Selector:
    """Build a selector by name (``duelbandit.select.SELECTORS`` lists them)."""
    try:
        cls = SELECTORS[name]
    except KeyError:
        raise SelectorError(f"selector: unknown name {name!r}; expected one of {sorted(SELECTORS)}") from None
    return cls(**params)


__all__ = [
    "OFFLINE",
    "PLANNED",
    "SELECTORS",
    "APOSelector",
    "Batch",
    "BayesDSelector",
    "CertaintySelector",
    "CoLSTIMSelector",
    "ContendersSelector",
    "DTSSelector",
    "EntropySelector",
    "GreedyLogDetSelector",
    "MaxInPSelector",
    "MinMarginSelector",
    "MixtureSelector",
    "ODPOSelector",
    "PracticalAPOSelector",
    "RandQLAllocator",
    "RobustSelector",
    "SelectionState",
    "Selector",
    "TwoPhaseSelector",
    "TwoStageSelector",
    "UniformSelector",
    "VOptimalSelector",
    "make_selector",
]
