"""UCBVI plans by backward induction on the empirical model plus bonus; Greedy-UCBVI does one-step
lookahead on stored values. Checked against plain loops."""

import numpy as np
import pytest

from duelbandit.rl.mdp import Episode
from duelbandit.rl.ucbvi import UCBVI
from duelbandit.rl.ucbvi import UCBVIConfig
from duelbandit.rl.kernels import ucb_bonus


def feed(agent, rng, S, A, H, T):
    trans = []
    for _ in range(T):
        ep = Episode(rng.integers(S, size=(1, H + 1)), rng.integers(A, size=(1, H)), rng.random((1, H)).round(1))
        agent.policy()
        agent.update(ep)
        trans += [(ep.states[0, h], ep.actions[0, h], ep.rewards[0, h], ep.states[0, h + 1]) for h in range(H)]
    return trans


def empirical(trans, S, A):
    n, N, Rs = np.zeros((S, A)), np.zeros((S, A, S)), np.zeros((S, A))
    for s, a, r, s2 in trans:
        n[s, a] += 1
        N[s, a, s2] += 1
        Rs[s, a] += r
    return n, N, Rs


def test_bonus_formula():
    b = [[ucb_bonus(n, vmax, 1.0) for n in (0.0, 1.0, 4.0)] for vmax in (3.0, 1.0)]
    np.testing.assert_allclose(b, [[3.0, 3.0, 0.5 + 0.75], [1.0, 1.0, 0.5 + 0.25]])


def test_ucbvi_plans_on_empirical_model_plus_bonus():
    rng = np.random.default_rng(0)
    S, A, H = 3, 2, 4
    agent = UCBVI().reset(S, A, H, 1, rng)
    trans = feed(agent, rng, S, A, H, 4)
    n, N, Rs = empirical(trans, S, A)
    agent.policy()
    V = np.zeros(S)
    for h in range(H - 1, -1, -1):
        vmax = H - h
        Q = np.zeros((S, A))
        for s in range(S):
            for a in range(A):
                if n[s, a] == 0:
                    Q[s, a] = vmax + V.mean()  # uniform P_hat, zero reward, bonus v_max
                else:
                    b = min(np.sqrt(1 / n[s, a]) + vmax / n[s, a], vmax)
                    Q[s, a] = Rs[s, a] / n[s, a] + b + N[s, a] @ V / n[s, a]
        np.testing.assert_allclose(agent.Q_[0, h], Q, rtol=1e-12)
        V = np.minimum(vmax, Q.max(1))


def test_greedy_ucbvi_updates_only_visited_values():
    rng = np.random.default_rng(1)
    S, A, H = 3, 2, 3
    agent = UCBVI(UCBVIConfig(real_time_dp=True)).reset(S, A, H, 1, rng)
    feed(agent, rng, S, A, H, 3)
    V_before = agent.V_.copy()
    pi = agent.policy()
    Q = agent.Q_[0].copy()
    ep = Episode(np.array([[0, 1, 2, 0]]), np.array([[1, 0, 1]]), np.array([[0.5, 0.0, 1.0]]))
    agent.update(ep)
    for h, s in enumerate([0, 1, 2]):
        assert agent.V_[0, h, s] == min(V_before[0, h, s], H - h, Q[h, s].max())
    changed = np.argwhere(agent.V_[0] != V_before[0])
    assert all((h, s) in {(0, 0), (1, 1), (2, 2)} for h, s in changed)
    assert np.all(agent.V_ <= V_before) and pi.shape == (1, H, S, A)


def bonus(n, vmax):
    return min(np.sqrt(1 / n) + vmax / n, vmax)


# Two episodes on S = 2, A = 1, H = 2 (v_max = [2, 1]), written out by hand:
#   episode 1: h=0 (s0 -> s1, r=0),   h=1 (s1 -> s0, r=1)
#   episode 2: h=0 (s1 -> s1, r=1),   h=1 (s1 -> s0, r=1)
# counts after them: n(s0) = 1, n(s1) = 3; N(s0 -> s1) = 1, N(s1 -> s0) = 2, N(s1 -> s1) = 1.
HAND = [Episode(np.array([[0, 1, 0]]), np.array([[0, 0]]), np.array([[0.0, 1.0]])),
        Episode(np.array([[1, 1, 0]]), np.array([[0, 0]]), np.array([[1.0, 1.0]]))]


