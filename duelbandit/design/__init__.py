"""Approximate D/G-optimal designs on candidate pairs and their rounding to an exact label budget.

Solvers: Frank–Wolfe with away steps, multiplicative, cvxpy (reference), active-set Newton, REX, and
screening with point deletion and a full-set certificate; pair-shared leverages; numpy or torch passes.
See docs/concepts/design.md for the math (spec §2-§3).
"""

from duelbandit.design.deletion import deletable as deletable
from duelbandit.design.deletion import deletion_threshold as deletion_threshold
from duelbandit.design.leverage import certificate as certificate
from duelbandit.design.leverage import information_matrix as information_matrix
from duelbandit.design.leverage import leverages as leverages
from duelbandit.design.leverage import span_basis as span_basis
from duelbandit.design.optimal import optimal_design as optimal_design
from duelbandit.design.pairs import pair_gram as pair_gram
from duelbandit.design.pairs import pair_leverages as pair_leverages
from duelbandit.design.result import Certificate as Certificate
from duelbandit.design.result import Design as Design
from duelbandit.design.rounding import Rounding as Rounding
from duelbandit.design.rounding import round_design as round_design

__all__ = [
    "Certificate",
    "Design",
    "Rounding",
    "certificate",
    "deletable",
    "deletion_threshold",
    "information_matrix",
    "leverages",
    "optimal_design",
    "pair_gram",
    "pair_leverages",
    "round_design",
    "span_basis",
]
