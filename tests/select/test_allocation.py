"""The allocation MDP: clusters, the cluster-noise annotator, and rewards that are what they say (recomputed
here with plain numpy loops and scikit-learn), the transitions, and the training loop."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score

from duelbandit.annotate import Labels
from duelbandit.errors import ConfigError, LabelError
from duelbandit.types import Features, Pool
from duelbandit.select.allocation import (
    AllocationConfig,
    AllocationEnv,
    ClusterNoiseBT,
    gold_validation,
    next_state,
    prompt_clusters,
    state_of,
    train_allocator,
)
from duelbandit.select.base import Batch


def clustered_pool(n_per: int, n_clusters: int, k: int, d: int, seed: int, *, skills: bool = True):
    """Prompts in clusters (skills "s0", "s1", ...), k Gaussian responses each, ||psi|| <= 1."""
    rng = np.random.default_rng(seed)
    N = n_per * n_clusters
    sk = [f"s{n % n_clusters}" for n in range(N)]
    pool = Pool.from_lists([f"p{n}" for n in range(N)], [[f"r{j}" for j in range(k)] for _ in range(N)],
                           skills=sk if skills else None, name=f"clustered-{seed}")
    X = rng.normal(size=(pool.n_responses, d))
    X /= np.linalg.norm(X, axis=1).max()
    theta = rng.normal(size=d)
    return pool, Features(X, name="gauss"), 3.0 * theta / np.linalg.norm(theta)


class Recorder:
    """Wraps an annotator and keeps every Labels it returns (to recompute rewards independently)."""

    def __init__(self, inner):
        self.inner, self.name, self.seen = inner, "recorder", []

    def label(self, batch):
        out = self.inner.label(batch)
        self.seen.append(out)
        return out


def greedy_picks(B, members, V, m):
    """Greedy log-det, the plain way: m times argmax_{b in cluster} b^T V^{-1} b, V += b b^T."""
    V = V.copy()
    out = []
    for _ in range(m):
        Vi = np.linalg.inv(V)
        scores = np.einsum("ij,jk,ik->i", B[members], Vi, B[members])
        j = members[int(np.argmax(scores))]
        out.append(j)
        V += np.outer(B[j], B[j])
    return np.array(out), V


def sk_fit(B, y, lam):
    return LogisticRegression(fit_intercept=False, C=1.0 / lam, tol=1e-12, max_iter=10_000).fit(B, y).coef_[0]


def mean_ll(theta, B, y):
    p = expit(B @ theta)
    return float(np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


# --- clusters -----------------------------------------------------------------------------------------
def test_skills_define_the_clusters():
    pool = Pool.from_lists(["a", "b", "c", "d"], [["x", "y"]] * 4, skills=["math", "art", "math", "zoo"])
    c = prompt_clusters(pool, Features(np.eye(8)[:8]))
    assert c.source == "skills" and c.names == ("art", "math", "zoo")
    assert c.of_prompt.tolist() == [1, 0, 1, 2]


def test_kmeans_fallback_recovers_separated_blobs_and_is_seeded():
    rng = np.random.default_rng(0)
    N, k, d = 30, 3, 4
    blob = np.repeat(np.arange(3), 10)
    centres = 5.0 * np.eye(d)[:3]
    X = np.repeat(centres[blob], k, axis=0) + 0.1 * rng.normal(size=(N * k, d))
    pool = Pool.from_lists([f"p{n}" for n in range(N)], [["a", "b", "c"]] * N)
    c = prompt_clusters(pool, Features(X), n_clusters=3, rng=7)
    assert c.source == "kmeans" and c.n == 3
    assert adjusted_rand_score(blob, c.of_prompt) == 1.0
    assert np.array_equal(c.of_prompt, prompt_clusters(pool, Features(X), n_clusters=3, rng=7).of_prompt)
    assert c.of_prompt[0] == 0  # ids by first appearance


# --- annotator ----------------------------------------------------------------------------------------
def test_cluster_noise_labels_follow_the_closed_form():
    pool, feats, theta = clustered_pool(5, 2, 3, 4, seed=1)
    clusters = prompt_clusters(pool, feats).of_prompt
    flip = np.array([0.5, 0.1])
    ann = ClusterNoiseBT(theta, pool, feats, clusters, flip, rng=3)
    cand = pool.pairs()
    z = (feats.X[cand.i] - feats.X[cand.j]) @ theta
    eps = flip[clusters[cand.prompt]]
    expected = eps + (1 - 2 * eps) * (1 / (1 + np.exp(-z)))
    assert np.allclose(ann.prob_first(np.arange(len(cand))), expected)
    n = 20_000
    for c in (0, 1):
        pair = int(np.flatnonzero(clusters[cand.prompt] == c)[0])
        y = ann.label(Batch(pairs=[pair], counts=[n], selector="t")).y
        assert abs(y.mean() - expected[pair]) < 4 * np.sqrt(0.25 / n)
    a = ClusterNoiseBT(theta, pool, feats, clusters, flip, rng=9).label(Batch(pairs=[0, 1], counts=[5, 5], selector="t"))
    b = ClusterNoiseBT(theta, pool, feats, clusters, flip, rng=9).label(Batch(pairs=[0, 1], counts=[5, 5], selector="t"))
    assert np.array_equal(a.y, b.y)


def test_cluster_noise_refuses_bad_flips():
    pool, feats, theta = clustered_pool(3, 2, 3, 4, seed=1)
    clusters = prompt_clusters(pool, feats).of_prompt
    with pytest.raises(LabelError, match="flip"):
        ClusterNoiseBT(theta, pool, feats, clusters, [0.6, 0.0], rng=0)
    with pytest.raises(LabelError, match="flip"):
        ClusterNoiseBT(theta, pool, feats, clusters, [0.1], rng=0)


# --- rewards ------------------------------------------------------------------------------------------
def make_env(reward: str, *, seed: int = 2, m: int = 12, H: int = 5, state: str = "step"):
    pool, feats, theta = clustered_pool(8, 3, 4, 5, seed=seed)
    cl = prompt_clusters(pool, feats)
    ann = Recorder(ClusterNoiseBT(theta, pool, feats, cl.of_prompt, np.array([0.5, 0.2, 0.0]), rng=seed + 1))
    val = gold_validation(pool, feats, theta, 120, rng=seed + 2)
    env = AllocationEnv(pool, feats, cl, ann, val, AllocationConfig(batch_size=m, horizon=H, reward=reward, state=state))
    return env, pool, feats, cl, ann, val


def test_logdet_reward_is_the_noise_weighted_logdet_gain():
    env, pool, feats, cl, ann, val = make_env("logdet")
    cand = pool.pairs()
    B = feats.X[cand.i] - feats.X[cand.j]
    lam, d, C, m, H = 1 / 5, 5, 3, 12, 5
    of_cand = cl.of_prompt[cand.prompt]
    members = [np.flatnonzero(of_cand == c) for c in range(C)]
    # reference gains: a noise-free round-robin campaign
    V, g = lam * np.eye(d), []
    for h in range(H):
        before = np.linalg.slogdet(V)[1]
        _, V = greedy_picks(B, members[h % C], V, m)
        g.append(np.linalg.slogdet(V)[1] - before)
    assert np.allclose(env.reference_gains, g)
    # reliabilities from the gold validation set
    theta_ref = sk_fit(B[val.pairs], val.y, lam)
    x_val = 2 * expit(B[val.pairs] @ theta_ref) - 1
    rho_gold = np.sum((2 * val.y - 1) * x_val) / np.sum(x_val**2)
    actions = [2, 0, 2, 1, 0]
    V = lam * np.eye(d)
    tx, xx, Vc = np.zeros(C), np.zeros(C), np.zeros((C, d, d))
    phi_prev = np.linalg.slogdet(lam * np.eye(d))[1]
    env.reset()
    for h, a in enumerate(actions):
        picks, V = greedy_picks(B, members[a], V, m)
        _, r = env.step(a)
        lab = ann.seen[-1]
        assert sorted(lab.pairs.tolist()) == sorted(picks.tolist())
        x = 2 * expit(B[lab.pairs] @ theta_ref) - 1
        tx[a] += np.sum((2 * lab.y - 1) * x)
        xx[a] += np.sum(x**2)
        Vc[a] += B[lab.pairs].T @ B[lab.pairs]
        rho = np.zeros(C)
        for c in range(C):
            if xx[c] > 0:
                rho[c] = min(max(tx[c] / xx[c] / rho_gold, 0.0), 1.0)
        phi = np.linalg.slogdet(lam * np.eye(d) + sum(rho[c] ** 2 * Vc[c] for c in range(C)))[1]
        expected = min(max((phi - phi_prev) / g[h], 0.0), 1.0)
        phi_prev = phi
        assert r == pytest.approx(expected, abs=1e-6)
        assert np.allclose(env.weights_, rho**2, atol=1e-6)


def test_loglik_reward_is_the_heldout_likelihood_gain():
    env, pool, feats, _, ann, val = make_env("loglik", seed=4)
    cand = pool.pairs()
    B = feats.X[cand.i] - feats.X[cand.j]
    lam = 1 / 5
    theta_val = sk_fit(B[val.pairs], val.y, lam)
    scale = mean_ll(theta_val, B[val.pairs], val.y) - np.log(0.5)
    assert env.reward_scale == pytest.approx(scale, rel=1e-6)
    env.reset()
    prev, checked = np.log(0.5), 0
    for a in [1, 2, 2, 0, 1]:
        _, r = env.step(a)
        labs = Labels.concat(ann.seen[-(env.h_):])
        if len(np.unique(labs.y)) < 2:
            continue  # scikit-learn needs both classes; the environment's fit does not
        theta = sk_fit(B[labs.pairs], labs.y, lam)  # one row per label: the same likelihood as pooled rows
        ll = mean_ll(theta, B[val.pairs], val.y)
        assert env.loglik_ == pytest.approx(ll, abs=1e-6)
        assert r == pytest.approx(min(max(0.5 + (ll - prev) / (2 * scale), 0.0), 1.0), abs=1e-5)
        prev, checked = ll, checked + 1
    assert checked >= 4


def test_transitions_and_horizon():
    assert [next_state("step", 0, a) for a in range(3)] == [0, 0, 0]
    assert next_state("visited", 0b001, 2) == 0b101 and next_state("visited", 0b101, 0) == 0b101
    assert state_of("visited", np.array([2, 0, 2])) == 0b101 and state_of("step", np.array([1])) == 0
    env, *_ = make_env("logdet", state="visited", H=3)
    assert (env.S, env.A, env.H) == (8, 3, 3)
    assert env.reset() == 0
    assert env.step(1)[0] == 0b010
    assert env.step(2)[0] == 0b110
    s, r = env.step(1)
    assert s == 0b110 and 0.0 <= r <= 1.0
    with pytest.raises(ConfigError, match="ended"):
        env.step(0)
    with pytest.raises(ConfigError, match="action"):
        env.reset()
        env.step(3)


def test_bad_config_is_refused():
    with pytest.raises(ConfigError, match="reward"):
        AllocationConfig(reward="regret")
    with pytest.raises(ConfigError, match="batch_size"):
        AllocationConfig(batch_size=0)
    with pytest.raises(ConfigError, match="state"):
        AllocationConfig(state="full")


def test_training_is_reproducible_and_records_every_step():
    env, *_ = make_env("logdet", H=3)
    a = train_allocator(env, 6, rng=5, n_runs=2)
    env2, *_ = make_env("logdet", H=3)
    b = train_allocator(env2, 6, rng=5, n_runs=2)
    assert a.actions.shape == (2, 6, 3) and a.rewards.shape == (2, 6, 3) and a.final_loglik.shape == (2, 6)
    assert np.array_equal(a.actions, b.actions) and np.allclose(a.rewards, b.rewards)
    assert np.all((a.rewards >= 0) & (a.rewards <= 1))
    pi = a.policy(1)
    assert pi.shape == (3, 1, 3) and np.allclose(pi.sum(-1), 1.0)
