"""Bradley–Terry reward model on difference vectors: the fit, its Hessian and projection, the curvature
constant ``kappa`` and the confidence radius of Lemma 2 (the theory's bounds, in
:mod:`duelbandit.theory.bounds`, build on these). Spec §4; Scheid et al. 2024."""

from duelbandit.reward.fit import BradleyTerry
from duelbandit.reward.linalg import design_matrix
from duelbandit.reward.linalg import logistic_hessian
from duelbandit.reward.linalg import sigmoid_prime
from duelbandit.reward.linalg import weighted_gram
from duelbandit.reward.radius import _count  # noqa: F401 - shared argument checks of theory.bounds
from duelbandit.reward.radius import _delta  # noqa: F401
from duelbandit.reward.radius import _positive  # noqa: F401
from duelbandit.reward.radius import confidence_radius
from duelbandit.reward.radius import kappa

__all__ = [
    "BradleyTerry",
    "confidence_radius",
    "design_matrix",
    "kappa",
    "logistic_hessian",
    "sigmoid_prime",
    "weighted_gram",
]
