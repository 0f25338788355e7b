"""The contract every selector keeps (STYLE.md rule 11): exact budget, determinism, offline ignores update."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.annotate import Labels
from duelbandit.errors import SelectorError
from duelbandit.select import SELECTORS, SelectionState, make_selector

OFFLINE = {"uniform", "odpo"}


@pytest.mark.parametrize("name", sorted(SELECTORS))
@pytest.mark.parametrize("budget", [1, 7, 60])
def test_budget_is_spent_exactly(name, budget, small_pool):
    pool, feats = small_pool
    batch = make_selector(name).select(SelectionState(pool, feats), budget, np.random.default_rng(0))
    assert batch.size == budget
    assert batch.pairs.min() >= 0 and batch.pairs.max() < pool.n_pairs
    assert np.unique(batch.pairs).shape == batch.pairs.shape


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_same_seed_same_batch(name, small_pool):
    pool, feats = small_pool
    state = SelectionState(pool, feats)
    a = make_selector(name).select(state, 40, np.random.default_rng(3))
    b = make_selector(name).select(state, 40, np.random.default_rng(3))
    assert np.array_equal(a.pairs, b.pairs) and np.array_equal(a.counts, b.counts)
    c = make_selector(name).select(state, 40, 3)  # an int seed is the same stream
    assert np.array_equal(a.expanded(), c.expanded())


@pytest.mark.parametrize("name", sorted(OFFLINE & set(SELECTORS)))
def test_offline_selectors_ignore_update(name, small_pool):
    pool, feats = small_pool
    state = SelectionState(pool, feats)
    sel = make_selector(name)
    first = sel.select(state, 30, 5)
    sel.update(first, Labels(first.expanded(), np.ones(first.size), source="test"))
    again = sel.select(state, 30, 5)
    assert np.array_equal(first.expanded(), again.expanded())


@pytest.mark.parametrize("name", sorted(SELECTORS))
@pytest.mark.parametrize("budget", [0, -3, 2.5, True])
def test_bad_budget_is_refused(name, budget, small_pool):
    pool, feats = small_pool
    with pytest.raises(SelectorError, match="budget"):
        make_selector(name).select(SelectionState(pool, feats), budget, 0)


def test_unknown_selector_names_the_choices():
    with pytest.raises(SelectorError, match="odpo"):
        make_selector("nope")


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_every_selector_runs_in_rounds_with_a_short_last_round(name, small_pool):
    from duelbandit.annotate import SimulatedBT
    from duelbandit.select.loop import collect

    pool, feats = small_pool
    theta = np.linspace(-1, 1, feats.dim)
    res = collect(SelectionState(pool, feats), make_selector(name),
                  lambda gen, done: SimulatedBT(theta, pool, feats, rng=gen),
                  budget=30, batch_size=7, seed=0, verbose=False)
    assert res.complete and len(res.labels) == 30 and res.rounds == 5
