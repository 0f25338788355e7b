"""Run tabular agents on a FiniteMDP for several independent runs at once and measure regret exactly.

Two regrets are recorded per episode k and run:

* exact (the one we report): mu0 . (V*_0 - V^{pi_k}_0), with pi_k the (K, H, S, A) action probabilities
  the agent plays in episode k (greedy with uniform tie-breaking, or epsilon-greedy), evaluated by
  backward induction on the true model. For every agent here pi_k is fixed during the episode: the
  online model-free updates at step h only touch entries of step h (see ``randql.py``), and the
  model-based agents update their model at the end of the episode. So this is the expected regret of
  exactly what was played, without sampling noise.
* realised (what the reference code plots): V*_0(s_0) - sum_h r_h of the episode actually played.

Both have the same expectation; the realised one adds the noise of the episode's transitions.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from dataclasses import field
from typing import Protocol

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.io import write_json_atomic as write_json_atomic  # kept importable from here
from duelbandit.rl.mdp import Episode
from duelbandit.rl.mdp import FiniteMDP
from duelbandit.rl.mdp import optimal_values
from duelbandit.rl.mdp import policy_values
from duelbandit.rng import as_generator


class Agent(Protocol):
    """A tabular agent that learns K independent runs at once.

    ``reset`` allocates the state of K runs; ``policy`` returns the (K, H, S, A) action probabilities to
    play in the next episode; ``update`` learns from that episode's K trajectories.
    """

    name: str

    def reset(self, S: int, A: int, H: int, n_runs: int, rng: np.random.Generator) -> Agent: ...

    def policy(self) -> np.ndarray: ...

    def update(self, episode: Episode) -> None: ...


@dataclass
class RunResult:
    """Per-episode regrets of K runs of one agent.

    Attributes:
        agent: agent name.
        env: environment name.
        regret: (K, T) exact per-episode regret mu0 . (V*_0 - V^{pi_k}_0).
        realised_regret: (K, T) V*_0(s_0) - realised return.
        v_star: mu0 . V*_0.
        seconds: wall-clock time of the run (learning, simulation and evaluation).
        config: the agent's configuration.
    """

    agent: str
    env: str
    regret: np.ndarray
    realised_regret: np.ndarray
    v_star: float
    seconds: float
    config: dict = field(default_factory=dict)

    @property
    def cumulative_regret(self) -> np.ndarray:
        """(K, T) running sum of the exact regret."""
        return np.cumsum(self.regret, axis=1)

    @property
    def cumulative_realised_regret(self) -> np.ndarray:
        return np.cumsum(self.realised_regret, axis=1)

    def summary(self) -> dict:
        """JSON-ready curves: mean and standard deviation over runs of the cumulative regrets."""
        cr, crr = self.cumulative_regret, self.cumulative_realised_regret
        return {
            "cumulative_regret_mean": cr.mean(0).tolist(),
            "cumulative_regret_std": cr.std(0).tolist(),
            "cumulative_realised_regret_mean": crr.mean(0).tolist(),
            "cumulative_realised_regret_std": crr.std(0).tolist(),
            "final_cumulative_regret": cr[:, -1].tolist(),
            "final_cumulative_realised_regret": crr[:, -1].tolist(),
            "seconds": self.seconds,
            "n_runs": int(cr.shape[0]),
            "config": self.config,
        }


def run_agent(
    mdp: FiniteMDP,
    agent: Agent,
    n_episodes: int,
    n_runs: int,
    rng: int | np.random.Generator,
    *,
    verbose: bool = False,
    eval_chunk: int = 16,
    exact_regret: bool = True,
) -> RunResult:
    """Play ``n_episodes`` episodes of ``n_runs`` independent runs of ``agent`` on ``mdp``.

    The K runs share one Generator (environment and agent draws alike), so a run is reproducible given
    (rng, n_runs); the runs are statistically independent. An agent with ``greedy_q()`` (the (K, H, S, A)
    values it acts greedily on) and ``tie_first`` is played and evaluated in compiled kernels
    (:mod:`duelbandit.rl.kernels`), every episode; any other agent through ``policy()``, its policies
    evaluated exactly in chunks of ``eval_chunk`` episodes (one sparse product per step per chunk).
    ``exact_regret=False`` skips the exact evaluation (``regret`` is then NaN; the realised regret is
    kept): learning alone, e.g. to time it against code that does not evaluate.
    """
    _check_sizes(n_episodes, n_runs)
    gen = as_generator(rng)
    _, V_star = optimal_values(mdp)
    v_star = float(mdp.mu0 @ V_star[0])
    agent.reset(mdp.S, mdp.A, mdp.H, n_runs, gen)
    bar = _progress(n_episodes, f"{agent.name} on {mdp.name}", verbose)
    t0 = time.perf_counter()
    play = _play_compiled if hasattr(agent, "greedy_q") else _play_generic
    regret, realised = play(mdp, agent, n_episodes, n_runs, gen, V_star, v_star, bar, eval_chunk, exact_regret)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    config = dict(vars(agent.config)) if hasattr(agent, "config") else {}
    return RunResult(agent.name, mdp.name, regret, realised, v_star, seconds, config)


def _play_compiled(mdp, agent, n_episodes, K, gen, V_star, v_star, bar, eval_chunk, exact):
    """Agents that act greedily on a Q array (``greedy_q()``, ``tie_first``): play, evaluate exactly and
    simulate in compiled kernels, one episode of the K runs per call, without (K, H, S, A) policy copies."""
    from duelbandit.rl.kernels import csr_tables
    from duelbandit.rl.kernels import greedy_values0
    from duelbandit.rl.kernels import play_greedy

    H, S = mdp.H, mdp.S
    indptr, indices, data, cum = csr_tables(mdp)
    R, mu0_cdf = np.ascontiguousarray(mdp.R), np.asarray(mdp._mu0_cdf, dtype=np.float64)
    regret = np.full((K, n_episodes), np.nan)
    realised = np.empty((K, n_episodes))
    v0 = np.empty((K, S))
    for t in range(n_episodes):
        Q = agent.greedy_q()
        tie_first = bool(agent.tie_first)
        states = np.empty((K, H + 1), dtype=np.int64)
        actions = np.empty((K, H), dtype=np.int64)
        rewards = np.empty((K, H))
        play_greedy(Q, indptr, indices, cum, R, mu0_cdf, tie_first, gen.random((K, 2 * H + 1)), states, actions,
                    rewards)
        if exact:
            greedy_values0(Q, indptr, indices, data, R, tie_first, v0)  # before the update changes Q
            regret[:, t] = v_star - v0 @ mdp.mu0
        realised[:, t] = V_star[0, states[:, 0]] - rewards.sum(axis=1)
        agent.update(Episode(states, actions, rewards))
        if bar is not None:
            bar.update(1)
    return regret, realised


def _play_generic(mdp, agent, n_episodes, K, gen, V_star, v_star, bar, eval_chunk, exact):
    """Any agent (``policy()`` returns (K, H, S, A) action probabilities): inverse-CDF action draws, exact
    evaluation of the played policies in chunks of ``eval_chunk`` episodes."""
    H, S, A = mdp.H, mdp.S, mdp.A
    regret = np.full((K, n_episodes), np.nan)
    realised = np.empty((K, n_episodes))
    buf = np.empty((eval_chunk, K, H, S, A))
    row0 = np.arange(K)[None, :] * (H * S) + np.arange(H)[:, None] * S  # (H, K)
    for t in range(n_episodes):
        pi = agent.policy()
        buf[t % eval_chunk] = pi
        rows = pi.reshape(-1, A)  # row k * H * S + h * S + s holds pi_h(. | s) of run k
        states = np.empty((K, H + 1), dtype=np.int64)
        actions = np.empty((K, H), dtype=np.int64)
        u = gen.random((H, 2, K))  # all uniforms of the episode in one call
        s = mdp.sample_initial(K, gen)
        states[:, 0] = s
        for h in range(H):
            cdf = rows.take(row0[h] + s, axis=0).cumsum(axis=1)
            cdf[:, -1] = 2.0  # guards against round-off: the last action closes every row
            a = (cdf > u[h, 0][:, None]).argmax(axis=1)  # inverse-CDF action draw
            s = mdp.next_states(s * A + a, u[h, 1])
            actions[:, h] = a
            states[:, h + 1] = s
        rewards = mdp.R[states[:, :H], actions]
        agent.update(Episode(states, actions, rewards))
        realised[:, t] = V_star[0, states[:, 0]] - rewards.sum(axis=1)
        if exact and ((t + 1) % eval_chunk == 0 or t + 1 == n_episodes):
            m = t % eval_chunk + 1
            v0 = policy_values(mdp, buf[:m])[:, :, 0, :] @ mdp.mu0  # (m, K)
            regret[:, t + 1 - m : t + 1] = (v_star - v0).T
        if bar is not None:
            bar.update(1)
    return regret, realised


def _check_sizes(n_episodes: int, n_runs: int) -> None:
    if not (isinstance(n_episodes, (int, np.integer)) and n_episodes >= 1):
        raise ConfigError(f"n_episodes: expected an integer >= 1, got {n_episodes!r}")
    if not (isinstance(n_runs, (int, np.integer)) and n_runs >= 1):
        raise ConfigError(f"n_runs: expected an integer >= 1, got {n_runs!r}")


def _progress(total: int, desc: str, verbose: bool):
    if not verbose:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, mininterval=0.5)


def _agents() -> dict:
    from duelbandit.rl.optql import OptQL
    from duelbandit.rl.psrl import PSRL
    from duelbandit.rl.qlearning import QLearning
    from duelbandit.rl.randql import RandQL
    from duelbandit.rl.randql import RandQLConfig
    from duelbandit.rl.rlsvi import RLSVI
    from duelbandit.rl.staged_randql import StagedRandQL
    from duelbandit.rl.ucbvi import UCBVI
    from duelbandit.rl.ucbvi import UCBVIConfig

    return {
        "randql": lambda: RandQL(),
        "sampled_randql": lambda: _renamed(RandQL(RandQLConfig(sampled=True)), "sampled_randql"),
        "staged_randql": lambda: StagedRandQL(),
        "optql": lambda: OptQL(),
        "ucbvi": lambda: UCBVI(),
        "greedy_ucbvi": lambda: UCBVI(UCBVIConfig(real_time_dp=True)),
        "psrl": lambda: PSRL(),
        "rlsvi": lambda: RLSVI(),
        "qlearning": lambda: QLearning(),
    }


def _renamed(agent, name: str):
    agent.name = name
    return agent


AGENT_NAMES: tuple[str, ...] = (
    "randql", "sampled_randql", "staged_randql", "optql", "ucbvi", "greedy_ucbvi", "psrl", "rlsvi", "qlearning",
)


def make_agent(name: str) -> Agent:
    """A tabular agent with its default configuration, by name (``AGENT_NAMES``; "qlearning" is
    epsilon-greedy Q-learning)."""
    factories = _agents()
    if name not in factories:
        raise ConfigError(f"agent: unknown name {name!r}; expected one of {sorted(factories)}")
    return factories[name]()


def run_metric_agent(
    env,
    agent,
    n_episodes: int,
    n_runs: int,
    rng: int | np.random.Generator,
    *,
    verbose: bool = False,
    eval_chunk: int = 32,
) -> RunResult:
    """Play a continuous-state agent (``act(h, x)`` / ``update(xs, actions, rewards)`` / ``policy_on``)
    on a :class:`~duelbandit.rl.envs.ContinuousChain`, one run after the other (the partitions of
    different runs differ, so runs are not batched). Run k uses the k-th child of ``rng``.

    Regret is exact: the agent's partition is no finer than the environment's cells, so its greedy
    policy is constant on cells and is evaluated on the cell-level model.
    """
    _check_sizes(n_episodes, n_runs)
    gen = as_generator(rng)
    mdp, H = env.mdp, env.H
    cells_level = int(np.log2(env.n_cells))
    if getattr(agent.config, "max_level", cells_level) > cells_level:
        raise ConfigError(f"max_level: expected <= log2(n_cells) = {cells_level} for exact regret, "
                          f"got {agent.config.max_level}")
    _, V_star = optimal_values(mdp)
    v_star = float(mdp.mu0 @ V_star[0])
    centres = env.centres()
    regret = np.empty((n_runs, n_episodes))
    realised = np.empty((n_runs, n_episodes))
    t0 = time.perf_counter()
    bar = _progress(n_runs * n_episodes, f"{agent.name} on {env.name}", verbose)
    for k, g in enumerate(gen.spawn(n_runs)):
        agent.reset(H, env.A, g)
        buf = np.empty((eval_chunk, H, env.n_cells, env.A))
        for t in range(n_episodes):
            buf[t % eval_chunk] = agent.policy_on(centres)
            xs, actions, rewards = np.empty(H + 1), np.empty(H, dtype=np.int64), np.empty(H)
            xs[0] = env.sample_initial(g)
            for h in range(H):
                actions[h] = agent.act(h, xs[h])
                xs[h + 1], rewards[h] = env.step(xs[h], actions[h], g)
            agent.update(xs, actions, rewards)
            realised[k, t] = V_star[0, env.cell(xs[0])] - rewards.sum()
            if (t + 1) % eval_chunk == 0 or t + 1 == n_episodes:
                m = t % eval_chunk + 1
                regret[k, t + 1 - m : t + 1] = v_star - policy_values(mdp, buf[:m])[:, 0, :] @ mdp.mu0
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    config = dict(vars(agent.config)) if hasattr(agent, "config") else {}
    return RunResult(agent.name, env.name, regret, realised, v_star, time.perf_counter() - t0, config)
