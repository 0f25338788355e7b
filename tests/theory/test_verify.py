"""The verification experiment on tiny grids: it runs, the bounds hold, broken assumptions are named."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math

import numpy as np
import pytest

from duelbandit import cli
from duelbandit.theory.bounds import confidence_radius, theorem1_bound, theorem3_lower_bound
from duelbandit.commands import verify_bounds as command
from duelbandit.types import Features
from duelbandit.data.synthetic import SyntheticPool, make_synthetic_pool
from duelbandit.theory.verify import (
    T_grid,
    VerifyConfig,
    run_verification,
    slope_with_ci,
    summarise,
    verify_hypercube,
    verify_well_specified,
    write_outputs,
)

TINY = VerifyConfig(
    dims=(2, 3), grid_points=3, grid_ratio=100.0, seeds=3, n_prompts=15, n_responses=3,
    hard_dim=4, hard_T_factors=(1, 4), hard_dims=(2, 4), hard_T=16, hard_seeds=3,
    hard_selectors=("uniform", "odpo"), bootstrap=50,
)


@pytest.fixture(scope="module")
def tiny_cells():
    inst = make_synthetic_pool(15, 3, 3, rng=4)
    return inst, verify_well_specified(inst, seeds=3, grid_points=3, grid_ratio=100.0)


def test_grid_is_log_spaced_from_the_support():
    assert T_grid(10, 3, 100.0) == [10, 100, 1000]
    g = T_grid(7, 9, 1000.0)
    assert g[0] == 7 and g[-1] == 7000 and all(b > a for a, b in itertools.pairwise(g))


def test_high_probability_bounds_hold_on_a_tiny_grid(tiny_cells):
    _, cells = tiny_cells
    d = 3
    for c in cells:
        assert len(c["E_T"]) == 3
        # Lemma 2: the ellipsoid, with the radius recomputed here
        beta = confidence_radius(c["T"], d, lam=1 / d, delta=0.05)
        assert c["radius"] == pytest.approx(beta)
        assert max(c["v_err"]) <= beta
        # the proof's chain, run by run: R <= E_T <= ||theta - theta*||_V max_b ||b||_{V^-1}
        for R, E, v, lev in zip(c["regret_max"], c["E_T"], c["v_err"], c["max_lev"]):
            assert 0 <= R <= E + 1e-12
            assert E <= v * math.sqrt(lev) * (1 + 1e-9)
        if c["selector"] == "odpo" and c["T"] > c["support"]:
            bound = theorem1_bound(c["T"], d, lam=1 / d, delta=0.05, eps=c["design_eps"],
                                   support=c["support"])
            assert c["theorem1"] == pytest.approx(bound)
            assert max(c["regret_max"]) <= bound
            # leverage link: max_b ||b||^2_{V^-1} <= g_max / (T - p)
            assert max(c["max_lev"]) <= c["leverage_bound"] * (1 + 1e-9)
        else:
            assert c["theorem1"] is None and c["applicability"]["theorem1"]


def test_E_T_is_the_max_error_over_candidates(tiny_cells):
    # independent recomputation for one run: E_T of the unprojected MLE equals scikit-learn's fit
    from sklearn.linear_model import LogisticRegression

    from duelbandit.annotate import SimulatedBT
    from duelbandit.select import SelectionState, UniformSelector
    from duelbandit.select.loop import collect

    inst, cells = tiny_cells
    state = SelectionState(inst.pool, inst.features, lam=1 / 3)
    T = max(c["T"] for c in cells if c["selector"] == "uniform")

    def annotator(gen, _labels):
        return SimulatedBT(inst.theta_star, inst.pool, inst.features, rng=gen)

    # seed index 2 of the cell
    res = collect(state, UniformSelector(), annotator, budget=T, batch_size=T, seed=2, verbose=False)
    B = state.candidates.differences(inst.features.X)
    Xl, y = B[res.labels.pairs], res.labels.y
    # symmetrise so scikit-learn sees both classes (b with label y == -b with label 1 - y)
    lr = LogisticRegression(fit_intercept=False, C=3.0, tol=1e-12, max_iter=10_000)
    lr.fit(np.vstack([Xl, -Xl]), np.concatenate([y, 1 - y]), sample_weight=np.full(2 * len(y), 0.5))
    E = np.abs(B @ (lr.coef_.ravel() - inst.theta_star)).max()
    cell = next(c for c in cells if c["selector"] == "uniform" and c["T"] == T)
    assert cell["E_T_mle"][2] == pytest.approx(E, rel=1e-4)


def test_broken_feature_norm_is_reported_not_compared():
    inst = make_synthetic_pool(12, 3, 2, rng=1)
    big = SyntheticPool(pool=inst.pool, features=Features(1.5 * inst.features.X, name="scaled"),
                        theta_star=inst.theta_star, rewards=1.5 * inst.rewards)
    cells = verify_well_specified(big, selectors=("odpo",), seeds=2, grid_points=2, grid_ratio=100.0)
    for c in cells:
        assert c["theorem1"] is None and c["corollary1"] is None
        for bound in ("lemma2", "theorem1", "corollary1"):
            assert any("||psi|| = 1.5 > 1" in r for r in c["applicability"][bound])
    cfg = dataclasses.replace(TINY, dims=(2,), selectors=("odpo",))
    s = summarise(cells, [], cfg)
    assert s["coverage"] is None and s["violations_runs"] == 0
    assert any("||psi||" in r for r in s["not_applicable"]["theorem1"])


def test_hypercube_runs_every_selector_given_and_respects_the_lower_bound():
    cells = verify_hypercube([(16, 256)], selectors=("uniform", "odpo"), seeds=3, n_responses=6)
    assert [c["selector"] for c in cells] == ["uniform", "odpo"]
    for c in cells:
        assert c["lower_bound"] == pytest.approx(theorem3_lower_bound(256, 16))
        assert c["applicability"]["theorem3"] == []  # d >= 16, T >= d^2, offline, the hard instance
        # cube regret = (2 / sqrt(T)) x (number of wrong signs)
        k = np.array(c["regret"]) * math.sqrt(256) / 2
        np.testing.assert_allclose(k, np.round(k), atol=1e-9)
        assert np.mean(c["regret"]) >= c["lower_bound"]


def test_slope_with_ci_recovers_a_known_rate():
    gen = np.random.default_rng(0)
    T = np.array([10.0, 30, 100, 300, 1000])
    vals = 2.0 * T ** -0.5 * np.exp(0.1 * gen.standard_normal((30, 5)))
    fit = slope_with_ci({0: vals}, {0: T}, boot=300, level=0.95, gen=gen)
    oracle = np.polyfit(np.tile(np.log(T), 30), np.log(vals).ravel(), 1)[0]
    assert fit["slope"] == pytest.approx(oracle, rel=1e-10)
    assert fit["ci"][0] < -0.5 < fit["ci"][1]
    # two groups with different intercepts, one common slope
    fit2 = slope_with_ci({0: vals, 1: 50 * vals}, {0: T, 1: T}, boot=100, level=0.95, gen=gen)
    assert fit2["slope"] == pytest.approx(oracle, rel=1e-10)


def test_run_verification_end_to_end(tmp_path):
    r = run_verification(TINY, verbose=False)
    for key in ("slope", "slope_ci", "hard_slope", "coverage", "violations", "runs", "lower_bound_respected"):
        assert key in r
    assert r["violations"] == 0 and r["chain_violations"] == 0
    assert r["coverage"] == 1.0
    # well-specified: 2 d x 2 selectors x 3 T x 3 seeds, plus odpo at 2 T past Theorem 1's threshold per d;
    # hypercube: 3 cells x 2 selectors x 3 sign vectors
    assert r["runs"] == 2 * 2 * 3 * 3 + 2 * 2 * 3 + 3 * 2 * 3
    extra = [c for c in r["cells"] if c["extra"]]
    assert len(extra) == 4 and all(c["theorem1"] < 2 for c in extra)
    paths = write_outputs(r, tmp_path)
    assert {p.name for p in paths} == {"verify.json", "verify.md", "et_vs_T.png", "regret_vs_T.png",
                                       "regret_vs_d.png"}
    back = json.loads((tmp_path / "verify.json").read_text())
    assert back["slope"] == pytest.approx(r["slope"])


def test_command_writes_the_outputs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(command, "quick_config", lambda seed=0: dataclasses.replace(TINY, seed=seed))
    assert cli.main(["verify-bounds", "--quick", "--quiet", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "verify.json").exists() and (tmp_path / "regret_vs_d.png").exists()
    assert "coverage of the Lemma 2 ellipsoid" in capsys.readouterr().out
