"""Select -> label -> fit -> greedy policy -> simple regret, over selectors, budgets and seeds.

The one experiment behind the demo and the selector benchmarks (Scheid et al. 2024, §2: simple regret
R = max_n (max_k r(x_n, y_n^k) - r(x_n, a_hat_n)) of the greedy policy of the Bradley–Terry fit).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from duelbandit.annotate import Annotator
from duelbandit.regret import RegretReport, greedy_policy, simple_regret
from duelbandit.reward import BradleyTerry
from duelbandit.select.base import SelectionState, Selector
from duelbandit.types import Labels


@dataclass(frozen=True)
class RunResult:
    """One (selector, budget, seed) run."""

    selector: str
    budget: int
    seed: int
    regret: RegretReport
    seconds: float
    certificate: dict | None = None
    extra: dict = field(default_factory=dict)


def run_once(
    state: SelectionState,
    selector: Selector,
    annotator: Annotator,
    budget: int,
    seed: int,
    true_rewards: np.ndarray,
) -> RunResult:
    """Spend ``budget`` labels with ``selector``, fit BT (lambda = state.lam), score the greedy policy.

    A selector that plans over the collection (``rounds``: two_stage, two_phase, contenders, robust) runs in
    the rounds its plan needs, on a fresh copy with ``total = budget``, each round with every label before it
    in hand (in one call it would have none to adapt to)."""
    gen = np.random.default_rng(seed)
    sizes = selector.rounds(budget) if hasattr(selector, "rounds") else [budget]
    if len(sizes) > 1:
        selector = dataclasses.replace(selector, total=int(budget))
    seconds, got, certificate = 0.0, [], None
    for size in sizes:
        seen = Labels.concat(got) if got else None
        t0 = time.perf_counter()
        batch = selector.select(SelectionState(state.pool, state.features, labels=seen, lam=state.lam)
                                if seen is not None else state, size, gen)
        seconds += time.perf_counter() - t0
        got.append(annotator.label(batch))  # the next round gets them through its state, not update()
        if certificate is None:  # the first round's design certificate: the pilot's
            certificate = batch.info.get("certificate")
    labels = Labels.concat(got) if len(got) > 1 else got[0]
    B = state.candidates.differences(state.features.X, labels.pairs)
    model = BradleyTerry(lam=state.lam).fit(B, labels.y)
    chosen = greedy_policy(model.coef_, state.features.X, state.pool)
    return RunResult(
        selector=selector.name,
        budget=int(budget),
        seed=int(seed),
        regret=simple_regret(true_rewards, chosen, state.pool),
        seconds=seconds,
        certificate=certificate,
    )


def compare_selectors(
    state: SelectionState,
    selectors: Sequence[Selector],
    budgets: Sequence[int],
    seeds: Sequence[int],
    make_annotator: Callable[[int], Annotator],
    true_rewards: np.ndarray,
    *,
    verbose: bool = True,
    desc: str = "runs",
) -> list[RunResult]:
    """Every selector at every budget and seed. The annotator of seed s is rebuilt per run, so each
    selector faces the same label noise stream at the same seed."""
    jobs = [(s, b, seed) for b in budgets for seed in seeds for s in selectors]
    out = []
    for sel, b, seed in tqdm(jobs, desc=desc, disable=not verbose, leave=False):
        out.append(run_once(state, sel, make_annotator(10_000 + seed), b, seed, true_rewards))
    return out


@dataclass(frozen=True)
class Summary:
    """Mean and standard deviation over seeds of one (selector, budget) cell."""

    selector: str
    budget: int
    n_seeds: int
    max_regret_mean: float
    max_regret_std: float
    mean_regret_mean: float
    mean_regret_std: float
    frac_optimal_mean: float
    efficiency_lower_bound: float | None


def summarise(results: Sequence[RunResult]) -> list[Summary]:
    """Group runs by (selector, budget), in order of first appearance."""
    groups: dict[tuple[str, int], list[RunResult]] = {}
    for r in results:
        groups.setdefault((r.selector, r.budget), []).append(r)
    rows = []
    for (sel, b), rs in groups.items():
        mx = np.array([r.regret.max for r in rs])
        mn = np.array([r.regret.mean for r in rs])
        fo = np.array([r.regret.frac_optimal for r in rs])
        cert = rs[0].certificate
        rows.append(
            Summary(
                selector=sel,
                budget=b,
                n_seeds=len(rs),
                max_regret_mean=float(mx.mean()),
                max_regret_std=float(mx.std(ddof=1)) if len(rs) > 1 else 0.0,
                mean_regret_mean=float(mn.mean()),
                mean_regret_std=float(mn.std(ddof=1)) if len(rs) > 1 else 0.0,
                frac_optimal_mean=float(fo.mean()),
                efficiency_lower_bound=None if cert is None else float(cert["efficiency_lower_bound"]),
            )
        )
    return rows


def markdown_table(rows: Sequence[Summary]) -> str:
    """A markdown table of summaries (mean ± std over seeds)."""
    lines = [
        "| budget | selector | max regret | mean regret | frac optimal | design efficiency >= |",
        "|---:|:---|---:|---:|---:|---:|",
    ]
    for r in rows:
        eff = "—" if r.efficiency_lower_bound is None else f"{r.efficiency_lower_bound:.4f}"
        lines.append(
            f"| {r.budget} | {r.selector} | {r.max_regret_mean:.4f} ± {r.max_regret_std:.4f} | "
            f"{r.mean_regret_mean:.4f} ± {r.mean_regret_std:.4f} | {r.frac_optimal_mean:.3f} | {eff} |"
        )
    return "\n".join(lines)


def best_linear_fit(
    state: SelectionState, true_rewards: np.ndarray, *, temperature: float = 1.0
) -> tuple[np.ndarray, RegretReport]:
    """The best a linear BT model on these features can do: fit on EVERY candidate pair with the exact
    preference probabilities sigma((r_i - r_j) / temperature) as soft labels (no noise, no budget).

    Its greedy policy's regret is a floor for every selector at every budget. When it is far from zero
    the features cannot express the reward (misspecification), and no choice of pairs can fix that.

    Returns:
        theta_lin (d,) and the regret of its greedy policy.
    """
    cand = state.candidates
    B = cand.differences(state.features.X)
    gap = (true_rewards[cand.i] - true_rewards[cand.j]) / temperature
    theta = BradleyTerry(lam=state.lam).fit(B, 1.0 / (1.0 + np.exp(-gap))).coef_
    chosen = greedy_policy(theta, state.features.X, state.pool)
    return theta, simple_regret(true_rewards, chosen, state.pool)
