"""run_once: a selector that plans over the collection runs in the rounds its plan needs."""

from __future__ import annotations

import numpy as np

from duelbandit.annotate import JudgeAnnotator
from duelbandit.select import ODPOSelector, SelectionState
from duelbandit.select.robust import RobustSelector
from duelbandit.theory.experiment import run_once
from tests.conftest import random_pool


class _Recorder:
    """An annotator that records the size of every batch it is asked to label."""

    def __init__(self, inner):
        self.inner, self.sizes, self.name = inner, [], "recorder"

    def label(self, batch):
        self.sizes.append(int(batch.counts.sum()))
        return self.inner.label(batch)


def test_planned_selector_runs_in_its_rounds_and_one_shot_selectors_in_one():
    pool, feats = random_pool(40, (3, 4), 4, seed=1)
    state = SelectionState(pool, feats)
    rewards = feats.X @ np.array([3.0, -1.0, 0.5, 2.0])
    rec = _Recorder(JudgeAnnotator(rewards, pool, rng=0))
    sel = RobustSelector()
    r = run_once(state, sel, rec, 200, 0, rewards)
    assert rec.sizes == sel.rounds(200) == [60 + 21, 49, 70]  # uniform + odpo pilot, local design, contenders
    assert r.budget == 200 and sel.total is None and not sel._received  # the caller's selector is untouched
    rec.sizes.clear()
    run_once(state, ODPOSelector(), rec, 200, 0, rewards)
    assert rec.sizes == [200]
