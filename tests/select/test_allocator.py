"""randql_allocator: exact budget, determinism, in-cluster design recomputed here, the same batches as the
allocation MDP it was trained on, and - trained on an instance with one coin-flip cluster - fewer labels
there than uniform-over-clusters."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.annotate import Labels
from duelbandit.errors import SelectorError
from duelbandit.select.allocation import (
    AllocationConfig,
    AllocationEnv,
    ClusterNoiseBT,
    gold_validation,
    prompt_clusters,
    train_allocator,
)
from duelbandit.select import SelectionState, Selector
from duelbandit.select.allocator import RandQLAllocator
from tests.conftest import random_pool
from tests.select.test_allocation import clustered_pool, greedy_picks


def one_hot_plan(plan, C):
    """(H, 1, C) policy that sends step h to cluster plan[h]."""
    pi = np.zeros((len(plan), 1, C))
    pi[np.arange(len(plan)), 0, plan] = 1.0
    return pi


@pytest.fixture
def pool3():
    return clustered_pool(10, 3, 4, 5, seed=3)


@pytest.mark.parametrize("budget", [1, 7, 25, 100, 333])
@pytest.mark.parametrize("policy", [None, "plan"])
def test_budget_is_spent_exactly(budget, policy, pool3):
    pool, feats, _ = pool3
    sel = RandQLAllocator(policy=None if policy is None else one_hot_plan([2, 0, 1], 3), batch_size=25)
    batch = sel.select(SelectionState(pool, feats), budget, np.random.default_rng(0))
    assert batch.size == budget
    assert batch.pairs.min() >= 0 and batch.pairs.max() < pool.n_pairs
    assert sum(batch.info["labels_per_cluster"]) == budget
    assert isinstance(sel, Selector)


def test_same_seed_same_batch(pool3):
    pool, feats, _ = pool3
    state = SelectionState(pool, feats)
    a = RandQLAllocator(batch_size=10).select(state, 60, np.random.default_rng(4))
    b = RandQLAllocator(batch_size=10).select(state, 60, np.random.default_rng(4))
    c = RandQLAllocator(batch_size=10).select(state, 60, 4)
    assert np.array_equal(a.expanded(), b.expanded()) and np.array_equal(a.expanded(), c.expanded())
    assert a.info["cluster_per_step"] == b.info["cluster_per_step"]
    others = {tuple(RandQLAllocator(batch_size=10).select(state, 60, s).info["cluster_per_step"]) for s in range(8)}
    assert len(others) > 1  # the untrained policy draws its clusters with the rng


def test_steps_follow_the_plan_and_pick_by_greedy_logdet(pool3):
    pool, feats, _ = pool3
    state = SelectionState(pool, feats)
    plan, m = [2, 2, 0, 1], 9
    batch = RandQLAllocator(policy=one_hot_plan(plan, 3), batch_size=m).select(state, len(plan) * m, 0)
    assert batch.info["cluster_per_step"] == plan
    assert batch.info["labels_per_cluster"] == [9, 9, 18]
    cand = pool.pairs()
    B = feats.X[cand.i] - feats.X[cand.j]
    of_cand = prompt_clusters(pool, feats).of_prompt[cand.prompt]
    V = state.lam * np.eye(B.shape[1])
    expected = []
    for a in plan:
        picks, V = greedy_picks(B, np.flatnonzero(of_cand == a), V, m)
        expected.extend(picks.tolist())
    assert sorted(batch.expanded().tolist()) == sorted(expected)


def test_rounds_with_labels_equal_one_call(pool3):
    """The loop's rounds (state.labels growing, one Generator) give the same labels and clusters as one
    call for the whole budget, also when a round ends in the middle of a step."""
    pool, feats, _ = pool3
    rng_policy = np.full((4, 1, 3), 1 / 3)
    whole = RandQLAllocator(policy=rng_policy, batch_size=10).select(SelectionState(pool, feats), 40, 11)
    sel, gen, got = RandQLAllocator(policy=rng_policy, batch_size=10), np.random.default_rng(11), []
    labels = None
    for m in (7, 3, 10, 14, 6):
        b = sel.select(SelectionState(pool, feats, labels=labels), m, gen)
        new = Labels(b.expanded(), np.ones(b.size))
        labels = new if labels is None else Labels.concat([labels, new])
        got.append(b)
    assert sorted(labels.pairs.tolist()) == sorted(whole.expanded().tolist())
    # the 7 + 3 labels of the first step stay in one cluster
    assert got[1].info["cluster_per_step"] == got[0].info["cluster_per_step"]


def test_update_is_used_without_state_labels(pool3):
    pool, feats, _ = pool3
    state = SelectionState(pool, feats)
    sel = RandQLAllocator(policy=one_hot_plan([0, 1], 3), batch_size=5)
    first = sel.select(state, 5, 0)
    sel.update(first, Labels(first.expanded(), np.zeros(5)))
    second = sel.select(state, 5, 0)
    assert first.info["cluster_per_step"] == [0] and second.info["cluster_per_step"] == [1]
    assert second.info["first_step"] == 1


def test_kmeans_when_the_pool_has_no_skills():
    pool, feats = random_pool(30, (2, 6), 5, seed=1)
    batch = RandQLAllocator(n_clusters=3, batch_size=4).select(SelectionState(pool, feats), 12, 0)
    assert batch.info["cluster_source"] == "kmeans" and len(batch.info["labels_per_cluster"]) == 3


def test_bad_parameters_are_refused(pool3):
    pool, feats, _ = pool3
    state = SelectionState(pool, feats)
    with pytest.raises(SelectorError, match="batch_size"):
        RandQLAllocator(batch_size=0).select(state, 5, 0)
    with pytest.raises(SelectorError, match="policy"):
        RandQLAllocator(policy=np.ones((2, 1, 4)) / 4).select(state, 5, 0)
    with pytest.raises(SelectorError, match="policy"):
        RandQLAllocator(policy=np.ones((2, 1, 3))).select(state, 5, 0)
    with pytest.raises(SelectorError, match="clusters"):
        RandQLAllocator(clusters=np.zeros(3, np.int64)).select(state, 5, 0)
    with pytest.raises(SelectorError, match="budget"):
        RandQLAllocator().select(state, 0, 0)


def coin_cluster_instance(seed: int):
    pool, feats, theta = clustered_pool(20, 3, 4, 5, seed=seed)
    cl = prompt_clusters(pool, feats)
    flip = np.array([0.0, 0.5, 0.0])  # cluster 1 answers with a fair coin
    ann = ClusterNoiseBT(theta, pool, feats, cl.of_prompt, flip, rng=seed + 1)
    val = gold_validation(pool, feats, theta, 200, rng=seed + 2)
    return pool, feats, AllocationEnv(pool, feats, cl, ann, val, AllocationConfig(batch_size=20, horizon=5))


def test_deployed_batches_are_the_environments():
    pool, feats, env = coin_cluster_instance(0)
    plan = [2, 0, 2, 1, 0]
    batch = RandQLAllocator(policy=one_hot_plan(plan, 3), clusters=env.clusters.of_prompt,
                            batch_size=20).select(SelectionState(pool, feats), 100, 0)
    env.reset()
    expected = []
    for a in plan:
        expected.extend(env.picks(a).tolist())
        env.step(a)
    assert sorted(batch.expanded().tolist()) == sorted(expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_trained_allocator_avoids_the_coin_flip_cluster(seed):
    pool, feats, env = coin_cluster_instance(seed)
    training = train_allocator(env, 100, rng=seed + 3)
    sel = RandQLAllocator.from_agent(training.agent, env)
    batch = sel.select(SelectionState(pool, feats), 100, seed + 4)
    to_coin = batch.info["labels_per_cluster"][1] / batch.size
    uniform_over_clusters = 1 / 3
    assert to_coin <= uniform_over_clusters / 3  # measured: 0 on these seeds
