"""Approximate D/G-optimal designs on candidate pairs and their rounding to an exact label budget.

See docs/concepts/design.md for the math (spec §2-§3).
"""

from duelbandit.design.leverage import certificate as certificate
from duelbandit.design.leverage import information_matrix as information_matrix
from duelbandit.design.leverage import leverages as leverages
from duelbandit.design.leverage import span_basis as span_basis
from duelbandit.design.optimal import optimal_design as optimal_design
from duelbandit.design.result import Certificate as Certificate
from duelbandit.design.result import Design as Design
from duelbandit.design.rounding import Rounding as Rounding
from duelbandit.design.rounding import round_design as round_design

__all__ = [
    "Certificate",
    "Design",
    "Rounding",
    "certificate",
    "information_matrix",
    "leverages",
    "optimal_design",
    "round_design",
    "span_basis",
]
