"""Annotators: label frequencies vs sigma (binomial tolerance), determinism, judge, callback."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.annotate import Annotator, CallbackAnnotator, JudgeAnnotator, SimulatedBT
from duelbandit.errors import LabelError
from duelbandit.types import Features, Pool
from duelbandit.select.base import Batch


def _setup():
    pool = Pool.from_lists(["x0", "x1"], [["a", "b", "c"], ["d", "e"]])
    X = np.array([[0.0, 0.0], [0.5, 0.0], [0.0, -0.4], [0.3, 0.3], [-0.3, 0.1]])
    theta = np.array([2.0, 1.0])
    return pool, X, theta


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def test_simulated_bt_frequencies_match_sigma():
    pool, X, theta = _setup()
    cand = pool.pairs()
    n = 4000
    batch = Batch(pairs=np.arange(len(cand)), counts=np.full(len(cand), n), selector="test")
    labels = SimulatedBT(theta, pool, Features(X), rng=123).label(batch)
    np.testing.assert_array_equal(labels.pairs, batch.expanded())
    freq = labels.y.reshape(len(cand), n).mean(axis=1)
    p = _sigmoid((X[cand.i] - X[cand.j]) @ theta)
    # 4.5 binomial standard deviations: a fixed seed, so this is deterministic, not flaky
    assert np.all(np.abs(freq - p) <= 4.5 * np.sqrt(p * (1 - p) / n))
    assert set(np.unique(labels.y)) <= {0.0, 1.0}


def test_simulated_bt_same_seed_same_labels_and_stream_continues():
    pool, X, theta = _setup()
    batch = Batch(pairs=np.array([3, 0, 1]), counts=np.array([50, 20, 30]), selector="test")
    a, b = SimulatedBT(theta, pool, X, rng=7), SimulatedBT(theta, pool, X, rng=7)
    la, lb = a.label(batch), b.label(batch)
    np.testing.assert_array_equal(la.y, lb.y)
    assert la.source == "simulated-bt" and la.seed == 7
    # one Generator across calls: the next round draws fresh noise
    assert not np.array_equal(a.label(batch).y, la.y)
    np.testing.assert_allclose(a.rewards, X @ theta)
    g = np.random.default_rng(7)
    assert SimulatedBT(theta, pool, X, rng=g, name="sim").label(batch).seed is None
    assert isinstance(a, Annotator)


def test_simulated_bt_validates():
    pool, X, theta = _setup()
    with pytest.raises(LabelError, match="features"):
        SimulatedBT(theta, pool, X[:4], rng=0)
    with pytest.raises(LabelError, match="theta_star"):
        SimulatedBT(np.ones(3), pool, X, rng=0)
    ann = SimulatedBT(theta, pool, X, rng=0)
    with pytest.raises(LabelError, match="candidate index 99"):
        ann.label(Batch(pairs=np.array([99]), counts=np.array([1]), selector="t"))


def test_judge_temperature_zero_is_deterministic_with_ties():
    pool = Pool.from_lists(["x"], [["a", "b", "c"]])
    rewards = np.array([1.0, 0.0, 1.0])  # pairs (0,1), (0,2), (1,2)
    batch = Batch(pairs=np.array([0, 1, 2]), counts=np.array([3, 2, 1]), selector="t")
    la = JudgeAnnotator(rewards, pool, rng=1, temperature=0.0).label(batch)
    lb = JudgeAnnotator(rewards, pool, rng=999, temperature=0.0).label(batch)
    np.testing.assert_array_equal(la.y, [1, 1, 1, 0.5, 0.5, 0])
    np.testing.assert_array_equal(la.y, lb.y)
    assert la.source == "judge" and la.seed == 1


def test_judge_temperature_scales_the_gap():
    pool = Pool.from_lists(["x"], [["a", "b"]])
    n = 6000
    batch = Batch(pairs=np.array([0]), counts=np.array([n]), selector="t")
    y = JudgeAnnotator(np.array([1.0, 0.0]), pool, rng=5, temperature=2.0).label(batch).y
    p = _sigmoid(0.5)
    assert abs(y.mean() - p) <= 4.5 * np.sqrt(p * (1 - p) / n)
    with pytest.raises(LabelError, match="temperature"):
        JudgeAnnotator(np.zeros(2), pool, rng=0, temperature=-1.0)
    with pytest.raises(LabelError, match="rewards"):
        JudgeAnnotator(np.zeros(3), pool, rng=0)


def test_callback_annotator_passes_texts_and_maps_answers():
    pool = Pool.from_lists(["q0", "q1"], [["a", "b", "c"], ["d", "e"]])
    calls = []
    answers = iter(["a", "B", " tie ", 0.25])

    def fn(prompt, ra, rb):
        calls.append((prompt, ra, rb))
        return next(answers)

    batch = Batch(pairs=np.array([2, 3, 0]), counts=np.array([1, 2, 1]), selector="t")
    labels = CallbackAnnotator(fn, pool, name="ui").label(batch)
    assert calls == [("q0", "b", "c"), ("q1", "d", "e"), ("q1", "d", "e"), ("q0", "a", "b")]
    np.testing.assert_array_equal(labels.y, [1.0, 0.0, 0.5, 0.25])
    np.testing.assert_array_equal(labels.pairs, [2, 3, 3, 0])
    assert labels.source == "ui" and labels.seed is None


@pytest.mark.parametrize("bad", ["maybe", 1.5, None, True])
def test_callback_annotator_refuses_bad_answers(bad):
    pool = Pool.from_lists(["q0"], [["a", "b"]])
    with pytest.raises(LabelError, match="p0:0-1"):
        CallbackAnnotator(lambda *a: bad, pool).label(
            Batch(pairs=np.array([0]), counts=np.array([1]), selector="t")
        )
