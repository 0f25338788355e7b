"""The collection loop: rounds, the label log, checkpoints, and resume after an interruption."""

from __future__ import annotations

import json

import numpy as np
import pytest

import duelbandit.select.loop as loop_mod
from duelbandit.annotate import FileAnnotator, Labels, SimulatedBT
from duelbandit.errors import ConfigError, LabelError
from duelbandit.select import SelectionState, make_selector
from duelbandit.select.loop import CHECKPOINT_FILE, LABELS_FILE, PENDING_FILE, collect
from tests.conftest import random_pool

THETA = np.array([1.5, -1.0, 0.5, 0.0, 2.0])


@pytest.fixture
def setup():
    pool, feats = random_pool(25, (3, 5), 5, seed=7)
    return SelectionState(pool, feats), pool, feats


def simulated(pool, feats):
    return lambda gen, done: SimulatedBT(THETA, pool, feats, rng=gen)


def run(state, tmp, name="greedy_logdet", T=40, m=8, seed=3, **kw):
    pool, feats = state.pool, state.features
    return collect(state, make_selector(name), kw.pop("annotator", simulated(pool, feats)), budget=T,
                   batch_size=m, seed=seed, state_dir=tmp, verbose=False, **kw)


class Crash(Exception):
    """Stands in for a kill between the append of a round and its checkpoint."""


def crash_at_checkpoint(monkeypatch, n_ok: int):
    real = loop_mod.write_json_atomic
    calls = {"n": 0}

    def writer(path, obj, **kw):
        calls["n"] += 1
        if calls["n"] > n_ok:  # the first call is the initial checkpoint (round 0)
            raise Crash()
        return real(path, obj, **kw)

    monkeypatch.setattr(loop_mod, "write_json_atomic", writer)


def test_log_and_checkpoint_after_every_round(setup, tmp_path):
    state, pool, feats = setup
    res = run(state, tmp_path)
    assert res.complete and res.rounds == 5 and len(res.labels) == 40
    rows = [json.loads(x) for x in (tmp_path / LABELS_FILE).read_text().splitlines()]
    assert [r["index"] for r in rows] == list(range(40))
    assert [r["round"] for r in rows] == [k // 8 for k in range(40)]
    assert {r["pool"] for r in rows} == {pool.fingerprint()} and {r["seed"] for r in rows} == {3}
    assert all(r["winner"] == {1.0: "a", 0.0: "b"}[r["y"]] for r in rows)
    assert pool.pairs().index_of([r["pair_id"] for r in rows]).tolist() == res.labels.pairs.tolist()
    ckpt = json.loads((tmp_path / CHECKPOINT_FILE).read_text())
    assert ckpt["n_labels"] == 40 and ckpt["complete"] and ckpt["rounds"] == 5
    # the Generator states are plain JSON and restore a Generator exactly
    g = np.random.default_rng()
    g.bit_generator.state = ckpt["rng"]["selector"]
    assert isinstance(g.random(), float)
    # theta_hat is the BT fit of the logged labels: scikit-learn's logistic regression on them
    from sklearn.linear_model import LogisticRegression

    B = pool.pairs().differences(feats.X, res.labels.pairs)
    lr = LogisticRegression(fit_intercept=False, C=1 / state.lam, tol=1e-12, max_iter=10_000)
    lr.fit(B, res.labels.y)
    np.testing.assert_allclose(ckpt["theta"], lr.coef_[0], atol=1e-6)
    # in memory: the same labels
    mem = run(state, None)
    assert np.array_equal(mem.labels.pairs, res.labels.pairs) and np.array_equal(mem.labels.y, res.labels.y)


@pytest.mark.parametrize("crash_after_rounds", [0, 2, 4])
def test_resume_after_a_crash_before_the_checkpoint_equals_an_uninterrupted_run(
        setup, tmp_path, monkeypatch, crash_after_rounds):
    state, _, _ = setup
    full = run(state, tmp_path / "full")
    with monkeypatch.context() as mp:
        crash_at_checkpoint(mp, 1 + crash_after_rounds)
        with pytest.raises(Crash):
            run(state, tmp_path / "cut")
    ckpt = json.loads((tmp_path / "cut" / CHECKPOINT_FILE).read_text())
    n_lines = len((tmp_path / "cut" / LABELS_FILE).read_text().splitlines())
    assert ckpt["n_labels"] == 8 * crash_after_rounds and n_lines == 8 * (crash_after_rounds + 1)
    res = run(state, tmp_path / "cut")
    assert "not checkpointed" in res.recovered
    for name in (LABELS_FILE, CHECKPOINT_FILE):
        assert (tmp_path / "cut" / name).read_bytes() == (tmp_path / "full" / name).read_bytes()
    np.testing.assert_array_equal(res.theta, full.theta)


def test_torn_last_line_is_cut_and_the_round_completed(setup, tmp_path, monkeypatch):
    state, _, _ = setup
    run(state, tmp_path / "full")
    with monkeypatch.context() as mp:
        crash_at_checkpoint(mp, 3)
        with pytest.raises(Crash):
            run(state, tmp_path / "cut")
    log = tmp_path / "cut" / LABELS_FILE
    data = log.read_bytes()
    lines = data.splitlines(keepends=True)
    log.write_bytes(b"".join(lines[:-3]) + lines[-3][:25])  # killed mid-append: 2 lines lost, 1 torn
    with pytest.warns(UserWarning, match="incomplete last line"):
        res = run(state, tmp_path / "cut")
    assert "incomplete last line" in res.recovered
    assert log.read_bytes() == (tmp_path / "full" / LABELS_FILE).read_bytes()


def test_a_non_replayable_annotator_is_asked_only_for_the_missing_labels(setup, tmp_path, monkeypatch):
    state, pool, feats = setup
    asked = []

    def make(gen, done):
        sim = SimulatedBT(THETA, pool, feats, rng=5)

        class Human:
            name = "human"

            def label(self, batch):
                asked.append(batch.size)
                return sim.label(batch)
        return Human()

    with monkeypatch.context() as mp:
        crash_at_checkpoint(mp, 2)
        with pytest.raises(Crash):
            run(state, tmp_path, annotator=make, replayable=False)
    lines = (tmp_path / LABELS_FILE).read_bytes().splitlines(keepends=True)
    (tmp_path / LABELS_FILE).write_bytes(b"".join(lines[:-3]))  # round 1 half written
    asked.clear()
    res = run(state, tmp_path, annotator=make, replayable=False)
    assert asked[0] == 3  # the 5 logged labels of round 1 were not asked again
    assert res.complete and len(res.labels) == 40
    rows = [json.loads(x) for x in (tmp_path / LABELS_FILE).read_text().splitlines()]
    assert [r["index"] for r in rows] == list(range(40))


def test_an_edited_log_is_refused(setup, tmp_path):
    state, _, _ = setup
    run(state, tmp_path, T=40)
    log = tmp_path / LABELS_FILE
    text = log.read_text().replace('"y": 1.0, "winner": "a"', '"y": 0.0, "winner": "b"', 1)
    log.write_text(text)
    with pytest.raises(LabelError, match="edited or truncated"):
        run(state, tmp_path, T=40)


def test_a_log_of_another_pool_is_refused(setup, tmp_path):
    state, _, _ = setup
    run(state, tmp_path / "a", T=16)
    other_pool, other_feats = random_pool(25, (3, 5), 5, seed=8)
    other = SelectionState(other_pool, other_feats)
    # same settings except the pool: the checkpoint refuses it before the log is even read
    with pytest.raises(ConfigError, match="pool"):
        run(other, tmp_path / "a", T=16)
    # a log alone (no checkpoint) is not adopted either
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / LABELS_FILE).write_bytes((tmp_path / "a" / LABELS_FILE).read_bytes())
    with pytest.raises(ConfigError, match="without checkpoint.json"):
        run(state, tmp_path / "b", T=16)
    # and reading it against the other pool names the line
    from duelbandit.io.labels import read_label_log

    with pytest.raises(LabelError, match=r"labels\.jsonl:1: this label belongs to pool"):
        read_label_log(tmp_path / "a" / LABELS_FILE, other_pool)


