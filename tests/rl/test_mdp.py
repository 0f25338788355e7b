"""FiniteMDP, exact dynamic programming and simulation, checked against hand computations, a plain-loop
value iteration and Monte Carlo."""

import numpy as np
import pytest

from duelbandit.errors import ConfigError
from duelbandit.rl.envs import gridworld
from duelbandit.rl.mdp import Episode
from duelbandit.rl.mdp import FiniteMDP
from duelbandit.rl.mdp import greedy_policy
from duelbandit.rl.mdp import max_last
from duelbandit.rl.mdp import optimal_value
from duelbandit.rl.mdp import optimal_values
from duelbandit.rl.mdp import policy_values
from duelbandit.rl.mdp import sum_last


def two_state_mdp(H=3):
    # state 0: action 0 stays (reward 0.5), action 1 moves to 1 w.p. 0.9 (reward 0)
    # state 1: any action stays (reward 1)
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = 1.0
    P[0, 1] = [0.1, 0.9]
    P[1, :, 1] = 1.0
    R = np.array([[0.5, 0.0], [1.0, 1.0]])
    return FiniteMDP(P, R, H, np.array([1.0, 0.0]))


def test_optimal_values_by_hand():
    # H = 1: V*(0) = 0.5. H = 2: Q(0,0) = 0.5 + 0.5 = 1, Q(0,1) = 0 + 0.1*0.5 + 0.9*1 = 0.95 -> 1.
    # H = 3: Q(0,0) = 0.5 + V_2(0) = 1.5; Q(0,1) = 0.1 * 1 + 0.9 * 2 = 1.9 -> 1.9.
    mdp = two_state_mdp(3)
    Q, V = optimal_values(mdp)
    assert V[2, 0] == pytest.approx(0.5)
    assert V[1, 0] == pytest.approx(1.0)
    assert Q[0, 0, 0] == pytest.approx(1.5)
    assert Q[0, 0, 1] == pytest.approx(1.9)
    assert V[0, 0] == pytest.approx(1.9)
    assert V[0, 1] == pytest.approx(3.0)
    assert np.all(V[3] == 0)
    assert optimal_value(mdp) == pytest.approx(1.9)


def plain_value_iteration(P, R, H):
    """Finite-horizon value iteration with explicit loops (independent of the vectorised code)."""
    S, A = R.shape
    V = [0.0] * S
    for _ in range(H):
        V = [max(R[s, a] + sum(P[s, a, t] * V[t] for t in range(S)) for a in range(A)) for s in range(S)]
    return np.array(V)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_optimal_values_match_plain_value_iteration_on_random_mdps(seed):
    rng = np.random.default_rng(seed)
    S, A, H = 5, 3, 7
    P = rng.dirichlet(np.ones(S) * 0.5, size=(S, A))
    R = rng.random((S, A))
    mdp = FiniteMDP(P, R, H, np.ones(S) / S)
    _, V = optimal_values(mdp)
    np.testing.assert_allclose(V[0], plain_value_iteration(P, R, H), rtol=1e-12)


def test_gridworld_optimal_value_oracle():
    # the spec's oracle for the paper's 10 x 10 grid-world with H = 50
    assert optimal_value(gridworld()) == pytest.approx(26.135270, abs=5e-7)


def test_policy_values_of_optimal_policy_equal_optimal_values():
    mdp = gridworld(4, 4, horizon=12)
    Q, V = optimal_values(mdp)
    Vpi = policy_values(mdp, greedy_policy(Q))
    np.testing.assert_allclose(Vpi, V, atol=1e-12)


def test_policy_values_batched_equals_one_by_one():
    rng = np.random.default_rng(3)
    mdp = gridworld(3, 3, horizon=6)
    pi = rng.dirichlet(np.ones(4), size=(2, 3, 6, 9))  # leading batch (2, 3)
    V = policy_values(mdp, pi)
    assert V.shape == (2, 3, 7, 9)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(V[i, j], policy_values(mdp, pi[i, j]), rtol=1e-12)


def test_policy_evaluation_matches_monte_carlo():
    rng = np.random.default_rng(0)
    mdp = two_state_mdp(4)
    pi = rng.dirichlet(np.ones(2), size=(4, 2))  # a stochastic non-stationary policy
    exact = float(mdp.mu0 @ policy_values(mdp, pi)[0])
    n = 40_000
    s = mdp.sample_initial(n, rng)
    ret = np.zeros(n)
    for h in range(mdp.H):
        a = (rng.random(n) > pi[h, s, 0]).astype(int)
        s, r = mdp.step(s, a, rng)[0], mdp.R[s, a]
        ret += r
    se = ret.std() / np.sqrt(n)
    assert abs(ret.mean() - exact) < 4 * se


def test_step_samples_follow_P():
    rng = np.random.default_rng(1)
    mdp = gridworld(3, 3, horizon=5)
    s = np.full(60_000, 4)  # the centre cell
    a = np.full(60_000, 1)  # right
    s2, r = mdp.step(s, a, rng)
    freq = np.bincount(s2, minlength=9) / len(s2)
    np.testing.assert_allclose(freq, mdp.P[4, 1], atol=0.01)
    assert set(np.unique(s2)) == set(np.nonzero(mdp.P[4, 1])[0])
    assert np.all(r == mdp.R[4, 1])


def test_greedy_policy_splits_ties():
    Q = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    np.testing.assert_allclose(greedy_policy(Q), [[0, 0.5, 0.5], [1, 0, 0]])


def test_short_axis_reductions():
    x = np.random.default_rng(0).random((3, 4, 5))
    np.testing.assert_array_equal(max_last(x), x.max(-1))
    np.testing.assert_allclose(sum_last(x), x.sum(-1))


def test_episode_flat_rows_are_distinct_per_run():
    ep = Episode(np.array([[0, 1, 1], [2, 2, 0]]), np.array([[1, 0], [0, 1]]), np.array([[0.0, 1.0], [0.5, 0.0]]))
    k, h, s, a, r, s2 = ep.flat()
    np.testing.assert_array_equal(k, [0, 0, 1, 1])
    np.testing.assert_array_equal(h, [0, 1, 0, 1])
    np.testing.assert_array_equal(s, [0, 1, 2, 2])
    np.testing.assert_array_equal(s2, [1, 1, 2, 0])
    np.testing.assert_array_equal(a, [1, 0, 0, 1])
    np.testing.assert_array_equal(r, [0.0, 1.0, 0.5, 0.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"P": np.ones((2, 1, 2))}, "row sums"),
        ({"R": np.full((2, 1), 2.0)}, "rewards in"),
        ({"H": 0}, "H"),
        ({"mu0": np.array([0.5, 0.6])}, "mu0"),
        ({"R": np.zeros((3, 1))}, "shape"),
    ],
)
def test_finite_mdp_validation(kwargs, match):
    base = {"P": np.full((2, 1, 2), 0.5), "R": np.zeros((2, 1)), "H": 2, "mu0": np.array([1.0, 0.0])}
    base.update(kwargs)
    with pytest.raises(ConfigError, match=match):
        FiniteMDP(**base)
