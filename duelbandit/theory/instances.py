"""The hard instance of the minimax lower bound (Scheid et al. 2024, Theorem 3), as a pool selectors can
query, with its greedy policy over the whole cube and its exact regret."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import PoolError
from duelbandit.rng import as_generator, seed_of
from duelbandit.types import Features, Pool

# ---------------------------------------------------------------------------------------------------
# the hard instance of the lower bound (Scheid et al. 2024, Theorem 3)


@dataclass(frozen=True)
class HypercubeInstance:
    """Theorem 3's hard instance for a budget T, as a pool that selectors can query.

    The instance: actions a in [-1/sqrt(d), 1/sqrt(d)]^d (one context), theta* = sign * sqrt(d/T) with
    sign in {-1, +1}^d, so ||theta*|| = d / sqrt(T) (<= 1 iff T >= d^2) and every vertex has ||a|| = 1.
    A linear reward is maximised over the cube at a vertex, so the vertices are the actions that matter.

    As a pool: ``n_prompts`` query sets ("cube, query set n"), each a list of ``n_responses`` distinct
    random vertices (every vertex when 2^d is smaller). A selector may label any within-set pair, whose
    difference b has coordinates in {0, +-2/sqrt(d)}: it informs every coordinate where the two vertices
    differ at once. The learned policy is NOT restricted to the listed vertices: it is the greedy action
    over the whole cube, a_hat = sign(theta_hat) / sqrt(d) (:func:`hypercube_policy`), and its regret is
    the theorem's (:func:`hypercube_regret`): (2 / sqrt(T)) x (number of coordinates whose sign is wrong).

    Attributes:
        pool: the query sets.
        features: (R, d) the listed vertices, entries +-1/sqrt(d).
        theta_star: (d,) sign * sqrt(d / T).
        rewards: (R,) X theta* (for the simulated annotator).
        signs: (d,) the sign vector, +-1.
        T: the budget the instance is built for.
    """

    pool: Pool
    features: Features
    theta_star: np.ndarray
    rewards: np.ndarray
    signs: np.ndarray
    T: int


def make_hypercube_instance(
    dim: int,
    T: int,
    *,
    rng: int | np.random.Generator,
    n_prompts: int | None = None,
    n_responses: int = 8,
    signs: np.ndarray | None = None,
) -> HypercubeInstance:
    """The hypercube instance of Theorem 3 for (d, T) (see :class:`HypercubeInstance`).

    Args:
        dim: d >= 1.
        T: the label budget, T >= d^2 (so that ||theta*|| = d / sqrt(T) <= 1, the paper's H1).
        rng: int seed or Generator: draws the sign vector (unless given) and the listed vertices.
        n_prompts: number of query sets (default d).
        n_responses: vertices per query set, >= 2 (capped at 2^d, all of them, for small d).
        signs: (d,) +-1 sign vector to use instead of a random one.

    Returns:
        :class:`HypercubeInstance`.

    References:
        Scheid et al. 2024, Theorem 3 (theta in {+-sqrt(d/T)}^d, actions in [-1/sqrt(d), 1/sqrt(d)]^d).
    """
    for nm, v, lo in (("dim", dim, 1), ("T", T, 1), ("n_responses", n_responses, 2)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise PoolError(f"{nm}: expected an integer >= {lo}, got {v!r}")
    d, T = int(dim), int(T)
    if T < d * d:
        raise PoolError(
            f"T: the hypercube instance needs T >= d^2 = {d * d} so that ||theta*|| = d/sqrt(T) <= 1 (H1); "
            f"got T = {T} (||theta*|| would be {d / np.sqrt(T):.3g})"
        )
    n_prompts = d if n_prompts is None else n_prompts
    if isinstance(n_prompts, bool) or not isinstance(n_prompts, (int, np.integer)) or n_prompts < 1:
        raise PoolError(f"n_prompts: expected an integer >= 1, got {n_prompts!r}")
    gen = as_generator(rng)
    if signs is None:
        s = np.where(gen.random(d) < 0.5, -1.0, 1.0)
    else:
        s = np.asarray(signs, dtype=np.float64)
        if s.shape != (d,) or not np.all(np.abs(s) == 1):
            raise PoolError(f"signs: expected a ({d},) vector of +-1, got shape {s.shape} "
                            f"values {np.unique(s)}")
    K = int(min(n_responses, 2**d)) if d < 63 else int(n_responses)
    sets = []
    for _ in range(int(n_prompts)):
        if 2**d <= 4 * K:  # few vertices: draw K of all 2^d without replacement
            codes = gen.choice(2**d, size=K, replace=False)
            V = ((codes[:, None] >> np.arange(d)) & 1).astype(np.float64)
        else:  # many: draw sign rows, redraw duplicates (rare)
            V = (gen.random((K, d)) < 0.5).astype(np.float64)
            while np.unique(V, axis=0).shape[0] < K:
                _, first = np.unique(V, axis=0, return_index=True)
                dup = np.setdiff1d(np.arange(K), first)
                V[dup] = (gen.random((dup.shape[0], d)) < 0.5).astype(np.float64)
        sets.append((2.0 * V - 1.0) / np.sqrt(d))
    X = np.concatenate(sets)
    theta_star = s * np.sqrt(d / T)
    pool = Pool.from_lists(
        [f"cube, query set {n}" for n in range(int(n_prompts))],
        [[f"vertex {k} of query set {n}" for k in range(K)] for n in range(int(n_prompts))],
        name=f"hypercube-d{d}-T{T}",
    )
    features = Features(
        X=X,
        name="hypercube-vertices",
        config={"kind": "hypercube", "dim": d, "T": T, "n_prompts": int(n_prompts), "n_responses": K,
                "seed": seed_of(rng)},
    )
    return HypercubeInstance(pool=pool, features=features, theta_star=theta_star, rewards=X @ theta_star,
                             signs=s, T=T)


def hypercube_policy(theta_hat: np.ndarray) -> np.ndarray:
    """The greedy action over the cube [-1/sqrt(d), 1/sqrt(d)]^d: a_hat = sign(theta_hat) / sqrt(d) (a zero
    coordinate goes to +)."""
    th = np.asarray(theta_hat, dtype=np.float64)
    return np.where(th >= 0, 1.0, -1.0) / np.sqrt(th.shape[0])


def hypercube_regret(theta_hat: np.ndarray, theta_star: np.ndarray) -> float:
    """Simple regret over the cube, R = <theta*, a*(theta*) - a*(theta_hat)> with a*(theta) the greedy vertex:
    (2 / sqrt(T)) x #{i : sign(theta_hat_i) != sign(theta*_i)} on the hypercube instance."""
    ts = np.asarray(theta_star, dtype=np.float64)
    th = np.asarray(theta_hat, dtype=np.float64)
    if th.shape != ts.shape or ts.ndim != 1:
        raise PoolError(f"theta_hat: expected shape {ts.shape} like theta_star, got {th.shape}")
    return float(ts @ (hypercube_policy(ts) - hypercube_policy(th)))
