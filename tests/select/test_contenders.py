"""Contender pairs: each prompt's top-two pair under a score, against a brute-force oracle."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.annotate import JudgeAnnotator
from duelbandit.errors import SelectorError
from duelbandit.select import ContendersSelector, SelectionState
from duelbandit.select.contenders import contender_batch, top_two_pairs
from duelbandit.types import Features, Pool
from tests.conftest import random_pool


def _oracle(pool, scores, tiebreak):
    """Loop over prompts: sort (score desc, tiebreak asc), look the pair up in Pool.pairs()."""
    P = pool.pairs()
    index = {(int(i), int(j)): t for t, (i, j) in enumerate(zip(P.i, P.j))}
    out = []
    for n in range(pool.n_prompts):
        r = range(pool.offsets[n], pool.offsets[n + 1])
        first, second = sorted(r, key=lambda q: (-scores[q], tiebreak[q]))[:2]
        out.append(index[(min(first, second), max(first, second))])
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_top_two_pairs_match_a_brute_force_oracle(seed):
    pool, feats = random_pool(40, (2, 7), 3, seed=seed)
    gen = np.random.default_rng(seed)
    scores = np.round(gen.normal(size=pool.n_responses), 1)  # rounded: many ties, broken by the key
    tiebreak = gen.random(pool.n_responses)
    got = top_two_pairs(pool, scores, tiebreak)
    assert np.array_equal(got, _oracle(pool, scores, tiebreak))
    P = pool.pairs()
    assert np.array_equal(P.prompt[got], np.arange(pool.n_prompts))  # one pair per prompt, its own


def test_top_two_pairs_refuses_wrong_shapes():
    pool, _ = random_pool(5, (3, 3), 2, seed=0)
    with pytest.raises(SelectorError, match="scores and tiebreak"):
        top_two_pairs(pool, np.zeros(pool.n_responses + 1), np.zeros(pool.n_responses))


def test_contender_batch_spends_the_budget_on_top_pairs_reproducibly():
    pool, feats = random_pool(30, (3, 6), 4, seed=4)
    state = SelectionState(pool, feats)
    theta = np.array([1.0, -2.0, 0.5, 0.0])
    a = contender_batch(state, theta, 500, np.random.default_rng(3))
    b = contender_batch(state, theta, 500, np.random.default_rng(3))
    assert int(a.counts.sum()) == 500 and np.array_equal(a.expanded(), b.expanded())
    top = top_two_pairs(pool, feats.X @ theta, np.zeros(pool.n_responses))  # no ties among random features
    assert set(a.pairs) <= set(top)


def test_contender_design_beats_spreading_labels_evenly_over_prompts():
    """The labels follow the locally D-optimal design of the top-two pairs: their Fisher information
    log det sum_p n_p sigma'(<theta, b_p>) b_p b_p^T is at least that of the same budget split evenly over
    the prompts' top-two pairs (the even split is one feasible allocation)."""
    from duelbandit.reward import sigmoid_prime

    pool, feats = random_pool(40, (3, 6), 5, seed=2)
    state = SelectionState(pool, feats)
    theta = 3.0 * np.array([1.0, -0.5, 0.3, 0.8, 0.1])
    top = top_two_pairs(pool, feats.X @ theta, np.zeros(pool.n_responses))
    B = state.candidates.differences(feats.X)
    w = sigmoid_prime(B @ theta)

    def logdet(pairs, counts):
        return np.linalg.slogdet((B[pairs] * (counts * w[pairs])[:, None]).T @ B[pairs])[1]

    batch = contender_batch(state, theta, 400, np.random.default_rng(0))
    assert logdet(batch.pairs, batch.counts) >= logdet(top, np.full(len(top), 10.0))


def test_contender_batch_without_information_falls_back_to_uniform_prompts():
    """Identical responses: every top-two difference is 0, no design exists; labels go to drawn prompts."""
    pool = Pool.from_lists([f"p{n}" for n in range(5)], [["a", "b", "c"]] * 5)
    X = np.repeat(np.random.default_rng(0).normal(size=(5, 3)), 3, axis=0)  # 3 copies per prompt
    state = SelectionState(pool, Features(X, name="dup"))
    batch = contender_batch(state, np.ones(3), 50, np.random.default_rng(1))
    assert int(batch.counts.sum()) == 50 and set(batch.pairs) <= set(top_two_pairs(pool, X @ np.ones(3),
                                                                                   np.random.default_rng(1).random(15)))


def test_contenders_after_a_uniform_round_hold_the_true_best_response():
    """Low label noise, well-specified: after 600 uniform labels the fit's top two hold each prompt's best
    response on nearly every prompt, so the contender labels compare the winner with its closest rival."""
    pool, feats = random_pool(60, (4, 6), 4, seed=7)
    state = SelectionState(pool, feats)
    rewards = feats.X @ (8.0 * np.array([1.0, -0.6, 0.4, 0.2]))
    sel = ContendersSelector(weight=0.5, total=1200)
    assert sel.rounds(1200) == [600, 600]
    gen, ann = np.random.default_rng(0), JudgeAnnotator(rewards, pool, rng=1)
    first = sel.select(state, 600, gen)
    assert first.info["uniform_labels"] == 600
    sel.update(first, ann.label(first))
    second = sel.select(state, 600, gen)
    assert second.info["contender_labels"] == 600 and second.info["theta_norm"] > 0
    P = pool.pairs()
    best = np.array([pool.offsets[n] + np.argmax(rewards[pool.offsets[n]:pool.offsets[n + 1]])
                     for n in range(pool.n_prompts)])
    held = [(P.i[t] == best[P.prompt[t]]) or (P.j[t] == best[P.prompt[t]]) for t in second.pairs]
    assert np.mean(held) >= 0.9
