"""Pair-feature recipes: how text vectors become psi(x, y), one row per response.

Given an encoder e(t) (unit vectors, dimension H), the raw row of response y of prompt x is

- ``"joint"`` (default): z = e(x + "\\n" + y), H columns: the response read in its prompt's context;
- ``"response"``: z = e(y), H columns: the prompt is ignored;
- ``"interaction"``: z = [e(y), e(x) ⊙ e(y)], 2H columns. A plain concatenation [e(x), e(y)] would be
  useless for the prompt: its block is the same for every response of x and cancels in psi_i - psi_j,
  so a linear reward could never let the prompt change which response wins. The product block does:
  <theta_2, e(x) ⊙ (e(y_i) - e(y_j))> weighs the response difference by the prompt.

Then (:func:`finish`): optional PCA to ``dim`` columns (fitted on the pool's rows; it centres), else
optional centring (within-prompt differences are unchanged, the common offset goes), then one global
scale so that max_r ||psi_r|| = 1 (Scheid et al. 2024, H1). Every step is returned for ``Features.config``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from duelbandit.embed.base import scale_to_unit_ball
from duelbandit.errors import FeatureError
from duelbandit.pool import Pool

MODES = ("joint", "response", "interaction")


def joint_text(prompt: str, response: str) -> str:
    """The text of the joint recipe (the same join as the hashing embedder's)."""
    return f"{prompt}\n{response}"


def recipe_texts(pool: Pool, mode: str) -> list[str]:
    """Every text the recipe encodes, deduplicated by the cache later (prompts first for interaction)."""
    if mode == "joint":
        return [joint_text(pool.prompts[n], r) for n, r in zip(pool.response_prompt, pool.responses)]
    if mode == "response":
        return list(pool.responses)
    if mode == "interaction":
        return list(pool.prompts) + list(pool.responses)
    raise FeatureError(f"mode: expected one of {list(MODES)}, got {mode!r}")


def raw_rows(pool: Pool, mode: str, encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
    """(R, H) or (R, 2H) float32 raw rows z of the recipe, in ``pool.responses`` order."""
    V = encode(recipe_texts(pool, mode))
    if mode != "interaction":
        return V
    P, Rv = V[: pool.n_prompts], V[pool.n_prompts :]
    return interaction(P[pool.response_prompt], Rv)


def interaction(P: np.ndarray, R: np.ndarray) -> np.ndarray:
    """[R, P ⊙ R]: (n, 2H) from prompt rows P (n, H) and response rows R (n, H)."""
    return np.hstack([R, P * R])


def finish(Z: np.ndarray, *, dim: int | None, center: bool, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
    """Raw rows (R, D) -> psi (R, d) in float64: PCA to ``dim`` (or centring) then the unit-ball scale.

    PCA is scikit-learn's with ``svd_solver="covariance_eigh"`` (exact: eigenvectors of the D x D
    covariance, O(R D^2), memory O(D^2)), on one BLAS thread so the result is bit-identical whatever the
    thread settings; ``seed`` is its ``random_state`` (recorded; the exact solver draws nothing).

    Returns:
        X and {"pca": {...} or None, "centered", "scale", "raw_dim"}.
    """
    Z = np.asarray(Z, dtype=np.float64)
    R, D = Z.shape
    info: dict[str, Any] = {"raw_dim": int(D), "pca": None, "centered": bool(center)}
    if dim is not None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 1 <= dim <= min(R, D):
            raise FeatureError(f"dim: expected an integer in [1, min(rows, columns)] = [1, {min(R, D)}] for "
                               f"PCA of a ({R}, {D}) pool, got {dim!r}")
        from sklearn.decomposition import PCA

        pca = PCA(n_components=int(dim), svd_solver="covariance_eigh", random_state=seed)
        with threadpool_limits(limits=1, user_api="blas"):
            Z = pca.fit_transform(Z)
        info["pca"] = {"n_components": int(dim), "solver": "covariance_eigh", "random_state": int(seed),
                       "explained_variance_ratio": float(pca.explained_variance_ratio_.sum())}
        info["centered"] = True  # PCA centres
    elif center:
        Z = Z - Z.mean(axis=0, keepdims=True)
    X, scale = scale_to_unit_ball(Z)
    info["scale"] = scale
    return X, info
