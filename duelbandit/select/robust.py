"""Selectors that stay safe when the reward is not linear in the features (issue 15).

The D-optimal design (odpo) minimises the worst-case variance of a linear model. When the model is wrong,
the bias of a fit made on a few extreme pairs dominates: Lattimore, Szepesvári & Weisz 2020 ("Learning
with good feature representations in bandits and in RL with a generative model", §3) show a G-optimal
design inflates a misspecification eps to eps sqrt(d) in the worst case; Wiens (1992; 2015, "Robustness
of design") shows minimax-robust designs must keep mass spread over the design space. The rules here:

- ``mixture``: a share ``weight`` of the labels uniform, the rest from the design (odpo by default).
  weight 0 is odpo, weight 1 is uniform. Uniform labels bound the bias at the population's least-false
  parameter; the design part keeps most of the variance gain (a "defensive" mixture).
- ``bayes_d``: the Bayesian D-optimal design argmax log det(lambda/T I + M(w))
  (:mod:`duelbandit.design.bayes`), rounded like odpo; lambda -> 0 gives odpo.
- ``v_optimal``: the transductive V-optimal design min tr((lambda/T I + M(w))^{-1} Sigma_pool), Sigma_pool
  the pair second moment under uniform's law (:mod:`duelbandit.design.transductive`; Fiez et al. 2019),
  rounded by systematic sampling.
- ``two_phase``: spend a pilot share uniformly, test linear against flexible on held-out labels
  (:mod:`duelbandit.select.diagnose`), then give the rest to the design when the linear model holds and
  to uniform when it is rejected (an adaptive mixture weight).
- ``contenders``: a uniform share, then the prompts' top-two pairs under the fit, spread by their local
  D-optimal design (:mod:`duelbandit.select.contenders`): the comparisons the greedy policy is about to make.
- ``robust``: the default of the CLI, chosen by the regime map (benchmarks/bench_misspecification.py,
  docs/concepts/robust-selection.md): 30% of the labels uniform, 35% a two-stage local design (odpo, then
  the locally D-optimal design at the fitted theta_hat), 35% contenders at the fit of all labels before.
"""

from __future__ import annotations

import hashlib
import math
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from duelbandit.design import optimal_design, round_design
from duelbandit.design.bayes import regularised_design
from duelbandit.design.transductive import pool_mass, systematic_counts, target_moment, v_optimal_design
from duelbandit.errors import SelectorError
from duelbandit.reward import sigmoid_prime
from duelbandit.rng import as_generator, seed_of
from duelbandit.select.base import Batch, SelectionState
from duelbandit.select.contenders import contender_batch
from duelbandit.select.diagnose import misspecification
from duelbandit.select.local import interleaved
from duelbandit.select.model import differences as _differences
from duelbandit.select.model import fit_theta, planned_call, segment_shares
from duelbandit.select.offline import ODPOSelector, UniformSelector, check_budget

_CACHE: OrderedDict = OrderedDict()
_CACHE_KEPT = 16


def _cached(key: tuple, make):
    """Designs depend on the candidates and the ridge only: share them across seeds and selector objects."""
    if key in _CACHE:
        _CACHE.move_to_end(key)
    else:
        _CACHE[key] = make()
        while len(_CACHE) > _CACHE_KEPT:
            _CACHE.popitem(last=False)
    return _CACHE[key]


def _digest(B: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(B).tobytes(), digest_size=16).digest()


