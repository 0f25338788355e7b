"""Rounding an approximate design w to exactly T labels (spec §3).

ODPO's n_b = ceil(T w_b) spends up to T + p labels (p = |supp w|), which breaks a hard budget. Rules here:

- "guarantee" (default): n_b = ceil((T - p) w_b) spends at most T and gives V = sum_b n_b b b^T >=
  (T - p) M(w), hence max_b ||b||^2_{V^{-1}} <= g_max(w) / (T - p) for every candidate b. The leftover
  labels go one at a time to argmax_b b^T V^{-1} b over ALL candidates under the current V (greedy D-optimal
  augmentation; extra labels only shrink V^{-1}, so the bound survives).
- "pukelsheim": efficient apportionment (Pukelsheim & Rieder 1992): n_i = ceil((T - p/2) w_i) on the
  support, then while sum n < T increment argmin n_i / w_i, while sum n > T decrement argmax (n_i - 1) / w_i.
  Best average efficiency, no leverage bound.
- "iid": n ~ Multinomial(T, w). No deterministic guarantee; an option, not the default.

T < p (guarantee, pukelsheim): the design cannot be honoured; fall back to greedy log-det selection of T
labels (reported in ``info["fallback"]``). ``allow_repeats=False``: each pair is labelled at most once: the
support gets one label each (or, with iid, min(T, p) distinct draws from w) and the rest goes to greedy
log-det on the candidates not yet chosen; the (T - p) bound then no longer applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg

from duelbandit.design.leverage import (
    certificate_from_whitened,
    check_candidates,
    check_weights,
    information_matrix,
    leverages,
    span_basis,
)
from duelbandit.design.result import Design
from duelbandit.errors import DesignError
from duelbandit.rng import as_generator

METHODS = ("guarantee", "pukelsheim", "iid")


@dataclass(frozen=True)
class Rounding:
    """An exact allocation of T labels.

    Attributes:
        counts: (L,) int64 labels per candidate, summing to T.
        method: the rounding rule used.
        info: support size p, leftover and how it was spent, fallback, ridge, and when B was given the
            realised max_b b^T V^{-1} b and (guarantee) the bound g_max / (T - p).
    """

    counts: np.ndarray
    method: str
    info: dict = field(default_factory=dict)


def _inverse(V: np.ndarray) -> np.ndarray | None:
    try:
        C = np.linalg.cholesky(V)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.diag(C) > 1e-10 * np.sqrt(np.trace(V))):
        return None
    return scipy.linalg.cho_solve((C, True), np.eye(V.shape[0]))


def greedy_logdet(
    Bw: np.ndarray, counts: np.ndarray, n: int, *, allow_repeats: bool = True, refresh: int = 200
) -> tuple[np.ndarray, float]:
    """Add n labels one at a time, each to argmax_b b^T V^{-1} b (the largest log det gain log(1 + h_b)),
    V = sum_b counts_b b b^T (+ rho I if that is singular), with Sherman–Morrison updates, O(L d) per label.

    Returns:
        (new counts, ridge rho used (0.0 if none)).
    """
    counts = counts.copy()
    d = Bw.shape[1]
    rho = 0.0
    V = information_matrix(Bw, counts.astype(np.float64)) if counts.any() else np.zeros((d, d))
    V_inv = _inverse(V)
    if V_inv is None:
        # a ridge far below any label's contribution: it only breaks ties while V is still singular
        rho = 1e-9 * float(np.einsum("ij,ij->i", Bw, Bw).max())
        V_inv = _inverse(V + rho * np.eye(d))
    h = leverages(Bw, V_inv)
    if not allow_repeats:
        h[counts > 0] = -np.inf
    for step in range(n):
        j = int(np.argmax(h))
        if not np.isfinite(h[j]):
            raise DesignError(f"greedy_logdet: no candidate left for label {step + 1} of {n}")
        u = V_inv @ Bw[j]
        den = 1.0 + float(Bw[j] @ u)
        c = Bw @ u
        V_inv -= np.outer(u, u) / den
        h -= c * c / den
        counts[j] += 1
        if not allow_repeats:
            h[j] = -np.inf
        if (step + 1) % refresh == 0 and step + 1 < n:  # kill rank-one drift
            V_inv = _inverse(information_matrix(Bw, counts.astype(np.float64)) + rho * np.eye(d))
            excluded = ~np.isfinite(h)
            h = leverages(Bw, V_inv)
            h[excluded] = -np.inf
    return counts, rho


def _pukelsheim(w: np.ndarray, T: int) -> np.ndarray:
    """Efficient apportionment (Pukelsheim & Rieder 1992) on the support of w; spends exactly T."""
    s = np.flatnonzero(w > 0)
    ws = w[s]
    n = np.ceil((T - s.size / 2.0) * ws).astype(np.int64)
    # at most p/2 corrections, each O(p) over the support (never a loop over L)
    while n.sum() < T:
        k = int(np.argmin(n / ws))
        n[k] += 1
    while n.sum() > T:
        k = int(np.argmax((n - 1) / ws))
        n[k] -= 1
    counts = np.zeros(w.shape[0], dtype=np.int64)
    counts[s] = n
    return counts


def round_design(
    design_or_weights: Design | np.ndarray,
    T: int,
    *,
    B: np.ndarray | None = None,
    method: str = "guarantee",
    rng: int | np.random.Generator | None = None,
    allow_repeats: bool = True,
    rank_tol: float = 1e-7,
) -> Rounding:
    """Round a design to exactly T labels (spec §3; see the module docstring for the rules).

    Args:
        design_or_weights: a :class:`Design` or (L,) nonnegative weights (normalised here).
        T: label budget, an integer >= 1; the counts sum to exactly T.
        B: (L, d) candidates. Needed for the greedy leftover of "guarantee" (without B the leftover goes
            by the apportionment increment rule, argmin n_i / w_i), for the T < p fallback, for
            ``allow_repeats=False`` and for the reported max leverage.
        method: "guarantee" (default), "pukelsheim" or "iid".
        rng: int seed or Generator; required by "iid" only.
        allow_repeats: False labels each pair at most once (support once each, then greedy log-det on the
            remaining candidates); the g_max / (T - p) bound does not hold then.
        rank_tol: span tolerance for rank-deficient B (see :func:`span_basis`).

    Returns:
        :class:`Rounding` with (L,) int64 counts summing to T.

    Raises:
        DesignError: bad T, method, weights, B, or a request that needs B without it.
    """
    if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
        raise DesignError(f"T: expected an integer label budget >= 1, got {T!r}")
    T = int(T)
    if method not in METHODS:
        raise DesignError(f"method: expected one of {METHODS}, got {method!r}")
    design = design_or_weights if isinstance(design_or_weights, Design) else None
    raw = np.asarray(design.weights if design is not None else design_or_weights, dtype=np.float64)
    if raw.ndim != 1:
        raise DesignError(f"weights: expected a 1-d (L,) array, got shape {raw.shape}")
    w = check_weights(raw, raw.shape[0])
    L = w.shape[0]
    Bw = None
    if B is not None:
        B = check_candidates(B)
        if B.shape[0] != L:
            raise DesignError(f"B: expected {L} rows (one per weight), got {B.shape[0]}")
        Bw = span_basis(B, rank_tol=rank_tol).whiten(B)
    if not allow_repeats and T > L:
        raise DesignError(f"T: allow_repeats=False needs T <= number of candidates {L}, got T={T}")
    p = int(np.count_nonzero(w))
    info: dict = {"T": T, "support_size": p, "allow_repeats": allow_repeats, "fallback": None,
                  "leftover": 0, "leftover_rule": None, "ridge": 0.0, "bound": None}

    def need_B(why: str) -> np.ndarray:
        if Bw is None:
            raise DesignError(f"B: the candidates are required {why}")
        return Bw

    if method in ("guarantee", "pukelsheim") and T < p:
        info["fallback"] = f"greedy log-det selection: T={T} < support size p={p}"
        counts, info["ridge"] = greedy_logdet(
            need_B(f"for the greedy fallback (T={T} < support size {p})"), np.zeros(L, np.int64), T,
            allow_repeats=allow_repeats,
        )
    elif method == "iid":
        if rng is None:
            raise DesignError("rng: method='iid' draws at random; pass an int seed or a numpy Generator")
        gen = as_generator(rng)
        if allow_repeats:
            counts = gen.multinomial(T, w).astype(np.int64)
        else:
            counts = np.zeros(L, np.int64)
            counts[gen.choice(L, size=min(T, p), replace=False, p=w)] = 1
    elif method == "pukelsheim" and allow_repeats:
        counts = _pukelsheim(w, T)
    else:
        counts = np.zeros(L, np.int64)
        s = np.flatnonzero(w)
        counts[s] = np.ceil((T - p) * w[s]).astype(np.int64) if allow_repeats else 1
        while counts.sum() > T:  # only float round-off in ceil can get here; remove the largest excess
            counts[s[int(np.argmax(counts[s] - (T - p) * w[s]))]] -= 1
        if method == "guarantee" and allow_repeats and T > p:
            info["bound_denominator"] = T - p

    leftover = T - int(counts.sum())
    if leftover > 0:
        info["leftover"] = leftover
        if Bw is None and allow_repeats:
            s = np.flatnonzero(w)
            for _ in range(leftover):  # at most p labels, each O(p)
                counts[s[int(np.argmin(counts[s] / w[s]))]] += 1
            info["leftover_rule"] = "apportionment increment argmin n/w (no B given)"
        else:
            counts, info["ridge"] = greedy_logdet(need_B("to spend the leftover labels greedily"), counts,
                                                  leftover, allow_repeats=allow_repeats)
            info["leftover_rule"] = "greedy max leverage b^T V^{-1} b over all candidates" + (
                "" if allow_repeats else " not yet chosen")

    if Bw is not None:
        V_inv = _inverse(information_matrix(Bw, counts.astype(np.float64)))
        info["max_leverage"] = float(leverages(Bw, V_inv).max()) if V_inv is not None else np.inf
        if info.pop("bound_denominator", None):
            g_max = certificate_from_whitened(Bw, w).max_leverage_over_d * Bw.shape[1]
            info["bound"] = g_max / (T - p)
    elif (info.get("bound_denominator") and design is not None
          and not design.certificate.rank_handling.startswith("regularised")):
        g_max = design.certificate.max_leverage_over_d * design.certificate.dim
        info["bound"] = g_max / info.pop("bound_denominator")
    info.pop("bound_denominator", None)
    return Rounding(counts=counts, method=method, info=info)
