"""Reference solver: the D-optimal design as a conic program in cvxpy (spec §2, "Reference oracle").

    maximise log det M(w)  s.t.  w >= 0, sum_i w_i = 1,   M(w) = reshape(A w, (d, d)),

with A = [vec(b_1 b_1^T), ..., vec(b_L b_L^T)] the (d*d, L) stack of outer products, so M is an affine map
of w. The tempting ``B.T @ diag(w) @ B`` builds L x L blocks: at L = 5000, d = 20 it took 112 s and ~19 GB
against ~7 s for the affine form. Needs the exponential and PSD cones: Clarabel (interior point, default,
accurate) or SCS (first order, looser). Meant for tests and benchmarks at small L; the result is only as
good as the solver tolerance, and the certificate (computed afterwards, exactly) says how good.
"""

from __future__ import annotations

import numpy as np

from duelbandit.errors import DesignError

SOLVERS = {"clarabel": "CLARABEL", "scs": "SCS"}


def cvx_design(
    B: np.ndarray,
    *,
    solver: str = "clarabel",
    reg: float = 0.0,
    support_tol: float = 1e-6,
    verbose: bool = False,
    **solver_options: object,
) -> tuple[np.ndarray, int, dict]:
    """Solve the D-optimal design with cvxpy in the affine form above.

    Args:
        B: (L, d) float64 candidates spanning R^d (well scaled; optimal_design whitens them).
        solver: "clarabel" (default) or "scs".
        reg: ridge lambda >= 0: maximise log det(lambda I + M(w)).
        support_tol: weights below support_tol * max(w) are interior-point residue and set to 0.
        verbose: print the solver log.
        **solver_options: passed to ``Problem.solve`` (e.g. eps=1e-9 or max_iters for SCS).

    Returns:
        (weights (L,), solver iterations (0 if not reported), info with status and objective).
    """
    import cvxpy as cp  # cvxpy is heavy to import; only the reference path needs it

    key = solver.lower()
    if key not in SOLVERS:
        raise DesignError(f"solver: expected one of {sorted(SOLVERS)}, got {solver!r}")
    L, d = B.shape
    A = np.einsum("li,lj->ijl", B, B).reshape(d * d, L)  # column l is vec(b_l b_l^T)
    w = cp.Variable(L, nonneg=True)
    M = cp.reshape(A @ w, (d, d), order="F")
    if reg:
        M = M + reg * np.eye(d)
    problem = cp.Problem(cp.Maximize(cp.log_det(M)), [cp.sum(w) == 1])
    try:
        problem.solve(solver=SOLVERS[key], verbose=verbose, **solver_options)
    except cp.error.SolverError as exc:
        raise DesignError(f"cvxpy/{SOLVERS[key]} failed on L={L}, d={d}: {exc}") from exc
    if w.value is None or problem.status not in ("optimal", "optimal_inaccurate"):
        raise DesignError(f"cvxpy/{SOLVERS[key]} returned status {problem.status!r} on L={L}, d={d}")
    x = np.clip(np.asarray(w.value, dtype=np.float64), 0.0, None)
    x[x < support_tol * x.max()] = 0.0
    stats = problem.solver_stats
    iterations = int(stats.num_iters) if stats is not None and stats.num_iters is not None else 0
    return x / x.sum(), iterations, {"status": problem.status, "solver_objective": float(problem.value)}
