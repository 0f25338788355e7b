"""Synthetic, well-specified pools: features psi, a true theta* and rewards r = psi . theta* (spec §1, §7).

Two kinds (spec §7: isotropic features hide the value of design; real embeddings do not):

- ``isotropic``: psi = g / ||g|| with g ~ N(0, I_d); theta* uniform on the sphere of radius S.
- ``anisotropic`` (realistic): every Gaussian draw is shaped by a fast-decaying spectrum,
  Cov = Q diag(k^-decay) Q^T (Q a random rotation), in three levels: a few prompt clusters of unequal
  size (P(cluster m) ~ 1/(m+1); recorded as the pool's skills), prompt centres around them, and
  responses = prompt centre + a within-prompt spread; a fraction ``dup_frac`` of responses are
  near-duplicates (an earlier response of the same prompt plus tiny noise), so uniform pairs waste
  labels on b ~ 0. Rows share one scale (the 95% norm quantile; the longest 5% are shrunk radially to
  norm 1), which keeps the spectrum that per-row normalisation would bend.
  theta* is uniform on the sphere of radius S: it is not tied to the top eigen-direction, so rankings
  depend on several directions, including weak ones that random pairs rarely excite. The reward gaps
  stay meaningful because the within-prompt spread (default 1) is on the scale of the prompt
  component (cluster 0.5, prompt 0.25): with ||theta*|| = 1 and ||psi|| <= 1, a spread 4x smaller
  leaves a median |gap| ~ 0.025 (labels ~ coin flips, nothing learnable in thousands of labels). Lower
  ``spread`` to study that regime.

Both satisfy the paper's H1: ||psi|| <= 1 for every row and ||theta*|| = S. The hard instance of the
lower bound lives with the theory: :mod:`duelbandit.theory.instances`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from duelbandit.errors import PoolError
from duelbandit.types import Features, Pool
from duelbandit.rng import as_generator, seed_of


@dataclass(frozen=True)
class SyntheticPool:
    """A pool with known truth.

    Attributes:
        pool: prompts and placeholder responses ("response k of prompt n").
        features: psi (R, d), ||psi|| <= 1; ``features.config`` records how they were drawn.
        theta_star: (d,) with ||theta*|| = S.
        rewards: (R,) r = X theta* (the true rewards for :func:`duelbandit.regret.simple_regret`).
    """

    pool: Pool
    features: Features
    theta_star: np.ndarray
    rewards: np.ndarray


def _counts(n_prompts: int, n_responses: int | tuple[int, int], gen: np.random.Generator) -> np.ndarray:
    if isinstance(n_responses, (int, np.integer)) and not isinstance(n_responses, bool):
        lo = hi = int(n_responses)
    elif isinstance(n_responses, (tuple, list)) and len(n_responses) == 2:
        lo, hi = int(n_responses[0]), int(n_responses[1])
    else:
        raise PoolError(f"n_responses: expected an int or a (min, max) pair, got {n_responses!r}")
    if lo < 2 or hi < lo:
        raise PoolError(f"n_responses: expected 2 <= min <= max, got {n_responses!r}")
    if lo == hi:
        return np.full(n_prompts, lo, dtype=np.int64)
    return gen.integers(lo, hi + 1, size=n_prompts).astype(np.int64)


def _unit_rows(A: np.ndarray) -> np.ndarray:
    return A / np.maximum(np.linalg.norm(A, axis=1, keepdims=True), 1e-300)


def _anisotropic(
    counts: np.ndarray,
    dim: int,
    gen: np.random.Generator,
    *,
    decay: float,
    n_clusters: int,
    spread: float,
    dup_frac: float,
    dup_noise: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (R, d) before scaling, theta direction (d,), and the cluster of every prompt (N,)."""
    N, R = counts.shape[0], int(counts.sum())
    Q, _ = np.linalg.qr(gen.standard_normal((dim, dim)))
    scale = np.arange(1, dim + 1, dtype=np.float64) ** (-decay / 2)  # std per direction: variance k^-decay

    def draw(n: int) -> np.ndarray:
        return (gen.standard_normal((n, dim)) * scale) @ Q.T

    n_clusters = max(1, min(n_clusters, N))
    centres = 0.5 * draw(n_clusters)
    pc = 1.0 / np.arange(1, n_clusters + 1)
    cluster = gen.choice(n_clusters, size=N, p=pc / pc.sum())
    prompt_centre = centres[cluster] + 0.25 * draw(N)
    resp_prompt = np.repeat(np.arange(N), counts)
    X = prompt_centre[resp_prompt] + spread * draw(R)
    # near-duplicates: response at local position k copies an earlier one of its prompt (position-wise
    # so that a copy of a copy is already final), plus noise far below the within-prompt spread
    offsets = np.concatenate([[0], np.cumsum(counts)])
    local = np.arange(R) - offsets[resp_prompt]
    is_dup = (gen.random(R) < dup_frac) & (local > 0)
    src_local = np.floor(gen.random(R) * np.maximum(local, 1)).astype(np.int64)
    noise = dup_noise * spread * draw(R)
    for k in range(1, int(counts.max())):
        rows = np.flatnonzero(is_dup & (local == k))
        X[rows] = X[offsets[resp_prompt[rows]] + src_local[rows]] + noise[rows]
    theta_dir = gen.standard_normal(dim)  # isotropic: see the module docstring
    return X, theta_dir, cluster


