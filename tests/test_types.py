"""Pool, Candidates and Features: layout, candidate pairs against a brute-force listing, validation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from duelbandit.errors import FeatureError, PoolError
from duelbandit.types import Features, Pool


def make(counts=(2, 4, 3, 2, 5)) -> Pool:
    return Pool.from_lists(
        [f"prompt {n}" for n in range(len(counts))],
        [[f"r{n}.{k}" for k in range(c)] for n, c in enumerate(counts)],
        skills=["a" if n % 2 else "b" for n in range(len(counts))],
    )


def brute_pairs(pool: Pool) -> list[tuple[int, int, int]]:
    out, start = [], 0
    for n, c in enumerate(pool.response_counts):
        out += [(n, start + a, start + b) for a, b in itertools.combinations(range(int(c)), 2)]
        start += int(c)
    return out


def test_layout():
    pool = make()
    assert pool.n_prompts == 5 and pool.n_responses == 16
    np.testing.assert_array_equal(pool.offsets, [0, 2, 6, 9, 11, 16])
    np.testing.assert_array_equal(pool.response_prompt, np.repeat(np.arange(5), [2, 4, 3, 2, 5]))
    assert pool.responses_of(2) == ("r2.0", "r2.1", "r2.2")
    assert pool.prompt_ids == ("p0", "p1", "p2", "p3", "p4")
    with pytest.raises(ValueError):
        pool.offsets[0] = 1  # read-only


def test_pairs_match_brute_force():
    pool = make()
    cand = pool.pairs()
    got = list(zip(cand.prompt.tolist(), cand.i.tolist(), cand.j.tolist()))
    assert got == brute_pairs(pool)
    assert len(cand) == pool.n_pairs == sum(c * (c - 1) // 2 for c in (2, 4, 3, 2, 5))
    assert pool.pairs() is cand  # cached


def test_pair_ids_round_trip():
    pool = make()
    cand = pool.pairs()
    ids = cand.pair_ids()
    assert ids[0] == "p0:0-1" and ids[1] == "p1:0-1"
    assert len(set(ids)) == len(ids)
    idx = np.array([5, 0, len(cand) - 1])
    np.testing.assert_array_equal(cand.index_of([ids[k] for k in idx]), idx)
    with pytest.raises(PoolError, match="'p9:0-1'"):
        cand.index_of(["p9:0-1"])


def test_differences_match_explicit_rows():
    pool = make()
    X = np.random.default_rng(0).normal(size=(pool.n_responses, 3))
    cand = pool.pairs()
    expected = np.array([X[i] - X[j] for _, i, j in brute_pairs(pool)])
    np.testing.assert_array_equal(cand.differences(X), expected)
    np.testing.assert_array_equal(cand.differences(X, [3, 1]), expected[[3, 1]])
    with pytest.raises(FeatureError, match=r"\(16, d\)"):
        cand.differences(X[:-1])


def test_fingerprint_tracks_content():
    assert make().fingerprint() == make().fingerprint()
    other = Pool.from_lists(["prompt 0"], [["r0.0", "r0.X"]])
    assert Pool.from_lists(["prompt 0"], [["r0.0", "r0.1"]]).fingerprint() != other.fingerprint()


@pytest.mark.parametrize(
    "kwargs,what",
    [
        ({"prompts": ["a", "b"], "responses": [["x", "y"], ["z"]]}, "'p1' has 1 response"),
        (
            {"prompts": ["a", "b"], "responses": [["x", "y"], ["z", "w"]], "prompt_ids": ["q", "q"]},
            "duplicate prompt id 'q'",
        ),
        ({"prompts": ["a"], "responses": [["x", "y"], ["z", "w"]]}, "1 prompts but 2 response lists"),
        ({"prompts": ["a"], "responses": [["x", "y"]], "skills": ["s", "t"]}, "2 skill labels for 1 prompts"),
        ({"prompts": [], "responses": []}, "no prompts"),
    ],
)
def test_pool_validation(kwargs, what):
    with pytest.raises(PoolError, match=what):
        Pool.from_lists(**kwargs)


def test_features_validation():
    pool = make()
    f = Features(np.zeros((16, 2)), name="z")
    f.check_aligned(pool)
    assert f.dim == 2
    with pytest.raises(FeatureError, match="row 1 has NaN"):
        Features(np.array([[0.0], [np.nan]]))
    with pytest.raises(FeatureError, match="2-d"):
        Features(np.zeros(3))
    with pytest.raises(FeatureError, match="15 rows"):
        Features(np.zeros((15, 2))).check_aligned(pool)
