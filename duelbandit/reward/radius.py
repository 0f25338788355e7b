"""Curvature constant ``kappa`` and the confidence radius of Scheid et al. 2024, Lemma 2, with the argument
checks every bound of :mod:`duelbandit.theory.bounds` shares."""

from __future__ import annotations

import math

import numpy as np

from duelbandit.errors import RewardError

# ---------------------------------------------------------------------------------------------------
# validation of the theory's arguments (one place: every bound takes the same arguments)


def _count(name: str, v: object, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer, float)):
        raise RewardError(f"{name}: expected an integer >= {lo}, got {v!r}")
    if not float(v).is_integer() or v < lo:
        raise RewardError(f"{name}: expected an integer >= {lo}, got {v!r}")
    return int(v)


def _positive(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not (
        np.isfinite(v) and v > 0
    ):
        raise RewardError(f"{name}: expected a finite value > 0, got {v!r}")
    return float(v)


def _delta(delta: object) -> float:
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating)) or not 0 < delta < 1:
        raise RewardError(f"delta: expected a probability in (0, 1), got {delta!r}")
    return float(delta)


# ---------------------------------------------------------------------------------------------------
# curvature and confidence radius


def kappa(S: float) -> float:
    """kappa(S) = 1 / sigma'(2 S) = 2 + 2 cosh(2 S): the worst-case curvature ratio when ||psi|| <= 1 and
    ||theta|| <= S, so |<theta, b>| <= 2 S (spec §1; S = 1 gives 9.52, the paper's "kappa <= 10").

    The cosh form avoids the underflow of sigma'(2 S) for large S; S > ~177 gives inf (honest in float64).
    """
    S = float(S)
    if not np.isfinite(S) or S < 0:
        raise RewardError(f"S: expected a finite norm bound >= 0, got {S!r}")
    with np.errstate(over="ignore"):
        return float(2.0 + 2.0 * np.cosh(2.0 * S))


def confidence_radius(t: int, d: int, *, lam: float, delta: float, S: float = 1.0) -> float:
    """Radius beta_t of the ellipsoid ||theta^P - theta*||_V <= beta_t, V = lam I + sum_s b_s b_s^T
    (Scheid et al. 2024, Lemma 2, as printed for S = 1):

        beta_t = C [ sqrt(2 log(1/delta) + d log(lam^(1 - 1/d) + 4 t / (d lam^(1/d)))) + sqrt(lam) S ]

    C = 20 for S = 1 (the paper: 2 kappa with kappa = 9.52 <= 10); C = 2 kappa(S) otherwise.

    Deviations from the printed text (derivation in docs/concepts/bounds.md):

    - General S. The proof bounds ||g(theta^P) - g(theta*)||_{V^{-1}}
      <= 2 ||sum_s eta_s b_s - lam theta*||_{V^{-1}} and lam ||theta*||_{V^{-1}} <= sqrt(lam) ||theta*||,
      so the ridge term is sqrt(lam) S, not sqrt(lam); the curvature step needs kappa(S). With S = 1 this
      is the printed formula.
    - Log-determinant (kept as printed, flagged). d log(lam^(1-1/d) + 4t/(d lam^(1/d)))
      = d log(lam + 4t/d) - log lam, where the self-normalised bound gives log det V - d log lam
      <= d log(lam + 4t/d) - d log lam (det(lam I) = lam^d, not lam). The printed radius still holds
      because it also drops the factor 1/2 of the noise's sub-Gaussian constant (eta in [-1, 1] with a
      range of 1): it dominates :func:`self_normalized_radius` as soon as 400 A_p >= kappa(1)^2 A_c
      (A_p, A_c the two arguments of the square roots), which holds for every t >= d(d+1)/2 when
      lam = 1/d (checked for d <= 10^4). :func:`applicability` checks it at each (t, d) it is asked about.
    - The argument of the outer square root is clipped at 0 (for tiny t the printed bound on the
      log-determinant can be negative, where the true term is >= 0).

    Args:
        t: number of labels (>= 0).
        d: dimension (>= 1).
        lam: ridge lambda > 0.
        delta: failure probability in (0, 1).
        S: bound on ||theta*|| (>= 0).

    Returns:
        beta_t.
    """
    t, d = _count("t", t, 0), _count("d", d, 1)
    lam, delta = _positive("lam", lam), _delta(delta)
    C = 20.0 if S == 1 else 2.0 * kappa(S)
    inner = lam ** (1.0 - 1.0 / d) + 4.0 * t / (d * lam ** (1.0 / d))
    arg = max(0.0, 2.0 * math.log(1.0 / delta) + d * math.log(inner))
    return float(C * (math.sqrt(arg) + math.sqrt(lam) * float(S)))
