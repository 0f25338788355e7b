"""Shared oracles for the design tests: everything here is computed with plain numpy / cvxpy, never with
duelbandit.design, so the tests compare the code against an independent reference."""

from __future__ import annotations

import cvxpy as cp
import numpy as np


def np_leverages(B: np.ndarray, w: np.ndarray, reg: float = 0.0) -> np.ndarray:
    """g_i = b_i^T (reg I + B^T diag(w) B)^{-1} b_i with a dense inverse (small sizes only)."""
    M = B.T @ (w[:, None] * B) + reg * np.eye(B.shape[1])
    return np.einsum("ij,jk,ik->i", B, np.linalg.inv(M), B)


def np_logdet(B: np.ndarray, w: np.ndarray, reg: float = 0.0) -> float:
    M = B.T @ (w[:, None] * B) + reg * np.eye(B.shape[1])
    sign, val = np.linalg.slogdet(M)
    assert sign > 0
    return float(val)


def cvx_optimum(B: np.ndarray, reg: float = 0.0) -> tuple[float, np.ndarray]:
    """max log det(reg I + B^T diag(w) B) over the simplex, in the naive form (fine at test sizes)."""
    L, d = B.shape
    w = cp.Variable(L, nonneg=True)
    M = B.T @ cp.diag(w) @ B
    if reg:
        M = M + reg * np.eye(d)
    problem = cp.Problem(cp.Maximize(cp.log_det(M)), [cp.sum(w) == 1])
    problem.solve(solver="CLARABEL")
    assert problem.status == "optimal"
    return float(problem.value), np.clip(w.value, 0, None)


def random_candidates(seed: int, L: int, d: int, *, decay: float = 0.0) -> np.ndarray:
    """Gaussian candidates with a spectrum decaying like k^-decay (anisotropic like real embeddings)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(L, d)) * np.arange(1, d + 1) ** -decay
