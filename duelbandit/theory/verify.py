"""Regret-bound verification: the bounds of :mod:`duelbandit.theory.bounds` against runs of the real pipeline.

What has which rate (docs/concepts/bounds.md). On a FIXED well-specified instance with finitely many
responses per prompt the simple regret hits exactly 0 once every prompt is ranked right, so its log-log
slope is gap-dependent and not -1/2. What decays like sqrt(d/T) on any fixed instance is what the proof
bounds, so that is what is measured there:

- the worst-case prediction error E_T = max_b |<theta^P - theta*, b>| over every candidate difference b,
  and its log-log slope in T (target -1/2), with a cluster-bootstrap confidence interval over seeds;
- every link of the proof's chain R <= E_T <= ||theta^P - theta*||_V max_b ||b||_{V^{-1}} <= Theorem 1:
  the ellipsoid ||theta^P - theta*||_V <= beta_T (Lemma 2) must hold in >= 1 - delta of the runs (coverage),
  max_b ||b||^2_{V^{-1}} <= g_max / (T - p) always (ODPO), and the simple regret (max over prompts) must
  stay below Theorem 1 on every run (violations);
- checks at the nominal level, which a planted error makes fail (issue 13, item 10; the bound checks
  above cannot fail at these sizes: Lemma 2's radius is ~20x the real quantile, and Theorem 1 is >= 2,
  vacuous, until T ~ 2,000 p): the chi^2 coverage of ||theta_hat - theta*||^2_{H(theta*)} <= chi2_d(1 - delta)
  (a biased estimator), the curvature step ||theta^P - theta*||_V <= kappa ||g(theta^P) - g(theta*)||_{V^-1}
  (a wrong kappa), Theorem 1 against the product of its own links and against E_T (a scaled bound),
  and odpo runs past the T where Theorem 1 stops being vacuous (:mod:`duelbandit.theory.summary`);
- on the hypercube instance of Theorem 3, whose gaps shrink like 1/sqrt(T) by construction, the regret
  itself: every selector's mean over random sign vectors against the lower bound d e^-5 / (4 sqrt(T)), its
  slope in T (target -1/2) and its growth in d (target +1).

theta^P is the theorem's estimator: the ridge MLE (lambda = 1/d) projected onto ||theta|| <= S when it is
outside (:class:`duelbandit.reward.BradleyTerry` with ``S``); how often the projection was active is
reported, and so is E_T of the unprojected MLE. Every comparison first asks
:func:`duelbandit.theory.bounds.applicability`; a bound whose assumptions fail is reported as "not applicable,
because ..." and left out of the counts.

Entry points: :func:`run_verification` (config -> JSON-ready dict) here, and
:func:`duelbandit.theory.report.write_outputs` (verify.json, verify.md and the PNGs; re-exported here with
``verdict_lines`` and ``plot_all``). ``duelbandit verify-bounds`` and ``benchmarks/verify_bounds.py`` call
them.
"""

from __future__ import annotations

import dataclasses
import platform
import time
from dataclasses import dataclass

import numpy as np

from duelbandit.data.synthetic import make_synthetic_pool
from duelbandit.errors import ConfigError
from duelbandit.select import SELECTORS
from duelbandit.theory.report import plot_all  # the report lives in theory.report; re-exported here
from duelbandit.theory.report import verdict_lines
from duelbandit.theory.report import write_outputs
from duelbandit.theory.runs import T_grid
from duelbandit.theory.runs import fit_projected
from duelbandit.theory.runs import verify_hypercube
from duelbandit.theory.runs import verify_well_specified
from duelbandit.theory.summary import slope_with_ci
from duelbandit.theory.summary import summarise


