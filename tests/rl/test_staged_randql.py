"""Staged-RandQL: per-(h, s, a) stages of length floor((1 + 1/H)^k H); the acting Q changes only at the
end of a stage (not at every visit, as in the reference code's global-threshold bug)."""

import numpy as np

from duelbandit.rl.mdp import Episode
from duelbandit.rl.staged_randql import StagedRandQL
from duelbandit.rl.staged_randql import StagedRandQLConfig
from duelbandit.rl.staged_randql import stage_lengths


def test_stage_lengths():
    # H = 2: floor(1.5^k * 2) = 2, 3, 4, 6, 10, 15
    np.testing.assert_array_equal(stage_lengths(2, 6), [2, 3, 4, 6, 10, 15])
    e = stage_lengths(50, 200)
    assert e[0] == 50 and np.all(np.diff(e) >= 0) and e[-1] > 50 * 2.7**3


def visit(agent, s, a, r, s2, H):
    """One episode of a single run that takes (s, a) at step 0 and then stays in state 1."""
    states = np.array([[s] + [s2] * H])
    agent.update(Episode(states, np.array([[a] + [1] * (H - 1)]), np.array([[r] + [0.0] * (H - 1)])))


def test_acting_values_change_only_at_stage_ends_per_triple():
    rng = np.random.default_rng(0)
    S, A, H = 2, 2, 2
    agent = StagedRandQL(StagedRandQLConfig(n_ensemble=4)).reset(S, A, H, 1, rng)
    qbar0 = agent.Qbar_.copy()
    visit(agent, 0, 0, 0.0, 1, H)  # first visit of (h=0, s=0, a=0): stage 0 needs e_0 = 2 visits
    assert agent.Qbar_[0, 0, 0, 0] == qbar0[0, 0, 0, 0] and agent.stage_[0, 0, 0, 0] == 0
    visit(agent, 0, 0, 0.0, 1, H)  # second visit ends stage 0
    assert agent.stage_[0, 0, 0, 0] == 1 and agent.m_[0, 0, 0, 0] == 0
    # the targets were r + V_1(1) = 0 + 1 < v_max_0 = 2, so the acting Q dropped
    assert agent.Qbar_[0, 0, 0, 0] < qbar0[0, 0, 0, 0]
    np.testing.assert_allclose(agent.Q_[0, 0, 0, 0], 2.0)  # ensemble reset to the prior value
    # (h=1, s=1, a=1) was visited twice as well (once per episode) and also finished its stage 0;
    # the untouched triples are still in stage 0
    assert agent.stage_[0, 1, 1, 1] == 1
    assert agent.stage_[0, 0, 1, 1] == 0 and agent.stage_[0, 0, 0, 1] == 0
    # stage 1 of (0, 0, 0) lasts e_1 = 3 visits: two more visits change nothing yet
    for _ in range(2):
        visit(agent, 0, 0, 0.0, 1, H)
    assert agent.stage_[0, 0, 0, 0] == 1 and agent.m_[0, 0, 0, 0] == 2
    visit(agent, 0, 0, 0.0, 1, H)
    assert agent.stage_[0, 0, 0, 0] == 2
