"""Session fixtures for the design tests (oracles live in design_oracles.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.design.design_oracles import cvx_optimum, random_candidates


@pytest.fixture(scope="session")
def small_instances() -> list[tuple[np.ndarray, float]]:
    """Three small instances with their cvxpy optimum log det (solved once per session)."""
    out = []
    for seed, (L, d, decay) in enumerate([(40, 3, 0.0), (60, 5, 1.0), (80, 6, 2.0)]):
        B = random_candidates(seed, L, d, decay=decay)
        out.append((B, cvx_optimum(B)[0]))
    return out
