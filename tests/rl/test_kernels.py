"""Compiled kernels: greedy play and exact greedy evaluation against the dense numpy evaluation; the sparse
model's backward induction against dense numpy backward induction on random MDPs (same numbers)."""

import numpy as np
import pytest

from duelbandit.rl.kernels import SparseModel
from duelbandit.rl.kernels import csr_tables
from duelbandit.rl.kernels import greedy_values0
from duelbandit.rl.kernels import play_greedy
from duelbandit.rl.kernels import ucb_backward_induction
from duelbandit.rl.mdp import FiniteMDP
from duelbandit.rl.mdp import greedy_policy
from duelbandit.rl.mdp import policy_values


def random_mdp(rng, S, A, H, density=0.4):
    P = rng.random((S, A, S)) * (rng.random((S, A, S)) < density)
    P[np.arange(S), :, rng.integers(S, size=S)] += 0.1  # no empty row
    P /= P.sum(-1, keepdims=True)
    mu0 = rng.random(S)
    return FiniteMDP(P, rng.random((S, A)), H, mu0 / mu0.sum())


@pytest.mark.parametrize("tie_first", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_greedy_values_equal_dense_policy_evaluation(seed, tie_first):
    rng = np.random.default_rng(seed)
    mdp = random_mdp(rng, 7, 3, 5)
    Q = rng.integers(0, 3, size=(4, 5, 7, 3)).astype(float)  # many ties
    indptr, indices, data, _ = csr_tables(mdp)
    out = np.empty((4, 7))
    greedy_values0(Q, indptr, indices, data, mdp.R, tie_first, out)
    expected = policy_values(mdp, greedy_policy(Q, first=tie_first))[:, 0]
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("tie_first", [False, True])
def test_play_greedy_acts_greedily_and_follows_the_kernel(tie_first):
    rng = np.random.default_rng(3)
    S, A, H, K = 5, 3, 4, 4000
    mdp = random_mdp(rng, S, A, H)
    Q = rng.integers(0, 2, size=(1, H, S, A)).astype(float).repeat(K, 0)
    indptr, indices, _, cum = csr_tables(mdp)
    states, actions, rewards = np.empty((K, H + 1), np.int64), np.empty((K, H), np.int64), np.empty((K, H))
    u = np.random.default_rng(4).random((K, 2 * H + 1))
    play_greedy(Q, indptr, indices, cum, mdp.R, np.cumsum(mdp.mu0), tie_first, u, states, actions, rewards)
    h = np.arange(H)
    q_played = Q[0, h, states[:, :H], actions]  # (K, H)
    assert np.all(q_played == Q[0, h, states[:, :H]].max(-1))
    if tie_first:
        np.testing.assert_array_equal(actions, Q[0, h, states[:, :H]].argmax(-1))
    else:  # ties split evenly: at step 0 every tied action is played about equally often
        s0 = states[:, 0]
        for s in range(S):
            ties = np.flatnonzero(Q[0, 0, s] == Q[0, 0, s].max())
            if len(ties) > 1 and (s0 == s).sum() > 300:
                freq = np.bincount(actions[s0 == s, 0], minlength=A)[ties] / (s0 == s).sum()
                np.testing.assert_allclose(freq, 1 / len(ties), atol=0.08)
    np.testing.assert_array_equal(rewards, mdp.R[states[:, :H], actions])
    # initial states follow mu0, transitions follow P (frequencies within 5 standard errors)
    freq0 = np.bincount(states[:, 0], minlength=S) / K
    assert np.all(np.abs(freq0 - mdp.mu0) < 5 * np.sqrt(mdp.mu0 * (1 - mdp.mu0) / K) + 1e-9)
    s, a, s2 = states[:, 0], actions[:, 0], states[:, 1]
    for x in {(int(i), int(j)) for i, j in zip(s, a)}:
        rows = (s == x[0]) & (a == x[1])
        if rows.sum() > 200:
            p = mdp.P[x]
            f = np.bincount(s2[rows], minlength=S) / rows.sum()
            assert np.all(np.abs(f - p) < 5 * np.sqrt(p * (1 - p) / rows.sum()) + 1e-9)


def dense_counts(episodes, K, S, A):
    n, N, rs = np.zeros((K, S, A)), np.zeros((K, S, A, S)), np.zeros((K, S, A))
    for states, actions, rewards in episodes:
        for k in range(K):
            for h in range(actions.shape[1]):
                s, a = states[k, h], actions[k, h]
                n[k, s, a] += 1
                N[k, s, a, states[k, h + 1]] += 1
                rs[k, s, a] += rewards[k, h]
    return n, N, rs


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sparse_backward_induction_equals_dense(seed):
    rng = np.random.default_rng(seed)
    K, S, A, H = 3, 9, 3, 6
    mdp = random_mdp(rng, S, A, H, density=0.3)
    model = SparseModel(K, S, A, capacity=4)  # tiny pool: forces it to grow
    episodes = []
    for _ in range(int(rng.integers(1, 30))):
        s = rng.integers(S, size=K)
        states, actions = np.empty((K, H + 1), np.int64), rng.integers(A, size=(K, H))
        states[:, 0] = s
        for h in range(H):
            states[:, h + 1] = [rng.choice(S, p=mdp.P[states[k, h], actions[k, h]]) for k in range(K)]
        rewards = rng.random((K, H)).round(3)
        model.add(states, actions, rewards)
        episodes.append((states, actions, rewards))
    n, N, rs = dense_counts(episodes, K, S, A)
    np.testing.assert_array_equal(model.n, n)
    np.testing.assert_allclose(model.rsum, rs, rtol=1e-12)
    B = rng.random((K, H, S, A))
    v_max = np.arange(H, 0, -1.0)
    for v_clip in (v_max, np.full(H, float(H))):
        Q, V = np.empty((K, H, S, A)), np.zeros((K, H + 1, S))
        ucb_backward_induction(*model.arrays(), B, v_max, v_clip, Q, V)
        # dense: P_hat = N / n, uniform where n = 0, R_hat = 0 there
        with np.errstate(invalid="ignore", divide="ignore"):
            P_hat = np.where(n[..., None] > 0, N / n[..., None], 1.0 / S)
            R_hat = np.where(n > 0, rs / n, 0.0)
        Vd = np.zeros((K, S))
        for h in range(H - 1, -1, -1):
            Qd = R_hat + B[:, h] + np.einsum("ksat,kt->ksa", P_hat, Vd)
            np.testing.assert_allclose(Q[:, h], Qd, rtol=1e-13, atol=1e-13)
            np.testing.assert_array_equal(Q[:, h].argmax(-1), Qd.argmax(-1))
            Vd = np.minimum(v_clip[h], Qd.max(-1))
            np.testing.assert_allclose(V[:, h], Vd, rtol=1e-13, atol=1e-13)
