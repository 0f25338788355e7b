"""The entry point of the design engine: validate, handle rank, solve, certify (spec §2).

``optimal_design(B)`` returns an approximate D-optimal design w on the rows of B together with a
certificate recomputed exactly from w. Every solver runs in the same whitened coordinates of span(B), so
"projected" and "full rank" inputs take one path, and every solver's output is judged by the same
Kiefer–Wolfowitz certificate.
"""

from __future__ import annotations

import dataclasses
import time
import warnings

import numpy as np

from duelbandit.design.cvx import cvx_design
from duelbandit.design.fw import fw_design
from duelbandit.design.leverage import certificate_from_whitened, check_candidates, span_basis
from duelbandit.design.mult import mult_design
from duelbandit.design.result import Design
from duelbandit.errors import DesignError

METHODS = ("fw", "mult", "cvxpy")
DEFAULT_MAX_ITER = {"fw": 100_000, "mult": 10_000, "cvxpy": None}


def optimal_design(
    B: np.ndarray,
    *,
    method: str = "fw",
    eps: float = 1e-3,
    max_iter: int | None = None,
    rank_tol: float = 1e-7,
    reg: float = 0.0,
    verbose: bool = False,
    **options: object,
) -> Design:
    """Approximate D/G-optimal design on the candidates B (Scheid et al. 2024, Alg. 1 step 1; spec §2).

    w* = argmax_{w in simplex} log det sum_i w_i b_i b_i^T. By Kiefer–Wolfowitz, w* also minimises
    max_i g_i(w), g_i = b_i^T M(w)^{-1} b_i, with max_i g_i(w*) = d; for any w the D-efficiency is at
    least d / max_i g_i(w), which the returned certificate reports.

    Rank: if B does not span R^d (numerical rank r < d, see :func:`span_basis`), the design is computed on
    span(B) and the certificate refers to r dimensions (``rank_handling`` says "projected onto rank r span
    of d dims"; ``info["basis"]`` is the (d, r) orthonormal basis). With ``reg = lambda > 0``, lambda I is
    added to M instead (no projection) and the certificate is the ridge bound
    d / (max g + lambda tr (lambda I + M)^{-1}).

    Args:
        B: (L, d) candidates, one per row (float; converted to float64).
        method: "fw" (Frank–Wolfe with away steps, default), "mult" (multiplicative, baseline) or
            "cvxpy" (reference conic solve; options ``solver="clarabel"|"scs"`` and solver keywords).
        eps: stop when max_i g_i <= (1 + eps) d, i.e. efficiency >= 1 / (1 + eps) (fw, mult; cvxpy runs to
            its own tolerance).
        max_iter: iteration limit (default 100000 for fw, 10000 for mult, the solver's for cvxpy). If it
            is hit, the design is returned with ``info["converged"] = False`` and a RuntimeWarning.
        rank_tol: singular values of B below rank_tol * max count as zero.
        reg: ridge lambda >= 0 (0: project onto the span instead).
        verbose: progress bar (fw, mult) or solver log (cvxpy).
        **options: passed to the solver (fw: ``refresh``; mult: ``w0``; cvxpy: ``solver``, ``support_tol``).

    Returns:
        :class:`Design` with one weight per row of B (summing to 1) and its exact certificate.

    Raises:
        DesignError: bad B (not 2-d, empty, NaN/inf, all zero) or bad parameters.
    """
    start = time.perf_counter()
    B = check_candidates(B)
    if method not in METHODS:
        raise DesignError(f"method: expected one of {METHODS}, got {method!r}")
    if not (isinstance(eps, (int, float)) and np.isfinite(eps) and eps > 0):
        raise DesignError(f"eps: expected a finite tolerance > 0, got {eps!r}")
    if not (isinstance(reg, (int, float)) and np.isfinite(reg) and reg >= 0):
        raise DesignError(f"reg: expected a finite ridge >= 0, got {reg!r}")
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer))
                                 or max_iter < 0):
        raise DesignError(f"max_iter: expected an integer >= 0, got {max_iter!r}")
    max_iter = DEFAULT_MAX_ITER[method] if max_iter is None else int(max_iter)

    info: dict = {}
    if reg > 0:
        Bw, shift = B, 0.0
        rank_handling = f"regularised: lambda*I added (lambda={reg:g}), no projection"
    else:
        span = span_basis(B, rank_tol=rank_tol)
        Bw, shift, rank_handling = span.whiten(B), span.logdet_shift, span.rank_handling
        info.update(basis=span.Q, singular_values=span.s, rank=span.rank)

    if method == "fw":
        w, iterations, solver_info = fw_design(Bw, eps=eps, max_iter=max_iter, reg=reg, verbose=verbose,
                                               **options)
    elif method == "mult":
        w, iterations, solver_info = mult_design(Bw, eps=eps, max_iter=max_iter, reg=reg, verbose=verbose,
                                                 **options)
    else:
        if max_iter is not None:
            key = "max_iters" if str(options.get("solver", "clarabel")).lower() == "scs" else "max_iter"
            options.setdefault(key, max_iter)
        w, iterations, solver_info = cvx_design(Bw, reg=reg, verbose=verbose, **options)
        solver_info["converged"] = solver_info["status"] == "optimal"
    label = method if method != "cvxpy" else f"cvxpy/{str(options.get('solver', 'clarabel')).lower()}"
    cert = certificate_from_whitened(Bw, w, reg=reg, logdet_shift=shift, iterations=iterations,
                                     rank_handling=rank_handling, method=label)
    cert = dataclasses.replace(cert, seconds=time.perf_counter() - start)
    if not solver_info.get("converged", True):
        warnings.warn(
            f"optimal_design(method={method!r}) stopped after {iterations} iterations at efficiency >= "
            f"{cert.efficiency_lower_bound:.6f} (target {1 / (1 + eps):.6f}); raise max_iter",
            RuntimeWarning,
            stacklevel=2,
        )
    info.update(solver_info)
    return Design(weights=w, certificate=cert, info=info)