def test_other_settings_are_refused(setup, tmp_path):
    state, _, _ = setup
    run(state, tmp_path, T=16, m=8)
    with pytest.raises(ConfigError, match=r"batch_size: 8 in the checkpoint, 4 now"):
        run(state, tmp_path, T=16, m=4)
    with pytest.raises(ConfigError, match="seed"):
        run(state, tmp_path, T=16, m=8, seed=4)


@pytest.mark.parametrize("T, m, match", [(0, 1, "budget"), (-2, 1, "budget"), (5, 6, "batch_size: 6 is larger"),
                                         (5, 0, "batch_size")])
def test_bad_budget_and_batch_size(setup, T, m, match):
    state, _, _ = setup
    with pytest.raises(ConfigError, match=match):
        run(state, None, T=T, m=m)


def test_file_annotator_pauses_for_missing_labels_then_resumes(setup, tmp_path):
    state, pool, feats = setup
    # human labels for every pair except one that the selector will ask for
    sim = SimulatedBT(THETA, pool, feats, rng=0)
    everything = np.repeat(np.arange(pool.n_pairs), 5)
    from duelbandit.select import Batch

    all_labels = sim.label(Batch.from_indices(everything, selector="x"))
    # apo_practical picks by the V-norm only (not by the labels' values): the same pairs whatever the answers
    first = run(state, None, name="apo_practical", T=24, m=8).labels.pairs
    hole = int(next(p for p in first[8:16] if p not in first[:8]))  # first asked for in round 1
    keep = all_labels.pairs != hole
    partial = Labels(all_labels.pairs[keep], all_labels.y[keep], source="file")

    def make(labels):
        return lambda gen, done: FileAnnotator(labels, pool, consumed=done.pairs, name="file")

    res = run(state, tmp_path, name="apo_practical", T=24, m=8, annotator=make(partial))
    assert not res.complete and res.rounds == 1 and res.pending is not None
    pending = [json.loads(x) for x in (tmp_path / PENDING_FILE).read_text().splitlines()]
    assert [p["pair_id"] for p in pending] == pool.pairs().pair_ids([hole])
    res = run(state, tmp_path, name="apo_practical", T=24, m=8, annotator=make(all_labels))
    assert res.complete and len(res.labels) == 24 and not (tmp_path / PENDING_FILE).exists()
    assert np.array_equal(res.labels.pairs, first)
