"""geometric_mixture against its definition, on numpy and torch."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.errors import OnlineError
from duelbandit.finetune.mixture import geometric_mixture


def test_mixture_is_normalised_power_product():
    gen = np.random.default_rng(0)
    pa, pb = gen.dirichlet(np.ones(7), size=3), gen.dirichlet(np.ones(7), size=3)
    for w in (0.0, 0.3, 1.0, 1.5):
        unnorm = pa**w * pb ** (1 - w)
        expected = np.log(unnorm / unnorm.sum(-1, keepdims=True))
        # logits shifted by arbitrary per-row constants give the same mixture
        got = geometric_mixture(np.log(pa) + 3.0, np.log(pb) - 11.0, w)
        np.testing.assert_allclose(got, expected, atol=1e-12)


def test_large_logits_do_not_overflow_and_forbidden_tokens_stay_forbidden():
    h_a = np.array([1e4, 1e4 - 1.0, -np.inf])
    h_b = np.array([0.0, -np.inf, 2.0])
    out = geometric_mixture(h_a, h_b, 1.5)
    assert np.isfinite(out[0]) and out[0] == 0.0 and np.isneginf(out[1]) and np.isneginf(out[2])


def test_torch_matches_numpy_and_per_row_weights():
    torch = pytest.importorskip("torch")
    gen = np.random.default_rng(1)
    a, b = gen.normal(size=(4, 6)), gen.normal(size=(4, 6))
    w = np.array([[0.0], [0.5], [1.0], [2.0]])
    got = geometric_mixture(torch.tensor(a), torch.tensor(b), torch.tensor(w)).numpy()
    z = w * a + (1 - w) * b
    np.testing.assert_allclose(got, z - np.log(np.exp(z).sum(-1, keepdims=True)), atol=1e-12)


@pytest.mark.parametrize("w", [float("nan"), float("inf"), True])
def test_bad_weight(w):
    with pytest.raises(OnlineError, match="weight"):
        geometric_mixture(np.zeros(3), np.zeros(3), w)
