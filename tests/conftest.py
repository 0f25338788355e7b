"""Shared fixtures: small pools with random features (built here, independent of the code under test)."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.types import Features, Pool


def random_pool(n_prompts: int, k_range: tuple[int, int], dim: int, seed: int) -> tuple[Pool, Features]:
    rng = np.random.default_rng(seed)
    ks = rng.integers(k_range[0], k_range[1] + 1, size=n_prompts)
    prompts = [f"prompt {n}" for n in range(n_prompts)]
    responses = [[f"response {k} of prompt {n}" for k in range(int(kk))] for n, kk in enumerate(ks)]
    pool = Pool.from_lists(prompts, responses, name=f"random-{seed}")
    X = rng.normal(size=(pool.n_responses, dim))
    X /= np.linalg.norm(X, axis=1, keepdims=True).max()
    return pool, Features(X, name="gaussian", config={"seed": seed})


@pytest.fixture
def small_pool() -> tuple[Pool, Features]:
    return random_pool(30, (2, 6), 5, seed=1)
