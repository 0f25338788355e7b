"""Environment constructors: structure of the grid-world, chain, RiverSwim and the gymnasium adapter."""

import numpy as np
import pytest

from duelbandit.errors import ConfigError
from duelbandit.rl.envs import ENVS
from duelbandit.rl.envs import chain
from duelbandit.rl.envs import from_gymnasium
from duelbandit.rl.envs import gridworld
from duelbandit.rl.envs import make_env
from duelbandit.rl.envs import riverswim
from duelbandit.rl.mdp import optimal_value
from duelbandit.rl.mdp import optimal_values


def test_gridworld_dynamics():
    mdp = gridworld()
    assert (mdp.S, mdp.A, mdp.H) == (100, 4, 50)
    assert mdp.mu0[0] == 1.0
    # corner (0, 0): left and up hit the edge -> stay put surely
    assert mdp.P[0, 0, 0] == 1.0 and mdp.P[0, 3, 0] == 1.0
    # corner (0, 0), right: 0.8 to (0, 1), the other in-grid neighbour (1, 0) gets 0.2
    assert mdp.P[0, 1, 1] == pytest.approx(0.8) and mdp.P[0, 1, 10] == pytest.approx(0.2)
    # interior (5, 5) = 55, down: 0.8 to (6, 5) = 65, 0.2/3 to each other neighbour
    np.testing.assert_allclose(mdp.P[55, 2, [65, 54, 56, 45]], [0.8, 0.2 / 3, 0.2 / 3, 0.2 / 3])
    assert np.all(mdp.R[99] == 1.0) and mdp.R.sum() == 4.0


def test_chain_and_riverswim_rows():
    for mdp in (chain(6, horizon=10), riverswim(6)):
        np.testing.assert_allclose(mdp.P.sum(-1), 1.0)
        assert mdp.mu0[0] == 1.0
    rs = riverswim(6)
    assert rs.R[0, 0] == pytest.approx(0.005) and rs.R[5, 1] == 1.0
    np.testing.assert_allclose(rs.P[2, 1, [1, 2, 3]], [0.05, 0.6, 0.35])


def gym_value_iteration(env_id, H, **kw):
    """Value iteration straight on gymnasium's table with raw rewards and terminal states (no rescaling)."""
    import gymnasium

    env = gymnasium.make(env_id, **kw).unwrapped
    S, A = env.observation_space.n, env.action_space.n
    V = np.zeros(S)
    for _ in range(H):
        V = np.array([max(sum(p * (r + (0.0 if d else V[s2])) for p, s2, r, d in env.P[s][a]) for a in range(A))
                      for s in range(S)])
    return float(env.initial_state_distrib @ V)


@pytest.mark.parametrize("env_id, H, kw", [("FrozenLake-v1", 30, {}), ("CliffWalking-v1", 20, {})])
def test_gymnasium_adapter_values_match_raw_value_iteration(env_id, H, kw):
    mdp = from_gymnasium(env_id, horizon=H, **kw)
    lo, hi = mdp.info["raw_reward_range"]
    raw = gym_value_iteration(env_id, H, **kw)
    # rescaling r -> (r - lo) / (hi - lo) maps an H-step return G to (G - H lo) / (hi - lo)
    assert optimal_value(mdp) == pytest.approx((raw - H * lo) / (hi - lo), rel=1e-9)


def test_gymnasium_taxi_loads_with_random_start():
    mdp = from_gymnasium("Taxi-v4", horizon=5)
    assert (mdp.S, mdp.A) == (500, 6)
    assert (mdp.mu0 > 0).sum() > 1 and mdp.R.min() >= 0 and mdp.R.max() <= 1
    _, V = optimal_values(mdp)
    assert np.isfinite(V).all()


def test_gymnasium_without_table_is_refused():
    with pytest.raises(ConfigError, match="transition table"):
        from_gymnasium("CartPole-v1", horizon=5)


def test_make_env_names_and_errors():
    assert make_env("chain", 7).H == 7
    assert make_env("gridworld").H == 50
    with pytest.raises(ConfigError, match="expected one of"):
        make_env("mountaincar")
    assert {"gridworld", "chain", "riverswim", "frozenlake", "taxi", "cliffwalking"} <= set(ENVS)


def test_continuous_chain_steps_follow_the_cell_model():
    from duelbandit.rl.envs import continuous_chain

    env = continuous_chain(16, horizon=4)
    rng = np.random.default_rng(0)
    x = 5.3 / 16
    nxt = np.array([env.step(x, 1, rng)[0] for _ in range(6000)])
    assert np.all((nxt >= 0) & (nxt < 1))
    freq = np.bincount(env.cell(nxt), minlength=16) / len(nxt)
    np.testing.assert_allclose(freq, env.mdp.P[5, 1], atol=0.02)
    assert env.step(x, 0, rng)[1] == env.mdp.R[5, 0]
    starts = np.array([env.sample_initial(rng) for _ in range(200)])
    assert starts.max() < 2 / 16  # cells 0 and 1 have centres below 0.1