def _check_share(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
        raise SelectorError(f"{name}: expected a share in [0, 1], got {v!r}")
    return float(v)


def _check_prior(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (np.isfinite(v) and v > 0):
        raise SelectorError(f"prior: expected a finite prior precision > 0, got {v!r}")
    return float(v)


def _merge(parts: list[Batch], name: str, params: dict, seed: object, info: dict) -> Batch:
    """One batch from the parts' labels; the design part's continuous certificate is kept, so that
    callers report the design the labels were rounded from (and its support size)."""
    index = np.concatenate([p.expanded() for p in parts if p.size])
    b = Batch.from_indices(index, selector=name, params=params, seed=seed)
    certs = [p.info["certificate"] for p in parts if "certificate" in p.info]
    if certs:
        info = {**info, "certificate": certs[-1]}
    return Batch(pairs=b.pairs, counts=b.counts, selector=name, params=params, seed=seed, info=info)


@dataclass
class BayesDSelector:
    """Bayesian D-optimal design, w = argmax log det(prior/T I + M(w)), rounded to T labels like odpo.

    The prior precision ``prior`` is worth ``prior`` labels of ridge: small T spreads the design over more
    directions; prior -> 0 (or T -> infinity) is odpo. Chaloner & Verdinelli 1995, §2.1.

    Args:
        prior: lambda > 0; the ridge of the design is lambda / T.
        eps: gap tolerance (relative to d) of the Frank–Wolfe solve.
        rounding: as for odpo ("guarantee", "pukelsheim", "iid").
    """

    prior: float = 1.0
    eps: float = 1e-3
    rounding: str = "guarantee"
    name: str = "bayes_d"

    def design(self, B: np.ndarray, T: int):
        ridge = _check_prior(self.prior) / T
        return _cached(("bayes_d", B.shape, _digest(B), ridge, self.eps),
                       lambda: regularised_design(B, ridge, eps=self.eps))

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        gen = as_generator(rng)
        B = _differences(state)
        design = self.design(B, T)
        counts = round_design(design, T, B=B, method=self.rounding, rng=gen).counts
        pairs = np.flatnonzero(counts > 0)
        return Batch(pairs=pairs, counts=counts[pairs], selector=self.name,
                     params={"prior": self.prior, "eps": self.eps, "rounding": self.rounding},
                     seed=seed_of(rng), info={"bayes_certificate": design.info["certificate"],
                                              "ridge": design.info["ridge"]})

    def update(self, batch: Batch, labels: object) -> None:
        """Offline: labels do not change the choice."""


@dataclass
class VOptimalSelector:
    """Transductive V-optimal design: w = argmin tr((prior/T I + M(w))^{-1} Sigma_pool), the average
    variance of the predicted gap over the pool's pairs under uniform's law (Fiez et al. 2019;
    Atkinson, Donev & Tobias 2007, §10.6), rounded to exactly T labels by systematic sampling.

    Args:
        prior: lambda > 0; the ridge is lambda / T.
        eps: stop when the Frank–Wolfe gap <= eps * phi(w).
        max_iter: Frank–Wolfe step limit (the solve starts from uniform's law, so an early stop is a
            design between uniform and the V-optimum).
    """

    prior: float = 1.0
    eps: float = 1e-2
    max_iter: int = 300
    name: str = "v_optimal"

    def design(self, state: SelectionState, B: np.ndarray, T: int):
        ridge = _check_prior(self.prior) / T

        def make():
            mass = pool_mass(state.pool)
            return v_optimal_design(B, target_moment(B, mass), ridge=ridge, w0=mass, eps=self.eps,
                                    max_iter=self.max_iter)

        return _cached(("v_optimal", B.shape, _digest(B), ridge, self.eps, self.max_iter), make)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        gen = as_generator(rng)
        B = _differences(state)
        design = self.design(state, B, T)
        counts = systematic_counts(design.weights, T, gen)
        pairs = np.flatnonzero(counts > 0)
        return Batch(pairs=pairs, counts=counts[pairs], selector=self.name,
                     params={"prior": self.prior, "eps": self.eps, "max_iter": self.max_iter},
                     seed=seed_of(rng), info={"v_value": design.value, "v_gap": design.gap,
                                              "v_iterations": design.iterations})

    def update(self, batch: Batch, labels: object) -> None:
        """Offline: labels do not change the choice."""


def _base(name: str, params: dict | None = None):
    bases = {"odpo": ODPOSelector, "bayes_d": BayesDSelector, "v_optimal": VOptimalSelector}
    if name not in bases:
        raise SelectorError(f"base: expected one of {sorted(bases)}, got {name!r}")
    try:
        return bases[name](**(params or {}))
    except TypeError as exc:
        raise SelectorError(f"base_params: {exc}") from None


@dataclass
class MixtureSelector:
    """Defensive mixture: n_u = round(weight T) uniform labels, the other T - n_u from the design ``base``.

    weight = 0 returns exactly the batch of ``base`` (odpo by default), weight = 1 exactly uniform's (same
    rng). Uniform labels are drawn first, so the split is reproducible by seed.

    Args:
        weight: share of uniform labels in [0, 1].
        base: "odpo" (default), "bayes_d" or "v_optimal".
        base_params: keyword arguments of the base selector (e.g. {"method": "fw", "eps": 0.05}).
    """

    weight: float = 0.5
    base: str = "odpo"
    base_params: dict | None = None
    name: str = "mixture"

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        T = check_budget(budget)
        w = _check_share("weight", self.weight)
        design = _base(self.base, self.base_params)
        gen = as_generator(rng)
        n_u = int(round(w * T))
        parts = []
        if n_u:
            parts.append(UniformSelector().select(state, n_u, gen))
        if T - n_u:
            parts.append(design.select(state, T - n_u, gen))
        return _merge(parts, self.name, {"weight": self.weight, "base": self.base,
                                         "base_params": self.base_params}, seed_of(rng),
                      {"uniform_labels": n_u, "design_labels": T - n_u})

    def update(self, batch: Batch, labels: object) -> None:
        """Offline: labels do not change the choice."""


@dataclass
class TwoPhaseSelector:
    """Pilot, test, then commit: ceil(pilot T) uniform labels; a held-out test of linear vs flexible BT
    on them (:func:`duelbandit.select.diagnose.misspecification`); the rest is a mixture whose uniform
    share is ``weight_misspecified`` when the test rejects linearity, ``weight_linear`` when it does not,
    and ``weight_unknown`` before there are labels to test (one call without labels).

    In rounds (the collection loop, or ``total`` set) the pilot comes first and the test runs once the
    pilot's labels are in; every later round re-runs the test on all labels so far.

    Args:
        pilot: share of the total budget spent uniformly first, in [0, 1].
        total: the total budget over all rounds (None: labels seen + this call's budget).
        base: the design of the non-uniform part ("odpo", "bayes_d", "v_optimal").
        weight_linear, weight_misspecified, weight_unknown: uniform shares of the remainder.
        min_labels: fewest labels to run the test on (below: ``weight_unknown``).
    """

    pilot: float = 0.2
    total: int | None = None
    base: str = "odpo"
    weight_linear: float = 0.0
    weight_misspecified: float = 1.0
    weight_unknown: float = 0.5
    min_labels: int = 50
    name: str = "two_phase"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        m = check_budget(budget)
        pilot = _check_share("pilot", self.pilot)
        shares = [_check_share(n, getattr(self, n)) for n in
                  ("weight_linear", "weight_misspecified", "weight_unknown")]
        gen = as_generator(rng)
        labels, n0, total = planned_call(state, self._received, self.total, m)
        k1 = min(m, max(0, math.ceil(pilot * total) - n0))
        parts = [UniformSelector().select(state, k1, gen)] if k1 else []
        info: dict = {"pilot_labels": int(k1), "total": total}
        k2 = m - k1
        if k2:
            weight, diag = shares[2], None
            if labels is not None and n0 >= self.min_labels:
                try:
                    diag = misspecification(state, labels, rng=gen)
                except SelectorError:  # too few distinct pairs to test: hedge
                    diag = None
            if diag is not None:
                weight = shares[1] if diag.verdict == "misspecified" else shares[0]
                info["diagnosis"] = diag.as_dict()
            info["uniform_share"] = weight
            parts.append(MixtureSelector(weight=weight, base=self.base).select(state, k2, gen))
        params = {"pilot": self.pilot, "total": self.total, "base": self.base,
                  "weight_linear": self.weight_linear, "weight_misspecified": self.weight_misspecified,
                  "weight_unknown": self.weight_unknown}
        return _merge(parts, self.name, params, seed_of(rng), info)

    def first_round(self, total: int) -> int:
        """Labels of the plan before the test needs any: the pilot."""
        return math.ceil(_check_share("pilot", self.pilot) * total)

    def rounds(self, total: int) -> list[int]:
        """Round sizes of the plan: the pilot, then the rest with the test's verdict."""
        n1 = min(self.first_round(total), total)
        return [n for n in (n1, total - n1) if n]

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the test (used when ``state.labels`` is not given)."""
        self._received.append(labels)


@dataclass
class ContendersSelector:
    """Uniform, then contenders: round(weight T) uniform labels, the rest on the prompts' top-two pairs under
    the BT fit of every label so far, spread by the locally D-optimal design of those pairs
    (:func:`duelbandit.select.contenders.contender_batch`). Before there are labels every response ties, and
    the contender part is uniform too.

    Args:
        weight: uniform share of the total budget, in [0, 1] (1: uniform).
        total: the total budget over all rounds (None: labels seen + this call's budget).
    """

    weight: float = 0.5
    total: int | None = None
    name: str = "contenders"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        m = check_budget(budget)
        gen = as_generator(rng)
        labels, n0, total = planned_call(state, self._received, self.total, m)
        n_u = int(round(_check_share("weight", self.weight) * total))
        k_u, k_c = segment_shares(n0, m, [n_u, total - n_u])
        parts = [UniformSelector().select(state, k_u, gen)] if k_u else []
        info: dict = {"uniform_labels": k_u, "contender_labels": k_c, "total": total}
        if k_c:
            theta = None if labels is None else fit_theta(state, labels, _differences(state))
            parts.append(_contenders(state, theta, k_c, gen, info))
        return _merge(parts, self.name, {"weight": self.weight, "total": self.total}, seed_of(rng), info)

    def rounds(self, total: int) -> list[int]:
        """Round sizes the plan needs: the uniform share, then the contenders at its fit."""
        n_u = int(round(_check_share("weight", self.weight) * total))
        return [n for n in (n_u, total - n_u) if n]

    def first_round(self, total: int) -> int:
        """Labels of the plan before the contenders need any: the uniform share."""
        return self.rounds(total)[0]

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the fit (used when ``state.labels`` is not given)."""
        self._received.append(labels)


def _contenders(state: SelectionState, theta: np.ndarray | None, k: int, gen: np.random.Generator, info: dict,
                eps: float = 1e-3, method: str = "auto") -> Batch:
    """k contender labels at the fit ``theta``; uniform when there is no fit yet (every response ties)."""
    if theta is None:
        return UniformSelector().select(state, k, gen)
    info["theta_norm"] = float(np.linalg.norm(theta))
    return contender_batch(state, theta, k, gen, eps=eps, method=method)


@dataclass
class RobustSelector:
    """The safe default (``robust``): a uniform share, a two-stage *local* design, and contenders.

    The plan over the whole collection (``total`` labels) is positional, in four segments:

    1. [0, n_u), n_u = round(weight total): uniform;
    2. n_1 = ceil(fraction D) labels of odpo's rounded design, D = total - n_u - n_c the design part (handed
       out in a fixed interleaved order, so rounds add up to one rounding);
    3. the other D - n_1 on the locally D-optimal design of b~ = sqrt(sigma'(<theta_hat, b>)) b, the Fisher
       information of the logistic model at the fit theta_hat of every label so far (Chernoff 1953; the
       ``two_stage`` selector's second stage), rounded afresh for each call's share;
    4. the last n_c = round(contenders total) on the prompts' top-two pairs under theta_hat, the comparisons
       the greedy policy is about to make, spread by the locally D-optimal design of those pairs
       (:mod:`duelbandit.select.contenders`).

    A call takes the plan's next ``budget`` entries after the labels seen, so it is stateless and replays
    exactly; :meth:`rounds` gives the round sizes at which each adaptive segment has the labels it fits on.
    In one call without labels theta_hat = 0: the local design is odpo's and the contenders are uniform.

    Chosen by the regime map (benchmarks/results/bench_misspecification.md): the local design removes the
    failure of odpo at low label noise (its extreme pairs get near-certain labels, which carry no logistic
    information) and gives the gains on well-specified pools; the contenders gain where the reward is not
    linear (the text pool, rho > 0), where a design's extrapolation from extreme pairs loses; the uniform
    share anchors the fit at uniform's least-false parameter. docs/concepts/robust-selection.md says what it
    does and does not achieve.

    Args:
        weight: uniform share of the total budget, in [0, 1] (1: uniform).
        fraction: share of the design part spent on odpo before the local design, in (0, 1].
        contenders: share of the total budget spent on contenders, in [0, 1 - weight] (0: no contenders).
        total: the total budget over all rounds (None: labels seen + this call's budget).
        eps, method: the design solver's, as for odpo.
    """

    weight: float = 0.3
    fraction: float = 0.3
    contenders: float = 0.35
    total: int | None = None
    eps: float = 1e-3
    method: str = "auto"
    name: str = "robust"
    _received: list = field(default_factory=list, init=False, repr=False, compare=False)

    def _plan(self, total: int) -> tuple[int, int, int, int]:
        """(n_u, n_1, n_2, n_c): uniform, odpo pilot, local design and contender labels of a plan of
        ``total`` labels."""
        w = _check_share("weight", self.weight)
        c = _check_share("contenders", self.contenders)
        if w + c > 1 + 1e-12:
            raise SelectorError(
                f"weight + contenders: expected at most 1, got {self.weight!r} + {self.contenders!r}")
        f = self.fraction
        if isinstance(f, bool) or not (isinstance(f, (int, float)) and 0 < f <= 1):
            raise SelectorError(f"fraction: expected a share of the budget in (0, 1], got {self.fraction!r}")
        n_u = int(round(w * total))
        n_c = min(int(round(c * total)), total - n_u)
        D = total - n_u - n_c
        n_1 = math.ceil(self.fraction * D) if D > 0 else 0
        return n_u, n_1, D - n_1, n_c

    def select(self, state: SelectionState, budget: int, rng: np.random.Generator | int) -> Batch:
        m = check_budget(budget)
        gen = as_generator(rng)
        labels, n0, total = planned_call(state, self._received, self.total, m)
        n_u, n_1, n_2, n_c = self._plan(total)
        k_u, k_1, k_2, k_c = segment_shares(n0, m, [n_u, n_1, n_2, n_c])  # this call's share of each segment
        parts, info = [], {"uniform_labels": k_u, "odpo_labels": k_1, "local_labels": k_2,
                           "contender_labels": k_c, "total": total}
        if k_u:
            parts.append(UniformSelector().select(state, k_u, gen))
        aim = k_c and labels is not None  # contenders need a fit; without labels they are uniform pairs
        B = _differences(state) if k_1 or k_2 or aim else None
        # one fit for the local design and the contenders (zeros without labels: the prior's maximiser)
        theta = fit_theta(state, labels, B) if k_2 or aim else None
        if k_1:
            design = ODPOSelector(eps=self.eps, method=self.method).design(B)
            plan = interleaved(round_design(design, n_1, B=B, rng=gen).counts)
            start = max(0, n0 - n_u)
            parts.append(Batch.from_indices(plan[start : start + k_1], selector="odpo"))
            info["certificate"] = design.certificate.as_dict()
        if k_2:
            Bt = np.sqrt(sigmoid_prime(B @ theta))[:, None] * B
            local = optimal_design(Bt, method=self.method, eps=self.eps)
            counts = round_design(local, k_2, B=Bt, rng=gen).counts
            parts.append(Batch.from_indices(np.repeat(np.arange(B.shape[0]), counts), selector="local"))
            info["theta_norm"] = float(np.linalg.norm(theta))
            info["local_certificate"] = local.certificate.as_dict()
            info.setdefault("certificate", info["local_certificate"])
        if k_c:
            parts.append(_contenders(state, theta if aim else None, k_c, gen, info, self.eps, self.method))
        params = {"weight": self.weight, "fraction": self.fraction, "contenders": self.contenders,
                  "total": self.total, "eps": self.eps, "method": self.method}
        return _merge(parts, self.name, params, seed_of(rng), info)

    def rounds(self, total: int) -> list[int]:
        """Round sizes at which every adaptive segment has the labels before it: uniform + odpo pilot, the
        local design, the contenders (empty segments dropped)."""
        n_u, n_1, n_2, n_c = self._plan(total)
        return [n for n in (n_u + n_1, n_2, n_c) if n]

    def first_round(self, total: int) -> int:
        """Labels of the plan before the local design needs any: the uniform share and the odpo pilot."""
        return self.rounds(total)[0]

    def update(self, batch: Batch, labels: object) -> None:
        """Keep the labels for the local design and the contenders (used when ``state.labels`` is not
        given)."""
        self._received.append(labels)
