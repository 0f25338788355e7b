"""The hypercube hard instance of Theorem 3: norms, refusals, exact regret."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.errors import PoolError
from duelbandit.theory.instances import hypercube_policy, hypercube_regret, make_hypercube_instance


# --- the hypercube instance of Theorem 3 (duelbandit.theory.instances.make_hypercube_instance) -------------


@pytest.mark.parametrize("d, T", [(2, 4), (4, 16), (16, 256), (16, 1024), (32, 4096)])
def test_hypercube_instance_has_the_stated_norms(d, T):
    h = make_hypercube_instance(d, T, rng=5)
    X = h.features.X
    # the listed actions are vertices of [-1/sqrt(d), 1/sqrt(d)]^d
    np.testing.assert_allclose(np.abs(X), 1 / np.sqrt(d), rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, rtol=1e-12)  # ||psi|| = 1 (H1)
    np.testing.assert_allclose(np.abs(h.theta_star), np.sqrt(d / T), rtol=1e-12)  # theta in {+-sqrt(d/T)}^d
    assert np.linalg.norm(h.theta_star) == pytest.approx(d / np.sqrt(T), rel=1e-12)
    assert np.linalg.norm(h.theta_star) <= 1 + 1e-12  # T >= d^2
    np.testing.assert_array_equal(np.sign(h.theta_star), h.signs)
    np.testing.assert_allclose(h.rewards, X @ h.theta_star, atol=1e-15)
    for n in range(h.pool.n_prompts):  # listed vertices of a query set are distinct
        rows = X[h.pool.offsets[n] : h.pool.offsets[n + 1]]
        assert np.unique(rows, axis=0).shape[0] == rows.shape[0]
    assert h.pool.n_prompts == d and h.pool.response_counts.min() == min(8, 2**d)


def test_hypercube_refuses_T_below_d_squared_and_bad_signs():
    with pytest.raises(PoolError, match="T >= d\\^2 = 256"):
        make_hypercube_instance(16, 255, rng=0)
    with pytest.raises(PoolError, match="signs"):
        make_hypercube_instance(3, 9, rng=0, signs=np.array([1.0, 0.0, -1.0]))


def test_hypercube_regret_counts_wrong_signs():
    d, T = 8, 64
    s = np.array([1, -1, 1, 1, -1, -1, 1, -1], dtype=float)
    h = make_hypercube_instance(d, T, rng=0, signs=s)
    guess = s.copy()
    guess[[1, 4, 6]] *= -1  # three wrong coordinates
    # by hand: each wrong coordinate costs |theta_i| * 2/sqrt(d) = sqrt(d/T) * 2/sqrt(d) = 2/sqrt(T)
    assert hypercube_regret(0.3 * guess, h.theta_star) == pytest.approx(3 * 2 / np.sqrt(T), rel=1e-12)
    assert hypercube_regret(h.theta_star, h.theta_star) == 0.0
    np.testing.assert_allclose(hypercube_policy(np.array([0.0, -2.0])), np.array([1, -1]) / np.sqrt(2))
    # the best vertex of the cube beats every listed vertex
    assert float(h.theta_star @ hypercube_policy(h.theta_star)) >= h.rewards.max() - 1e-12
