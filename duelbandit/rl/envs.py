"""Tabular environments as :class:`~duelbandit.rl.mdp.FiniteMDP`: the RandQL paper's grid-world, a slippery
chain, RiverSwim, and an adapter for gymnasium toy-text environments that expose a transition table.

Every constructor returns the full model (P, R, mu0), so optimal values and regret are exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import ConfigError
from duelbandit.rl.mdp import FiniteMDP

# action order of the grid-world (kept from the reference implementation)
GRID_ACTIONS = ("left", "right", "down", "up")
_GRID_MOVES = ((0, -1), (0, 1), (1, 0), (-1, 0))


def gridworld(
    nrows: int = 10,
    ncols: int = 10,
    *,
    horizon: int = 50,
    start: tuple[int, int] = (0, 0),
    reward_at: tuple[int, int] | None = None,
    success_probability: float = 0.8,
) -> FiniteMDP:
    """The grid-world of Tiapkin et al. 2023 (Sec. 6): no walls, reward for acting in one corner.

    State = row * ncols + col. Actions left/right/down/up. A move off the grid leaves the agent where it
    is (probability 1); otherwise it reaches the intended neighbour with probability
    ``success_probability`` and each other in-grid neighbour with equal share of the rest. The reward is
    1 for any action taken while in ``reward_at`` (default: the far corner (nrows-1, ncols-1)), so the
    agent collects up to one unit per step by pushing into that corner. With the defaults
    (10 x 10, H = 50) V*_0(s_0) = 26.135270.
    """
    if nrows < 1 or ncols < 1:
        raise ConfigError(f"gridworld: expected nrows, ncols >= 1, got {nrows} x {ncols}")
    if not 0.0 <= success_probability <= 1.0:
        raise ConfigError(f"gridworld: success_probability must be in [0, 1], got {success_probability}")
    goal = reward_at if reward_at is not None else (nrows - 1, ncols - 1)
    for name, (r, c) in (("start", start), ("reward_at", goal)):
        if not (0 <= r < nrows and 0 <= c < ncols):
            raise ConfigError(f"gridworld: {name}={(r, c)} lies outside the {nrows} x {ncols} grid")
    S, A = nrows * ncols, 4
    P = np.zeros((S, A, S))
    R = np.zeros((S, A))
    for r in range(nrows):
        for c in range(ncols):
            s = r * ncols + c
            inside = [
                (m, (r + dr) * ncols + (c + dc))
                for m, (dr, dc) in enumerate(_GRID_MOVES)
                if 0 <= r + dr < nrows and 0 <= c + dc < ncols
            ]
            targets = dict(inside)
            for a in range(A):
                if a not in targets:
                    P[s, a, s] = 1.0
                    continue
                others = [t for m, t in inside if m != a]
                if not others:
                    P[s, a, targets[a]] = 1.0
                    continue
                P[s, a, targets[a]] += success_probability
                for t in others:
                    P[s, a, t] += (1.0 - success_probability) / len(others)
    R[goal[0] * ncols + goal[1], :] = 1.0
    mu0 = np.zeros(S)
    mu0[start[0] * ncols + start[1]] = 1.0
    info = {"nrows": nrows, "ncols": ncols, "start": list(start), "reward_at": list(goal),
            "success_probability": success_probability}
    return FiniteMDP(P, R, horizon, mu0, name=f"gridworld{nrows}x{ncols}", info=info)


def chain(
    n_states: int = 10,
    *,
    horizon: int = 20,
    slip: float = 0.1,
    small_reward: float = 0.05,
) -> FiniteMDP:
    """A slippery chain with a distractor: the classic hard-exploration toy.

    States 0..n-1, start 0, actions 0 = left, 1 = right. The intended move happens with probability
    1 - ``slip``, the opposite one with probability ``slip`` (moves off the ends stay put). Acting in the
    last state pays 1 (any action); "left" in state 0 pays ``small_reward``, a local optimum that
    undirected exploration (epsilon-greedy) settles for.
    """
    if n_states < 2:
        raise ConfigError(f"chain: n_states must be >= 2, got {n_states}")
    if not 0.0 <= slip <= 1.0:
        raise ConfigError(f"chain: slip must be in [0, 1], got {slip}")
    if not 0.0 <= small_reward <= 1.0:
        raise ConfigError(f"chain: small_reward must be in [0, 1], got {small_reward}")
    S = n_states
    P = np.zeros((S, 2, S))
    for s in range(S):
        left, right = max(s - 1, 0), min(s + 1, S - 1)
        P[s, 0, left] += 1.0 - slip
        P[s, 0, right] += slip
        P[s, 1, right] += 1.0 - slip
        P[s, 1, left] += slip
    R = np.zeros((S, 2))
    R[S - 1, :] = 1.0
    R[0, 0] = small_reward
    mu0 = np.zeros(S)
    mu0[0] = 1.0
    info = {"n_states": n_states, "slip": slip, "small_reward": small_reward}
    return FiniteMDP(P, R, horizon, mu0, name=f"chain{n_states}", info=info)


def riverswim(n_states: int = 6, *, horizon: int = 20) -> FiniteMDP:
    """RiverSwim (Strehl & Littman 2008), rewards normalised to [0, 1] (Osband et al. 2013).

    Action 0 (with the current) moves left surely; in state 0 it pays 5/1000. Action 1 (against the
    current) moves right w.p. 0.35, stays w.p. 0.6, drifts left w.p. 0.05 in the middle states; in state 0
    it moves right w.p. 0.6 (else stays), in the last state it stays w.p. 0.6 (else drifts left) and pays 1.
    """
    if n_states < 3:
        raise ConfigError(f"riverswim: n_states must be >= 3, got {n_states}")
    S = n_states
    P = np.zeros((S, 2, S))
    R = np.zeros((S, 2))
    for s in range(S):
        P[s, 0, max(s - 1, 0)] = 1.0
    P[0, 1, 0], P[0, 1, 1] = 0.4, 0.6
    for s in range(1, S - 1):
        P[s, 1, s - 1], P[s, 1, s], P[s, 1, s + 1] = 0.05, 0.6, 0.35
    P[S - 1, 1, S - 2], P[S - 1, 1, S - 1] = 0.4, 0.6
    R[0, 0] = 5.0 / 1000.0
    R[S - 1, 1] = 1.0
    mu0 = np.zeros(S)
    mu0[0] = 1.0
    return FiniteMDP(P, R, horizon, mu0, name=f"riverswim{n_states}", info={"n_states": n_states})


def from_gymnasium(env_id: str, *, horizon: int, **make_kwargs) -> FiniteMDP:
    """A gymnasium toy-text environment with a transition table (``env.unwrapped.P``) as a FiniteMDP.

    ``P[s][a]`` lists (prob, s', reward, terminated). Run with a fixed horizon, a state entered with
    ``terminated=True`` becomes absorbing with raw reward 0 (the episode has ended: nothing more to
    gain or lose). Raw rewards are mapped affinely to [0, 1] by r -> (r - lo) / (hi - lo), with [lo, hi]
    the range of the raw rewards and 0; since every episode has exactly H steps, this preserves the
    ordering of policies and divides regret by (hi - lo) (recorded in ``info``). Expected rewards are
    used (a reward that depends on s' is folded into R(s, a)).

    Works with FrozenLake-v1, Taxi-v4, CliffWalking-v1 (gymnasium 1.x); Blackjack has no table.
    """
    try:
        import gymnasium
    except ImportError as exc:  # pragma: no cover - gymnasium is an optional dependency
        raise ConfigError("from_gymnasium: needs gymnasium (pip install 'duelbandit[rl]')") from exc
    try:
        env = gymnasium.make(env_id, **make_kwargs)
    except Exception as exc:
        raise ConfigError(f"from_gymnasium: gymnasium.make({env_id!r}) failed: {exc}") from exc
    base = env.unwrapped
    table = getattr(base, "P", None)
    if not isinstance(table, dict):
        raise ConfigError(f"from_gymnasium: {env_id!r} exposes no transition table env.unwrapped.P")
    S, A = int(base.observation_space.n), int(base.action_space.n)
    P = np.zeros((S, A, S))
    Rsum = np.zeros((S, A))
    terminal = np.zeros(S, dtype=bool)
    raw = {0.0}
    for s in range(S):
        for a in range(A):
            for prob, s2, r, done in table[s][a]:
                P[s, a, int(s2)] += prob
                Rsum[s, a] += prob * float(r)
                raw.add(float(r))
                if done:
                    terminal[int(s2)] = True
    P /= P.sum(-1, keepdims=True)  # gymnasium tables carry float round-off
    Rsum[terminal] = 0.0
    P[terminal] = 0.0
    for s in terminal.nonzero()[0]:
        P[s, :, s] = 1.0
    lo, hi = min(raw), max(raw)
    scale = hi - lo if hi > lo else 1.0
    R = (Rsum - lo) / scale
    mu0 = np.asarray(getattr(base, "initial_state_distrib", None), dtype=np.float64)
    if mu0.shape != (S,):
        start = getattr(base, "start_state_index", 0)
        mu0 = np.zeros(S)
        mu0[int(start)] = 1.0
    mu0 = mu0 / mu0.sum()
    env.close()
    info = {"gymnasium_id": env_id, "make_kwargs": make_kwargs, "raw_reward_range": [lo, hi],
            "reward_scale": scale, "n_terminal": int(terminal.sum())}
    return FiniteMDP(P, R, horizon, mu0, name=env_id, info=info)


@dataclass(frozen=True)
class ContinuousChain:
    """A continuous-state chain on [0, 1) whose dynamics live on ``n_cells`` equal cells, so that regret
    stays EXACT for agents that partition [0, 1) dyadically down to the cell size.

    The agent sees x in [0, 1). With c = floor(n_cells x), the next cell c' ~ mdp.P[c, a] and the next state
    is uniform in cell c'; the reward is mdp.R[c, a]. Any policy that is constant on cells is a policy of
    ``mdp``, which gives V* and V^pi exactly (dyadic partitions no finer than the cells are such).
    """

    mdp: FiniteMDP

    @property
    def n_cells(self) -> int:
        return self.mdp.S

    @property
    def H(self) -> int:
        return self.mdp.H

    @property
    def A(self) -> int:
        return self.mdp.A

    @property
    def name(self) -> str:
        return self.mdp.name

    def centres(self) -> np.ndarray:
        return (np.arange(self.n_cells) + 0.5) / self.n_cells

    def cell(self, x: np.ndarray) -> np.ndarray:
        return np.minimum((np.asarray(x) * self.n_cells).astype(np.int64), self.n_cells - 1)

    def sample_initial(self, rng: np.random.Generator) -> float:
        c = self.mdp.sample_initial(1, rng)[0]
        return float((c + rng.random()) / self.n_cells)

    def step(self, x: float, a: int, rng: np.random.Generator) -> tuple[float, float]:
        c = int(self.cell(x))
        c2 = int(self.mdp.next_states(np.array([c * self.A + a]), rng.random(1))[0])
        return float((c2 + rng.random()) / self.n_cells), float(self.mdp.R[c, a])


def continuous_chain(
    n_cells: int = 32,
    *,
    horizon: int = 20,
    shift: int = 2,
    noise: int = 1,
    goal: float = 0.9,
    width: float = 0.15,
    small_reward: float = 0.1,
) -> ContinuousChain:
    """A 1-D continuous chain with a Lipschitz reward: a bump of height 1 and half-width ``width`` at
    ``goal`` and a small bump (``small_reward``) near the start, a distractor for undirected exploration.

    Actions: 0 moves ``shift`` cells left, 1 moves ``shift`` cells right, plus a uniform jitter in
    {-noise, ..., noise} cells (clipped at the ends). Start: uniform on the cells whose centre is below
    0.1. The reward of cell c is
    max(bump(x_c), small_reward * bump_0(x_c)) at its centre x_c, with Lipschitz constant 1 / width in x.
    """
    if n_cells < 4 or n_cells & (n_cells - 1):
        raise ConfigError(f"continuous_chain: n_cells must be a power of two >= 4, got {n_cells}")
    G = n_cells
    x = (np.arange(G) + 0.5) / G
    reward = np.maximum(np.maximum(0.0, 1.0 - np.abs(x - goal) / width),
                        small_reward * np.maximum(0.0, 1.0 - np.abs(x - 0.05) / 0.1))
    P = np.zeros((G, 2, G))
    for c in range(G):
        for a, d in enumerate((-shift, shift)):
            for j in range(-noise, noise + 1):
                P[c, a, min(max(c + d + j, 0), G - 1)] += 1.0 / (2 * noise + 1)
    R = np.repeat(reward[:, None], 2, axis=1)
    mu0 = (x < 0.1).astype(np.float64)
    mu0 /= mu0.sum()
    info = {"n_cells": G, "shift": shift, "noise": noise, "goal": goal, "width": width,
            "small_reward": small_reward, "lipschitz": 1.0 / width}
    return ContinuousChain(FiniteMDP(P, R, horizon, mu0, name=f"continuous_chain{G}", info=info))


# name -> (constructor, default horizon); the CLI uses these names
ENVS: dict[str, tuple] = {
    "gridworld": (lambda H: gridworld(horizon=H), 50),
    "chain": (lambda H: chain(horizon=H), 20),
    "riverswim": (lambda H: riverswim(horizon=H), 20),
    "frozenlake": (lambda H: from_gymnasium("FrozenLake-v1", horizon=H), 100),
    "frozenlake8x8": (lambda H: from_gymnasium("FrozenLake-v1", horizon=H, map_name="8x8"), 200),
    "taxi": (lambda H: from_gymnasium("Taxi-v4", horizon=H), 50),
    "cliffwalking": (lambda H: from_gymnasium("CliffWalking-v1", horizon=H), 30),
}


def make_env(name: str, horizon: int | None = None) -> FiniteMDP:
    """Build a registered environment by name (``ENVS`` lists them), with its default horizon if None."""
    try:
        build, default_h = ENVS[name]
    except KeyError:
        raise ConfigError(f"env: unknown name {name!r}; expected one of {sorted(ENVS)}") from None
    H = default_h if horizon is None else horizon
    if H < 1:
        raise ConfigError(f"horizon: expected an integer >= 1, got {H}")
    return build(H)
