"""Synthetic pools: H1 norms, ||theta*|| = S, rewards = X theta*, determinism, anisotropy."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.errors import PoolError
from duelbandit.data.synthetic import make_synthetic_pool


@pytest.mark.parametrize("kind", ["isotropic", "anisotropic"])
@pytest.mark.parametrize("S", [0.5, 1.0, 2.0])
def test_well_specified_and_bounded(kind, S):
    syn = make_synthetic_pool(40, (2, 6), 8, S=S, kind=kind, rng=3)
    X = syn.features.X
    assert X.shape == (syn.pool.n_responses, 8)
    assert np.all(np.linalg.norm(X, axis=1) <= 1 + 1e-12)
    assert np.linalg.norm(syn.theta_star) == pytest.approx(S, rel=1e-12)
    np.testing.assert_allclose(syn.rewards, X @ syn.theta_star, rtol=0, atol=1e-15)
    k = syn.pool.response_counts
    assert k.min() >= 2 and k.max() <= 6 and syn.pool.n_prompts == 40
    assert syn.pool.responses[syn.pool.offsets[7] + 1] == "response 1 of prompt 7"
    syn.features.check_aligned(syn.pool)


@pytest.mark.parametrize("kind", ["isotropic", "anisotropic"])
def test_deterministic_from_rng(kind):
    a = make_synthetic_pool(30, (3, 5), 6, kind=kind, rng=11)
    b = make_synthetic_pool(30, (3, 5), 6, kind=kind, rng=np.random.default_rng(11))
    c = make_synthetic_pool(30, (3, 5), 6, kind=kind, rng=12)
    np.testing.assert_array_equal(a.features.X, b.features.X)
    np.testing.assert_array_equal(a.theta_star, b.theta_star)
    np.testing.assert_array_equal(a.pool.offsets, b.pool.offsets)
    assert a.pool.fingerprint() == b.pool.fingerprint()
    assert not np.array_equal(a.theta_star, c.theta_star)


def test_fixed_response_count():
    syn = make_synthetic_pool(10, 4, 3, rng=0)
    assert np.all(syn.pool.response_counts == 4) and syn.pool.n_pairs == 60


def _spectrum(M):
    ev = np.linalg.eigvalsh(M.T @ M / M.shape[0])[::-1]
    return ev / ev[0]


def test_anisotropic_spectrum_decays_and_isotropic_does_not():
    d = 16
    aniso = make_synthetic_pool(300, (4, 8), d, kind="anisotropic", rng=0)
    iso = make_synthetic_pool(300, (4, 8), d, kind="isotropic", rng=0)
    for syn, decays in ((aniso, True), (iso, False)):
        X = syn.features.X
        B = syn.pool.pairs().differences(X)  # the candidate differences the design works on
        for M in (X - X.mean(axis=0), B):
            ev = _spectrum(M)
            if decays:
                # eigenvalue k ~ k^-1.5: the last of 16 is ~1/64 of the first
                assert ev[-1] < 1 / 20 and ev[3] < 0.35
            else:
                assert ev[-1] > 1 / 3


def test_anisotropic_has_near_duplicates_and_clusters():
    syn = make_synthetic_pool(200, (4, 8), 12, kind="anisotropic", rng=1)
    iso = make_synthetic_pool(200, (4, 8), 12, kind="isotropic", rng=1)

    def dup_frac(s):
        nb = np.linalg.norm(s.pool.pairs().differences(s.features.X), axis=1)
        return np.mean(nb < 0.1 * np.median(nb))

    assert dup_frac(syn) > 0.1 and dup_frac(iso) < 0.01
    assert syn.pool.skills is not None and len(set(syn.pool.skills)) > 1
    # reward gaps within prompts are not negligible (labels are not coin flips)
    gaps = np.abs(syn.pool.pairs().differences(syn.features.X) @ syn.theta_star)
    assert np.median(gaps) > 0.03


@pytest.mark.parametrize(
    "kw,match",
    [
        ({"n_prompts": 5, "n_responses": 1, "dim": 3}, "n_responses"),
        ({"n_prompts": 5, "n_responses": (5, 3), "dim": 3}, "n_responses"),
        ({"n_prompts": 0, "n_responses": 2, "dim": 3}, "n_prompts"),
        ({"n_prompts": 5, "n_responses": 2, "dim": 3, "kind": "weird"}, "kind"),
        ({"n_prompts": 5, "n_responses": 2, "dim": 3, "S": -1.0}, "S"),
    ],
)
def test_validation(kw, match):
    with pytest.raises(PoolError, match=match):
        make_synthetic_pool(rng=0, **kw)
