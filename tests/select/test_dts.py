"""Double Thompson sampling (Wu & Liu 2016) on one prompt and over a pool."""

from __future__ import annotations

import numpy as np

from duelbandit.annotate import Labels
from duelbandit.select import DTSSelector, SelectionState
from duelbandit.select.dts import dts_pick
from tests.conftest import random_pool


def test_a_clear_copeland_winner_is_always_the_first_arm():
    K = 5
    W = np.zeros((K, K))
    W[2, :] = 200.0  # response 2 beat every other response 200 times, never lost
    W[2, 2] = 0.0
    for seed in range(30):
        first, second = dts_pick(W, t=1000, alpha=0.51, gen=np.random.default_rng(seed))
        assert first == 2 and second != 2


def test_without_data_all_responses_are_candidates_and_pairs_are_distinct():
    W = np.zeros((4, 4))
    firsts = [dts_pick(W, 1, 0.51, np.random.default_rng(s))[0] for s in range(200)]
    assert set(firsts) == {0, 1, 2, 3}  # ties at random
    for s in range(50):
        a, b = dts_pick(W, 1, 0.51, np.random.default_rng(s))
        assert a != b


def test_free_pairs_are_respected():
    free = np.zeros((3, 3), dtype=bool)
    free[0, 1] = free[1, 0] = True  # only the pair (0, 1) is left
    for s in range(20):
        assert set(dts_pick(np.zeros((3, 3)), 1, 0.51, np.random.default_rng(s), free)) == {0, 1}


def test_labels_go_to_the_least_labelled_prompts_first():
    pool, feats = random_pool(12, (3, 5), 3, seed=4)
    cand = pool.pairs()
    batch = DTSSelector().select(SelectionState(pool, feats), 12, 0)
    assert np.array_equal(np.sort(cand.prompt[batch.pairs]), np.arange(12))  # one label per prompt
    # prompt 0 already has 3 labels: a batch of 11 skips it
    first0 = np.flatnonzero(cand.prompt == 0)[:1]
    labels = Labels(np.repeat(first0, 3), np.ones(3))
    batch = DTSSelector().select(SelectionState(pool, feats, labels=labels), 11, 0)
    assert 0 not in cand.prompt[batch.pairs]
