"""PSRL's posterior draws on the sparse model: Dirichlet rows with the closed-form moments (exact with
tol = 0, the mean exact and at most tol of the mass at its mean otherwise), planning equal to dense
backward induction on the drawn rows, and the posterior counts."""

import numpy as np
import pytest

from duelbandit.rl.kernels import SparseModel
from duelbandit.rl.kernels import psrl_plan
from duelbandit.rl.kernels import psrl_sample_rows
from duelbandit.rl.mdp import Episode
from duelbandit.rl.psrl import PSRL


def one_row_model(S, next_states):
    """A model of K = 1, A = 1 whose row of state 0 saw ``next_states`` (other rows unseen)."""
    model = SparseModel(1, S, 1)
    for s2 in next_states:
        model.add(np.array([[0, s2]]), np.array([[0]]), np.array([[0.5]]))
    return model


def draw_dense(model, S, alpha0, tol, n_draws, seed, max_atoms=None):
    """n_draws samples of rows 0 and 1, expanded to dense (2, S) matrices (rest spread evenly)."""
    gen = np.random.default_rng(seed)
    cap = S if max_atoms is None else max_atoms
    idx, w = np.empty((S, cap + 4), np.int64), np.empty((S, cap + 4))
    length, rest, Rs, mark = np.empty(S, np.int64), np.empty(S), np.empty(S), np.empty(S, np.int64)
    zeros = np.zeros((1, S, 1))
    out = np.zeros((n_draws, 2, S))
    for d in range(n_draws):
        psrl_sample_rows(0, model.n, model.head, model.link, model.dst, model.cnt, zeros, zeros, alpha0, 1.0, tol,
                         gen, idx, w, length, rest, Rs, mark)
        for x in range(2):
            L = length[x]
            held = np.zeros(S, bool)
            held[idx[x, :L]] = True
            out[d, x] = np.where(held, 0.0, rest[x] / max(S - L, 1))
            out[d, x, idx[x, :L]] = w[x, :L]
    return out


def test_rows_are_exact_dirichlet_draws_with_tol_zero():
    S, alpha0 = 6, 0.5
    model = one_row_model(S, [2, 2, 2, 4])
    P = draw_dense(model, S, alpha0, 0.0, 10_000, 0)
    np.testing.assert_allclose(P.sum(-1), 1.0, rtol=1e-12)
    for x, counts in ((0, np.array([0, 0, 3, 0, 1, 0.0])), (1, np.zeros(S))):  # seen row, unseen row
        alpha = alpha0 + counts
        a0 = alpha.sum()
        np.testing.assert_allclose(P[:, x].mean(0), alpha / a0, atol=0.006)
        np.testing.assert_allclose(P[:, x].var(0), alpha * (a0 - alpha) / (a0**2 * (a0 + 1)), rtol=0.08)


@pytest.mark.parametrize("tol", [1e-3, 0.05])
def test_truncated_rows_keep_the_posterior_mean(tol):
    S = 40
    alpha0 = 1.0 / S
    model = one_row_model(S, [3] * 5 + [7])
    P = draw_dense(model, S, alpha0, tol, 4000, 1, max_atoms=64)
    counts = np.zeros(S)
    counts[3], counts[7] = 5, 1
    alpha = alpha0 + counts
    se = np.sqrt(alpha * (alpha.sum() - alpha) / (alpha.sum() ** 2 * (alpha.sum() + 1)) / len(P))
    assert np.all(np.abs(P[:, 0].mean(0) - alpha / alpha.sum()) < 5 * se + 1e-12)
    mean_unseen = np.full(S, 1.0 / S)
    se_u = np.sqrt((1 / S) * (1 - 1 / S) / (S * alpha0 + 1) / len(P))
    assert np.all(np.abs(P[:, 1].mean(0) - mean_unseen) < 5 * se_u)


def test_plan_is_backward_induction_on_the_drawn_rows():
    rng = np.random.default_rng(2)
    S, A, H = 5, 2, 4
    model = SparseModel(1, S, A)
    for _ in range(6):
        model.add(rng.integers(S, size=(1, H + 1)), rng.integers(A, size=(1, H)), rng.random((1, H)))
    gen = np.random.default_rng(3)
    idx, w = np.empty((S * A, S + 8), np.int64), np.empty((S * A, S + 8))
    length, rest, Rs, mark = np.empty(S * A, np.int64), np.empty(S * A), np.empty(S * A), np.empty(S, np.int64)
    succ, fail = rng.integers(0, 3, (1, S, A)).astype(float), rng.integers(0, 3, (1, S, A)).astype(float)
    psrl_sample_rows(0, model.n, model.head, model.link, model.dst, model.cnt, succ, fail, 1 / S, 1.0, 0.3, gen,
                     idx, w, length, rest, Rs, mark)
    P = np.zeros((S * A, S))
    for x in range(S * A):
        P[x, idx[x, : length[x]]] += w[x, : length[x]]
        others = np.setdiff1d(np.arange(S), idx[x, : length[x]])
        P[x, others] += rest[x] / max(len(others), 1)
    Q = np.empty((1, H, S, A))
    psrl_plan(0, idx, w, length, rest, Rs, Q)
    V = np.zeros(S)
    for h in range(H - 1, -1, -1):
        Qd = (Rs + P @ V).reshape(S, A)
        np.testing.assert_allclose(Q[0, h], Qd, rtol=1e-12)
        V = Qd.max(-1)


def test_psrl_policy_is_greedy_and_posterior_counts_update():
    rng = np.random.default_rng(1)
    S, A, H, K = 3, 2, 4, 2
    agent = PSRL().reset(S, A, H, K, rng)
    pi = agent.policy()
    assert pi.shape == (K, H, S, A) and np.allclose(pi.sum(-1), 1)
    np.testing.assert_array_equal(pi > 0, agent.Q_ >= agent.Q_.max(-1, keepdims=True))
    agent.update(Episode(np.zeros((K, H + 1), int), np.zeros((K, H), int), np.ones((K, H))))
    assert agent.model_.n[:, 0, 0].tolist() == [H, H]
    assert agent.success_[:, 0, 0].tolist() == [H, H]  # reward 1 is a sure success
