"""The entry point of the design engine: validate, handle rank, pick a solver, solve, certify (spec §2).

``optimal_design(B)`` returns an approximate D-optimal design w on the rows of B together with a
certificate recomputed exactly from w; ``optimal_design(X, pairs=...)`` does the same on the pair
differences x_i - x_j without forming them (pair-shared leverages, :mod:`duelbandit.design.pairs`). Every
solver runs in the same whitened coordinates of span(B), so "projected" and "full rank" inputs take one
path, and every solver's output is judged by the same Kiefer–Wolfowitz certificate.

Methods:
    fw      Frank–Wolfe with away steps (fw.py)              all candidates in memory, float64
    mult    multiplicative algorithm (mult.py)               baseline
    cvxpy   conic reference (cvx.py)                         small L only
    newton  active-set Newton (newton.py)                    all candidates in memory, float64
    rex     randomized exchange (rex.py)                     candidate set on a backend
    screen  screening + Newton + point deletion (screen.py)  candidate set on a backend
    auto    the default. newton when L <= 2000 (the whole set is one small working set), screen above;
            fw with a ridge (reg > 0); screen on the torch backend. ``info["auto"]`` says what it picked
            and why. (Newton on the whole set costs O(s^3) per face solve, s the support size, which
            grows with d: screening was faster at every L > 2000 measured, 3x at L = 4946, d = 384;
            benchmarks/results/bench_design_default.md.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings

import numpy as np

from duelbandit.design.backends import (
    BACKENDS,
    DTYPES,
    check_tensor,
    is_tensor,
    make_candidate_set,
    small_blas,
)
from duelbandit.design.cvx import cvx_design
from duelbandit.design.fw import fw_design
from duelbandit.design.leverage import certificate_from_whitened, check_candidates, span_basis
from duelbandit.design.mult import mult_design
from duelbandit.design.newton import newton_design
from duelbandit.design.pairs import check_pairs, pair_differences
from duelbandit.design.result import Design
from duelbandit.design.rex import rex_design
from duelbandit.design.screen import certificate_from_pass, certify, screen_design
from duelbandit.errors import DesignError
from duelbandit.rng import as_generator

METHODS = ("fw", "mult", "cvxpy", "newton", "rex", "screen", "auto")
DEFAULT_MAX_ITER = {"fw": 100_000, "mult": 10_000, "cvxpy": None, "newton": 1000, "rex": 1000, "screen": 50}
SET_METHODS = ("rex", "screen")  # run on a candidate set (backend, float32 passes, no (L, d) copy)
# float32 passes pay off once a pass is a few million flops; below that float64 is as fast and exact
FLOAT32_FROM = 1 << 20


def auto_method(L: int, r: int, *, reg: float, backend: str) -> tuple[str, str]:
    """The solver ``method="auto"`` runs, and why."""
    if reg > 0:
        return "fw", f"reg={reg:g} > 0: only fw, mult and cvxpy handle a ridge; fw is the fastest"
    if backend != "numpy":
        return "screen", f"backend={backend!r}: screening runs its passes there"
    small = 2000
    if L <= small:
        return "newton", f"L={L} <= {small}: one small working set holds every candidate"
    return "screen", f"L={L} > {small}: screen to a working set, certify on all"


def optimal_design(
    B: np.ndarray,
    *,
    pairs: object = None,
    method: str = "auto",
    eps: float = 1e-3,
    max_iter: int | None = None,
    rank_tol: float = 1e-7,
    reg: float = 0.0,
    verbose: bool = False,
    backend: str = "numpy",
    device: object = None,
    dtype: str | None = None,
    rng: int | np.random.Generator = 0,
    **options: object,
) -> Design:
    """Approximate D/G-optimal design on the candidates B (Scheid et al. 2024, Alg. 1 step 1; spec §2).

    w* = argmax_{w in simplex} log det sum_i w_i b_i b_i^T. By Kiefer–Wolfowitz, w* also minimises
    max_i g_i(w), g_i = b_i^T M(w)^{-1} b_i, with max_i g_i(w*) = d; for any w the D-efficiency is at
    least d / max_i g_i(w), which the returned certificate reports.

    Rank: if B does not span R^d (numerical rank r < d, see :func:`span_basis`), the design is computed on
    span(B) and the certificate refers to r dimensions (``rank_handling`` says "projected onto rank r span
    of d dims"; ``info["basis"]`` is the (d, r) orthonormal basis). With ``reg = lambda > 0``, lambda I is
    added to M instead (no projection; fw, mult, cvxpy) and the certificate is the ridge bound
    d / (max g + lambda tr (lambda I + M)^{-1}).

    Args:
        B: (L, d) candidates, one per row; or, with ``pairs``, the (R, d) per-response features X (an
            array or a :class:`duelbandit.types.Features`) and the candidates are b_l = x_{i_l} - x_{j_l}.
            A torch tensor is accepted too: with ``backend="torch"`` it stays on its device (validated
            and used there, float32 or float64 as given), otherwise it is copied to numpy.
        pairs: None, a :class:`duelbandit.types.Candidates`, a tuple (i, j) of index arrays or an (L, 2)
            integer array. rex and screen (auto above its size threshold) never form the (L, d)
            differences; fw, mult, cvxpy and newton do.
        method: see the module docstring; "auto" (default: picks by size, ``info["auto"]`` says what and
            why; at L = 2e5, d = 32 it costs about one leverage pass where "fw" took 49), "fw", "mult",
            "cvxpy", "newton", "rex" or "screen".
        eps: stop when max_i g_i <= (1 + eps) d, i.e. efficiency >= 1 / (1 + eps) (cvxpy runs to its own
            tolerance).
        max_iter: iteration limit (fw steps, mult iterations, newton rounds, rex iterations, screening
            rounds; the solver's own for cvxpy). If it is hit, the design is returned with
            ``info["converged"] = False`` and a RuntimeWarning.
        rank_tol: singular values of B below rank_tol * max count as zero.
        reg: ridge lambda >= 0 (0: project onto the span instead).
        verbose: progress bar (fw, mult), solver log (cvxpy), one line per round (rex, screen).
        backend: "numpy" (default) or "torch" (rex, screen, auto; CPU or CUDA via ``device``).
        device: torch device, e.g. "cuda" (torch backend only).
        dtype: "float32" or "float64" for the passes of rex/screen (default float32 when L d >= 2^20
            or on torch, else float64). The certificate is exact either way: float32 passes carry an
            error bound and the candidates that could hold the maximum are re-checked in float64.
        rng: int seed or Generator for the random orders of REX (default 0: deterministic).
        **options: passed to the solver (fw: ``refresh``; mult: ``w0``; cvxpy: ``solver``, ``support_tol``;
            rex: ``gamma``, ``delete``; screen: ``working``, ``delete``).

    Returns:
        :class:`Design` with one weight per candidate (summing to 1) and its exact certificate.

    Raises:
        DesignError: bad B or pairs (not 2-d, empty, NaN/inf, all zero, indices out of range) or bad
            parameters.
    """
    start = time.perf_counter()
    X = getattr(B, "X", B)  # a Features object carries its matrix in .X
    name = "B" if pairs is None else "features"
    if is_tensor(X) and backend == "torch":
        B = check_tensor(X, name=name)  # validated where it lives: no host copy of a GPU matrix
    else:
        B = check_candidates(X.detach().cpu().numpy() if is_tensor(X) else X, name=name)
    ij = None if pairs is None else check_pairs(_host_pairs(pairs), B.shape[0])
    if method not in METHODS:
        raise DesignError(f"method: expected one of {METHODS}, got {method!r}")
    if not (isinstance(eps, (int, float)) and np.isfinite(eps) and eps > 0):
        raise DesignError(f"eps: expected a finite tolerance > 0, got {eps!r}")
    if not (isinstance(reg, (int, float)) and np.isfinite(reg) and reg >= 0):
        raise DesignError(f"reg: expected a finite ridge >= 0, got {reg!r}")
    if max_iter is not None and (isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer))
                                 or max_iter < 0):
        raise DesignError(f"max_iter: expected an integer >= 0, got {max_iter!r}")
    if backend not in BACKENDS:
        raise DesignError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    if dtype is not None and dtype not in DTYPES:
        raise DesignError(f"dtype: expected one of {DTYPES} or None, got {dtype!r}")
    L = B.shape[0] if ij is None else ij[0].shape[0]
    d = B.shape[1]

    info: dict = {}
    picked = method
    if method == "auto":
        picked, why = auto_method(L, d, reg=reg, backend=backend)
        info["auto"] = {"method": picked, "why": why}
    if backend != "numpy" and picked not in SET_METHODS:
        raise DesignError(f"backend={backend!r}: supported by methods {SET_METHODS} and auto, not {picked!r}")
    if reg > 0 and picked in ("newton",) + SET_METHODS:
        raise DesignError(f"reg: method {picked!r} solves the unregularised problem; use fw, mult or cvxpy "
                          f"for reg={reg:g}")
    max_iter = DEFAULT_MAX_ITER[picked] if max_iter is None else int(max_iter)

    if picked in SET_METHODS:
        small = backend == "numpy" and L * d < FLOAT32_FROM
        with small_blas() if small else contextlib.nullcontext():
            design = _set_design(B, ij, picked, eps=eps, max_iter=max_iter, rank_tol=rank_tol,
                                 verbose=verbose, backend=backend, device=device, dtype=dtype, rng=rng,
                                 info=info, options=options)
    else:
        Bfull = B if ij is None else pair_differences(B, ij[0], ij[1])
        # below ~1e6 entries every BLAS call is too small to gain from threads, and a second thread that
        # must wait for a busy core costs milliseconds per call on a shared machine
        with small_blas() if Bfull.size < FLOAT32_FROM else contextlib.nullcontext():
            design = _dense_design(Bfull, picked, eps=eps, max_iter=max_iter, rank_tol=rank_tol, reg=reg,
                                   verbose=verbose, info=info, options=options)
    cert = dataclasses.replace(design.certificate, seconds=time.perf_counter() - start)
    if not design.info.get("converged", True):
        warnings.warn(
            f"optimal_design(method={picked!r}) stopped after {cert.iterations} iterations at efficiency >= "
            f"{cert.efficiency_lower_bound:.6f} (target {1 / (1 + eps):.6f}); raise max_iter",
            RuntimeWarning,
            stacklevel=2,
        )
    return Design(weights=design.weights, certificate=cert, info=design.info)


def _host_pairs(pairs: object) -> object:
    """Pair indices as host arrays (index tensors are small next to the features: 16 bytes a pair)."""
    if hasattr(pairs, "i") and hasattr(pairs, "j"):
        pairs = (pairs.i, pairs.j)
    if isinstance(pairs, tuple):
        return tuple(p.detach().cpu().numpy() if is_tensor(p) else p for p in pairs)
    return pairs.detach().cpu().numpy() if is_tensor(pairs) else pairs


def _label(method: str, info: dict, options: dict) -> str:
    name = method if method != "cvxpy" else f"cvxpy/{str(options.get('solver', 'clarabel')).lower()}"
    return f"auto:{name}" if "auto" in info else name


def _dense_design(B: np.ndarray, method: str, *, eps: float, max_iter: int, rank_tol: float, reg: float,
                  verbose: bool, info: dict, options: dict) -> Design:
    """fw, mult, cvxpy and newton: the (L, d) candidates whitened in memory, float64 throughout."""
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
    elif method == "newton":
        counts: dict = {}
        with small_blas(Bw.shape[1]):  # p x p and d x d algebra (the passes over L rows stay as configured)
            P, v, converged = newton_design(Bw, eps=eps, max_iter=max_iter, counts=counts, **options)
        w = np.zeros(Bw.shape[0])
        w[P] = v
        iterations, solver_info = counts.get("newton", 0), {**counts, "converged": converged}
    else:
        if max_iter is not None:
            key = "max_iters" if str(options.get("solver", "clarabel")).lower() == "scs" else "max_iter"
            options.setdefault(key, max_iter)
        w, iterations, solver_info = cvx_design(Bw, reg=reg, verbose=verbose, **options)
        solver_info["converged"] = solver_info["status"] == "optimal"
    cert = certificate_from_whitened(Bw, w, reg=reg, logdet_shift=shift, iterations=iterations,
                                     rank_handling=rank_handling, method=_label(method, info, options))
    info.update(solver_info)
    return Design(weights=w, certificate=cert, info=info)


def _set_design(B: np.ndarray, ij: tuple | None, method: str, *, eps: float, max_iter: int, rank_tol: float,
                verbose: bool, backend: str, device: object, dtype: str | None, rng: object, info: dict,
                options: dict) -> Design:
    """rex and screen: the candidates stay on a backend; only supports and working sets become float64."""
    L = B.shape[0] if ij is None else ij[0].shape[0]
    if dtype is None:
        dtype = "float32" if backend != "numpy" or L * B.shape[1] >= FLOAT32_FROM else "float64"
    cset = make_candidate_set(B, ij, backend=backend, device=device, dtype=dtype)
    span = span_basis(None, rank_tol=rank_tol, gram=cset.gram(), n_rows=L)
    T = span.transform
    info.update(basis=span.Q, singular_values=span.s, rank=span.rank, backend=backend, dtype=dtype,
                pairs=ij is not None)
    counts: dict = {}
    unknown = set(options) - ({"gamma", "delete"} if method == "rex" else {"working", "delete"})
    if unknown:
        raise DesignError(f"options: method {method!r} does not take {sorted(unknown)}")
    if method == "rex":
        supp, w, solver_info, final = rex_design(cset, T, eps=eps, max_iter=max_iter, rng=as_generator(rng),
                                                 counts=counts, verbose=verbose, **options)
        iterations = solver_info["iterations"]
    else:
        supp, w, solver_info, final = screen_design(cset, T, eps=eps, max_rounds=max_iter, counts=counts,
                                                    verbose=verbose, **options)
        iterations = counts.get("newton", 0)
    label = _label(method, info, options)
    if final is not None:
        W, logdet_w, g, e = final
        cert = certificate_from_pass(cset, W, logdet_w, g, e, supp.size, logdet_shift=span.logdet_shift,
                                     rank_handling=span.rank_handling, method=label, iterations=iterations)
    else:
        cert = certify(cset, T, supp, w, logdet_shift=span.logdet_shift, rank_handling=span.rank_handling,
                       method=label, iterations=iterations)
    weights = np.zeros(L)
    weights[supp] = w
    info.update(counts)
    info.update(solver_info)
    return Design(weights=weights, certificate=cert, info=info)

