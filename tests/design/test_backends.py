"""Candidate sets on numpy and torch (CPU; CI has no GPU): every operation against dense float64 numpy,
the float32 error bound against the exact leverages, and torch staying out of ``import duelbandit``."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from duelbandit.design import optimal_design
from duelbandit.design.backends import make_candidate_set
from duelbandit.design.screen import exact_max, upper
from duelbandit.errors import DesignError
from duelbandit.data.synthetic import make_synthetic_pool

LAYOUTS = [(backend, dtype, pairs) for backend in ("numpy", "torch") for dtype in ("float32", "float64")
           for pairs in (False, True)]


@pytest.fixture(scope="module")
def data():
    sp = make_synthetic_pool(80, (2, 5), 6, kind="anisotropic", rng=4, decay=3.0)  # condition ~1e3
    cand = sp.pool.pairs()
    X = sp.features.X
    return X, cand.i, cand.j, X[cand.i] - X[cand.j]


def _set(data, backend, dtype, pairs):
    X, i, j, B = data
    return make_candidate_set(X, (i, j), backend=backend, dtype=dtype) if pairs else \
        make_candidate_set(B, backend=backend, dtype=dtype)


@pytest.mark.parametrize("backend, dtype, pairs", LAYOUTS)
def test_candidate_set_operations_match_dense_numpy(data, backend, dtype, pairs):
    _, _, _, B = data
    cs = _set(data, backend, dtype, pairs)
    assert (cs.n, cs.dim) == B.shape
    np.testing.assert_allclose(cs.gram(), B.T @ B, rtol=1e-10, atol=1e-12)
    idx = np.array([5, 0, 17, 3])
    np.testing.assert_array_equal(cs.rows(idx), B[idx])
    v = np.random.default_rng(0).normal(size=6)
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(cs.matvec(v), B @ v, rtol=tol, atol=tol * np.abs(B @ v).max())


@pytest.mark.parametrize("backend, dtype, pairs", LAYOUTS)
def test_leverage_pass_and_its_float32_error_bound(data, backend, dtype, pairs):
    _, _, _, B = data
    cs = _set(data, backend, dtype, pairs)
    # an ill-conditioned factor (M^{-1} of a skewed design) stresses the float32 rounding
    w = np.random.default_rng(1).dirichlet(np.full(B.shape[0], 0.05))
    W = np.linalg.cholesky(np.linalg.inv(B.T @ (w[:, None] * B) + 1e-9 * np.eye(6)))
    exact = np.einsum("ij,ij->i", B @ W, B @ W)
    for index in (None, np.array([3, 1, 40, 41, 42])):
        g, e = cs.leverage_pass(W, index=index)
        ref = exact if index is None else exact[index]
        if dtype == "float64":
            assert e is None
            np.testing.assert_allclose(g, ref, rtol=1e-10)
        else:
            assert np.all(np.abs(np.sqrt(ref) - np.sqrt(g)) <= e)  # the rigorous bound holds
            assert np.all(upper(g, e) >= ref)
            # and the float64 re-check recovers the exact maximum
            top, _k, checked = exact_max(cs, W, g, e, index)
            assert top == pytest.approx(ref.max(), rel=1e-12)
            assert 1 <= checked <= g.shape[0]


def test_torch_backend_design_equals_numpy_design(data):
    X, i, j, B = data
    ref = optimal_design(B, method="screen", eps=1e-7).certificate
    for kw in ({"pairs": (i, j)}, {}):
        src = X if kw else B
        c = optimal_design(src, method="screen", backend="torch", eps=1e-7, **kw).certificate
        assert c.logdet == pytest.approx(ref.logdet, abs=1e-7)
        assert c.efficiency_lower_bound >= 1 / (1 + 1e-7) - 1e-12
    d = optimal_design(B, method="auto", backend="torch", device="cpu")
    assert d.info["auto"]["method"] == "screen" and d.info["backend"] == "torch"


def test_backend_errors(data):
    _, _, _, B = data
    with pytest.raises(DesignError, match="backend"):
        optimal_design(B, backend="jax")
    with pytest.raises(DesignError, match="supported by methods"):
        optimal_design(B, method="fw", backend="torch")
    with pytest.raises(DesignError, match="device"):
        optimal_design(B, method="screen", device="cuda:0")  # numpy runs on the CPU
    with pytest.raises(DesignError, match="dtype"):
        optimal_design(B, method="screen", dtype="float16")


def test_torch_is_not_imported_by_the_package():
    code = "import sys, duelbandit, duelbandit.design, duelbandit.design.optimal; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