def test_bonus_update_visited_refreshes_only_the_visited_step_with_the_count_then():
    agent = UCBVI(UCBVIConfig(bonus_update="visited")).reset(2, 1, 2, 1, np.random.default_rng(0))
    for ep in HAND:
        agent.greedy_q()
        agent.update(ep)
    B = agent.b_[0, :, :, 0]  # (h, s)
    assert B[0, 0] == bonus(1, 2)  # (s0, h=0) visited once, count 1 then
    assert B[1, 0] == 1.0          # (s0, h=1) never visited at step 1: still v_max_1
    assert B[0, 1] == bonus(2, 2)  # (s1, h=0) visited in episode 2 when n(s1) became 2
    assert B[1, 1] == bonus(3, 1)  # (s1, h=1) last visited when n(s1) became 3
    default = UCBVI().reset(2, 1, 2, 1, np.random.default_rng(0))
    for ep in HAND:
        default.greedy_q()
        default.update(ep)
    Bd = default.b_[0, :, :, 0]
    np.testing.assert_allclose(Bd, [[bonus(1, 2), bonus(3, 2)], [bonus(1, 1), bonus(3, 1)]])


@pytest.mark.parametrize("v_clip", ["h", "H"])
def test_v_clip_by_hand(v_clip):
    agent = UCBVI(UCBVIConfig(v_clip=v_clip, bonus_update="visited")).reset(2, 1, 2, 1, np.random.default_rng(0))
    for ep in HAND:
        agent.greedy_q()
        agent.update(ep)
    Q = agent.greedy_q()[0, :, :, 0]
    # R_hat(s0) = 0 / 1, R_hat(s1) = 3 / 3.
    # h = 1: Q = R_hat + B_1 (V_2 = 0): s0: 0 + 1 (never visited at h = 1); s1: 1 + bonus(3, 1)
    q1 = np.array([0.0 + 1.0, 1.0 + bonus(3, 1)])
    np.testing.assert_allclose(Q[1], q1, rtol=1e-14)
    clip1 = 1.0 if v_clip == "h" else 2.0
    V1 = np.minimum(clip1, q1)
    # h = 0: s0: 0 + bonus(1 visit) + V1(s1);  s1: 1 + bonus(2 visits) + (2 V1(s0) + V1(s1)) / 3
    q0 = np.array([bonus(1, 2) + V1[1], 1.0 + bonus(2, 2) + (2 * V1[0] + V1[1]) / 3])
    np.testing.assert_allclose(Q[0], q0, rtol=1e-14)
    clip0 = 2.0
    np.testing.assert_allclose(agent.V_[0, 0], np.minimum(clip0, q0), rtol=1e-14)
    assert (V1[1] > 1.0) == (v_clip == "H")  # the option matters here: 1 + bonus(3, 1) > 1


def test_tie_break_first_plays_action_zero_on_ties():
    agent = UCBVI(UCBVIConfig(tie_break="first")).reset(3, 2, 2, 1, np.random.default_rng(0))
    pi = agent.policy()  # no data: every action ties
    assert np.all(pi[..., 0] == 1.0)


class DenseUCBVI:
    """UCBVI with dense counts N (K, S, A, S) and numpy backward induction: the O(S^2 A H) oracle."""

    name = "dense_ucbvi"
    tie_first = True

    def reset(self, S, A, H, K, rng):
        self.S, self.H = S, H
        self.n, self.N, self.rs = np.zeros((K, S, A)), np.zeros((K, S, A, S)), np.zeros((K, S, A))
        return self

    def greedy_q(self):
        S, H = self.S, self.H
        n = self.n[..., None]
        with np.errstate(invalid="ignore", divide="ignore"):
            P = np.where(n > 0, self.N / n, 1.0 / S)
            R = np.where(self.n > 0, self.rs / self.n, 0.0)
            Q = np.empty(self.n.shape[:1] + (H,) + self.n.shape[1:])
            V = np.zeros((self.n.shape[0], S))
            for h in range(H - 1, -1, -1):
                vm = H - h
                b = np.where(self.n > 0, np.minimum(np.sqrt(1 / self.n) + vm / self.n, vm), vm)
                Q[:, h] = R + b + np.einsum("ksat,kt->ksa", P, V)
                V = np.minimum(vm, Q[:, h].max(-1))
        return Q

    def update(self, ep):
        k, _, s, a, r, s2 = ep.flat()
        np.add.at(self.n, (k, s, a), 1.0)
        np.add.at(self.N, (k, s, a, s2), 1.0)
        np.add.at(self.rs, (k, s, a), r)


def test_taxi_regret_of_sparse_ucbvi_matches_dense_on_a_short_horizon():
    from duelbandit.rl.envs import make_env
    from duelbandit.rl.runner import run_agent

    mdp = make_env("taxi", horizon=8)
    sparse = run_agent(mdp, UCBVI(UCBVIConfig(tie_break="first")), 25, 2, 7)
    dense = run_agent(mdp, DenseUCBVI(), 25, 2, 7)
    np.testing.assert_allclose(sparse.regret, dense.regret, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(sparse.realised_regret, dense.realised_regret, rtol=1e-10, atol=1e-10)
    assert sparse.regret.sum() > 0