def make_synthetic_pool(
    n_prompts: int,
    n_responses: int | tuple[int, int],
    dim: int,
    *,
    S: float = 1.0,
    kind: str = "isotropic",
    rng: int | np.random.Generator,
    decay: float = 1.5,
    n_clusters: int = 4,
    spread: float = 1.0,
    dup_frac: float = 0.4,
    dup_noise: float = 0.02,
) -> SyntheticPool:
    """A well-specified pool: rewards = X theta*, ||psi|| <= 1, ||theta*|| = S (see the module docstring).

    Args:
        n_prompts: N >= 1.
        n_responses: responses per prompt, an int >= 2 or a (min, max) range drawn uniformly per prompt.
        dim: d >= 1.
        S: ||theta*|| (>= 0); kappa = 1 / sigma'(2 S) grows fast with it.
        kind: "isotropic" or "anisotropic".
        rng: int seed or Generator; the pool is a deterministic function of it.
        decay: anisotropic only: eigenvalue k of the feature covariance ~ k^-decay.
        n_clusters: anisotropic only: number of prompt clusters (recorded as the pool's skills).
        spread: anisotropic only: within-prompt spread (cluster centres have 0.5, prompt offsets 0.25).
        dup_frac: anisotropic only: probability that a response (other than the first) is a near-duplicate.
        dup_noise: anisotropic only: near-duplicate noise relative to ``spread``.

    Returns:
        :class:`SyntheticPool`.
    """
    for nm, v, lo in (("n_prompts", n_prompts, 1), ("dim", dim, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise PoolError(f"{nm}: expected an integer >= {lo}, got {v!r}")
    if not np.isfinite(S) or S < 0:
        raise PoolError(f"S: expected a finite norm >= 0, got {S!r}")
    if kind not in ("isotropic", "anisotropic"):
        raise PoolError(f"kind: expected 'isotropic' or 'anisotropic', got {kind!r}")
    if not (decay >= 0 and spread > 0 and 0 <= dup_frac <= 1 and dup_noise >= 0 and n_clusters >= 1):
        raise PoolError(
            f"anisotropic parameters: expected decay >= 0, spread > 0, 0 <= dup_frac <= 1, dup_noise >= 0, "
            f"n_clusters >= 1; got decay={decay}, spread={spread}, dup_frac={dup_frac}, "
            f"dup_noise={dup_noise}, n_clusters={n_clusters}"
        )
    gen = as_generator(rng)
    counts = _counts(int(n_prompts), n_responses, gen)
    config: dict = {
        "kind": kind,
        "n_prompts": int(n_prompts),
        "n_responses": n_responses,
        "dim": int(dim),
        "S": float(S),
        "seed": seed_of(rng),
    }
    skills = None
    if kind == "isotropic":
        X = _unit_rows(gen.standard_normal((int(counts.sum()), dim)))
        theta_dir = gen.standard_normal(dim)
    else:
        X, theta_dir, cluster = _anisotropic(
            counts,
            dim,
            gen,
            decay=decay,
            n_clusters=n_clusters,
            spread=spread,
            dup_frac=dup_frac,
            dup_noise=dup_noise,
        )
        # one common scale (the 95% norm quantile) keeps the spectrum; the 5% longest rows are then
        # shrunk radially to norm 1 -- dividing by the maximum would let a few outliers shrink every gap
        X = X / np.quantile(np.linalg.norm(X, axis=1), 0.95)
        X = X / np.maximum(np.linalg.norm(X, axis=1), 1.0)[:, None]
        skills = [f"cluster{int(c)}" for c in cluster]
        config.update(
            decay=decay, n_clusters=n_clusters, spread=spread, dup_frac=dup_frac, dup_noise=dup_noise
        )
    theta_star = S * theta_dir / np.linalg.norm(theta_dir)
    pool = Pool.from_lists(
        [f"prompt {n}" for n in range(n_prompts)],
        [[f"response {k} of prompt {n}" for k in range(int(c))] for n, c in enumerate(counts)],
        skills=skills,
        name=f"synthetic-{kind}",
    )
    features = Features(X=X, name=f"synthetic-{kind}", config=config)
    return SyntheticPool(pool=pool, features=features, theta_star=theta_star, rewards=X @ theta_star)
