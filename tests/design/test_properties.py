"""Property tests (hypothesis) of the design engine, against an independent cvxpy optimum where needed:

- the certificate never overstates the efficiency of any weights;
- the design is invariant to b -> -b, to permuting candidates, to scaling all features (log det shifts by
  2 d log c), and to duplicated candidates (their weights split, the sum is the original weight);
- every method reaches the same log det.
Sizes are small and examples few: each property runs in a few seconds.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from duelbandit.design import certificate, optimal_design
from tests.design.design_oracles import cvx_optimum, np_logdet, random_candidates

SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
METHODS = ["newton", "screen", "rex", "fw"]
instances = st.tuples(st.integers(0, 10_000), st.integers(10, 40), st.integers(2, 5),
                      st.sampled_from([0.0, 1.0, 2.0]))


@SETTINGS
@given(inst=instances, alpha=st.floats(0.05, 5.0), sparse=st.booleans())
def test_certificate_never_overstates_efficiency(inst, alpha, sparse):
    seed, L, d, decay = inst
    B = random_candidates(seed, L, d, decay=decay)
    opt = cvx_optimum(B)[0]
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(L, alpha))
    if sparse:  # a few points only (possibly singular: efficiency 0 is then the honest answer)
        w[rng.permutation(L)[: L - d - 1]] = 0.0
        w /= w.sum()
    c = certificate(B, w)
    if c.efficiency_lower_bound > 0:
        true_efficiency = np.exp((np_logdet(B, w) - opt) / d)
        assert c.efficiency_lower_bound <= true_efficiency * (1 + 1e-6)


def _check_same_design(a, b, *, logdet_shift: float = 0.0, atol: float = 1e-5) -> None:
    assert b.certificate.logdet == pytest.approx(a.certificate.logdet + logdet_shift, abs=1e-6)
    np.testing.assert_allclose(b.weights, a.weights, atol=atol)


@SETTINGS
@given(inst=instances, method=st.sampled_from(METHODS), c=st.floats(1e-3, 1e3))
def test_invariant_to_signs_permutations_and_scale(inst, method, c):
    seed, L, d, decay = inst
    B = random_candidates(seed, L, d, decay=decay)
    rng = np.random.default_rng(seed + 1)
    kw = {"method": method, "eps": 1e-9 if method != "fw" else 1e-7}
    base = optimal_design(B, **kw)
    atol = 1e-5 if method != "fw" else 1e-3  # fw's weights converge slower than its certificate
    signs = rng.choice([-1.0, 1.0], size=L)
    _check_same_design(base, optimal_design(B * signs[:, None], **kw), atol=atol)
    perm = rng.permutation(L)
    permuted = optimal_design(B[perm], **kw)
    assert permuted.certificate.logdet == pytest.approx(base.certificate.logdet, abs=1e-6)
    np.testing.assert_allclose(permuted.weights, base.weights[perm], atol=atol)
    _check_same_design(base, optimal_design(c * B, **kw), logdet_shift=2 * d * np.log(c), atol=atol)


@SETTINGS
@given(inst=instances, method=st.sampled_from(METHODS), n_dup=st.integers(1, 6))
def test_duplicated_candidates_split_their_weight(inst, method, n_dup):
    seed, L, d, decay = inst
    B = random_candidates(seed, L, d, decay=decay)
    kw = {"method": method, "eps": 1e-9 if method != "fw" else 1e-7}
    base = optimal_design(B, **kw)
    rng = np.random.default_rng(seed + 2)
    # duplicate some of the support (the interesting case) and some random rows, some twice
    src = np.concatenate([rng.choice(base.support, size=min(n_dup, base.support.size)),
                          rng.integers(0, L, size=n_dup)])
    B2 = np.vstack([B, B[src], -B[src[:2]]])  # -b duplicates b as well
    dup = optimal_design(B2, **kw)
    assert dup.certificate.logdet == pytest.approx(base.certificate.logdet, abs=1e-6)
    summed = dup.weights[:L].copy()
    np.add.at(summed, np.r_[src, src[:2]], dup.weights[L:])
    np.testing.assert_allclose(summed, base.weights, atol=1e-5 if method != "fw" else 1e-3)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=instances)
def test_every_method_reaches_the_same_logdet(inst):
    seed, L, d, decay = inst
    B = random_candidates(seed, L, d, decay=decay)
    opt = cvx_optimum(B)[0]
    eps = 1e-7
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for method in ("fw", "mult", "newton", "rex", "screen", "auto"):
            results[method] = optimal_design(B, method=method, eps=eps, max_iter=10**6 if method == "mult" else None)
    results["screen/torch"] = optimal_design(B, method="screen", eps=eps, backend="torch")
    results["cvxpy"] = optimal_design(B, method="cvxpy")
    for name, design in results.items():
        c = design.certificate
        # Kiefer–Wolfowitz: log det* - log det(w) <= d log(max g / d); cvxpy is within its own tolerance
        slack = d * np.log(c.max_leverage_over_d) if name != "cvxpy" else 1e-6 * abs(opt)
        assert opt - slack - 1e-6 * abs(opt) - 1e-7 <= c.logdet <= opt + 1e-6 * abs(opt) + 1e-7, name