@dataclass(frozen=True)
class VerifyConfig:
    """What the verification runs (defaults: the full run; :func:`quick_config` for a smoke run).

    Attributes:
        dims: dimensions of the well-specified pools.
        grid_points: T values per d, log-spaced from the design's support size p to grid_ratio * p.
        grid_ratio: top of the T grid over p (>= 100).
        seeds: seeds per (selector, d, T) on the well-specified pools (label noise, uniform's draws).
        selectors: selectors on the well-specified pools (odpo is the one Theorem 1 is about).
        n_prompts, n_responses, kind, S: the well-specified pools (make_synthetic_pool); S is also the
            projection radius of the fit.
        delta: failure probability of the high-probability statements.
        hard_dim: d of the hypercube T-sweep.
        hard_T_factors: the T-sweep's budgets, T = factor * hard_dim^2 (the theorem needs T >= d^2).
        hard_dims: d of the hypercube d-sweep, at T = hard_T (>= max(hard_dims)^2).
        hard_T: budget of the d-sweep.
        hard_seeds: random sign vectors per hypercube cell.
        hard_selectors: selectors on the hypercube; None = every selector in ``duelbandit.select.SELECTORS``.
        hard_rounds: rounds for adaptive selectors (offline ones get the whole budget in one round).
        hard_responses: vertices per query set of the hypercube pool (query sets: d).
        theorem1_factors, theorem1_max_T: odpo also runs at these multiples of the T where Theorem 1
            stops being vacuous (bound < 2), up to theorem1_max_T labels (cells marked ``extra``).
        bootstrap: bootstrap resamples for the confidence intervals.
        level: confidence level of the intervals.
        seed: base seed; everything is a deterministic function of it.
    """

    dims: tuple[int, ...] = (2, 4, 8, 16, 32)
    grid_points: int = 9
    grid_ratio: float = 1000.0
    seeds: int = 20
    selectors: tuple[str, ...] = ("odpo", "uniform")
    n_prompts: int = 200
    n_responses: int = 4
    kind: str = "isotropic"
    S: float = 1.0
    delta: float = 0.05
    hard_dim: int = 16
    hard_T_factors: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    hard_dims: tuple[int, ...] = (2, 4, 8, 16, 32)
    hard_T: int = 4096
    hard_seeds: int = 20
    hard_selectors: tuple[str, ...] | None = None
    hard_rounds: int = 8
    hard_responses: int = 8
    theorem1_factors: tuple[float, ...] = (1.25, 4.0)
    theorem1_max_T: int = 2_000_000
    bootstrap: int = 2000
    level: float = 0.95
    seed: int = 0

    def check(self) -> None:
        """Validate once, naming the field."""
        if not self.dims or any(d < 1 for d in self.dims):
            raise ConfigError(f"dims: expected dimensions >= 1, got {self.dims!r}")
        if self.grid_points < 2 or self.grid_ratio <= 1:
            raise ConfigError(f"grid_points >= 2 and grid_ratio > 1 expected, got {self.grid_points}, "
                              f"{self.grid_ratio}")
        if self.seeds < 2 or self.hard_seeds < 2:
            raise ConfigError(f"seeds, hard_seeds: expected >= 2 (a spread needs two), got {self.seeds}, "
                              f"{self.hard_seeds}")
        if not 0 < self.delta < 1 or not 0 < self.level < 1:
            raise ConfigError(f"delta, level: expected values in (0, 1), got {self.delta}, {self.level}")
        if self.hard_T < max(self.hard_dims) ** 2:
            raise ConfigError(f"hard_T: expected >= max(hard_dims)^2 = {max(self.hard_dims) ** 2} "
                              f"(Theorem 3's T >= d^2, and ||theta*|| <= 1), got {self.hard_T}")
        unknown = [s for s in (*self.selectors, *(self.hard_selectors or ())) if s not in SELECTORS]
        if unknown:
            raise ConfigError(f"selectors: unknown {unknown}; expected names from {sorted(SELECTORS)}")


def quick_config(seed: int = 0) -> VerifyConfig:
    """A smoke run (< 1 minute on 2 cores): small grids and few seeds, every selector on the hypercube."""
    return VerifyConfig(dims=(2, 4, 8), grid_points=4, grid_ratio=1000.0, seeds=6, n_prompts=60,
                        hard_dim=16, hard_T_factors=(1, 4), hard_dims=(4, 16), hard_T=256, hard_seeds=4,
                        hard_rounds=4, theorem1_factors=(1.25,), theorem1_max_T=200_000, bootstrap=400,
                        seed=seed)



# ---------------------------------------------------------------------------------------------------
# the whole verification


def run_verification(config: VerifyConfig, *, verbose: bool = True) -> dict:
    """Build the pools, run both experiments, summarise. Returns the JSON-ready result (``cells`` and
    ``hard_cells`` carry every per-seed value, so figures and verdicts can be recomputed from it)."""
    config.check()
    t0 = time.perf_counter()
    ws: list[dict] = []
    pools = {}
    for d in config.dims:
        inst = make_synthetic_pool(config.n_prompts, config.n_responses, d, S=config.S, kind=config.kind,
                                   rng=config.seed + 1000 * d)
        pools[str(d)] = {"prompts": inst.pool.n_prompts, "pairs": inst.pool.n_pairs,
                         "max_feature_norm": float(np.linalg.norm(inst.features.X, axis=1).max()),
                         "theta_norm": float(np.linalg.norm(inst.theta_star))}
        ws += verify_well_specified(inst, selectors=config.selectors, seeds=config.seeds, S=config.S,
                                    delta=config.delta, grid_points=config.grid_points,
                                    grid_ratio=config.grid_ratio, theorem1_factors=config.theorem1_factors,
                                    theorem1_max_T=config.theorem1_max_T, seed=config.seed,
                                    verbose=verbose)
    t1 = time.perf_counter()
    cells = [(config.hard_dim, f * config.hard_dim**2) for f in config.hard_T_factors]
    cells += [(d, config.hard_T) for d in config.hard_dims if (d, config.hard_T) not in cells]
    hard = verify_hypercube(cells, selectors=config.hard_selectors, seeds=config.hard_seeds,
                            rounds=config.hard_rounds, n_responses=config.hard_responses, S=config.S,
                            delta=config.delta, seed=config.seed, verbose=verbose)
    t2 = time.perf_counter()
    result = summarise(ws, hard, config)
    result["config"] = dataclasses.asdict(config)
    result["pools"] = pools
    result["seconds"] = {"well_specified": t1 - t0, "hypercube": t2 - t1, "total": time.perf_counter() - t0}
    result["machine"] = {"platform": platform.platform(), "machine": platform.machine(),
                         "python": platform.python_version(), "numpy": np.__version__}
    result["cells"] = ws
    result["hard_cells"] = hard
    return result


__all__ = [
    "T_grid",
    "VerifyConfig",
    "fit_projected",
    "plot_all",
    "quick_config",
    "run_verification",
    "slope_with_ci",
    "summarise",
    "verdict_lines",
    "verify_hypercube",
    "verify_well_specified",
    "write_outputs",
]
