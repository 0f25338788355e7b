"""DeRa: the single-token identity is exact; sequences only approximately; the sweep on tiny LMs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from duelbandit.errors import OnlineError
from duelbandit.finetune.dera import check_lambdas, parse_lambdas, tabular_dera
from duelbandit.finetune.mixture import geometric_mixture


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny models: 2 OpenMP threads on a shared 2-core machine run far slower than one
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.mark.parametrize("lam", [0.0, 0.3, 1.0, 2.5])
def test_single_token_identity_is_exact(lam):
    gen = np.random.default_rng(0)
    ref, r, beta = gen.dirichlet(np.ones(9)), gen.normal(size=9), 0.7
    aligned = softmax(np.log(ref) + r / beta)  # pi*_beta, the KL-regularised optimum
    got = np.exp(geometric_mixture(np.log(aligned), np.log(ref), lam))
    np.testing.assert_allclose(got, softmax(np.log(ref) + lam * r / beta), atol=1e-12)  # pi*_{beta/lambda}


def test_sequences_match_only_approximately():
    gen = np.random.default_rng(1)
    V = 4
    ref1, ref2, r = gen.dirichlet(np.ones(V)), gen.dirichlet(np.ones(V), size=V), gen.normal(size=(V, V))
    for lam in (0.0, 1.0):  # the end points are exact
        d, e = tabular_dera(ref1, ref2, r, beta=0.5, lam=lam)
        np.testing.assert_allclose(d, e, atol=1e-12)
    d, e = tabular_dera(ref1, ref2, r, beta=0.5, lam=0.5)
    # second-token conditionals agree exactly, the first-token marginal does not
    np.testing.assert_allclose(d / d.sum(1, keepdims=True), e / e.sum(1, keepdims=True), atol=1e-12)
    assert 1e-3 < 0.5 * np.abs(d - e).sum() < 0.5
    # if r does not depend on y2 the per-step normalisers are constant and DeRa is exact again
    r1 = np.repeat(gen.normal(size=(V, 1)), V, axis=1)
    d, e = tabular_dera(ref1, ref2, r1, beta=0.5, lam=0.5)
    np.testing.assert_allclose(d, e, atol=1e-12)


def test_lambda_validation():
    assert parse_lambdas("0:1:0.25") == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert parse_lambdas("0,0.5,1.5") == [0.0, 0.5, 1.5]
    for bad in ([-0.1], [float("nan")], [6.0], []):
        with pytest.raises(OnlineError, match="lambdas"):
            check_lambdas(bad)
    with pytest.raises(OnlineError, match="--lambdas"):
        parse_lambdas("0,a")


def test_sweep_on_tiny_lms_kl_zero_at_reference_and_grows():
    pytest.importorskip("torch")
    from duelbandit.finetune.dera import realign_sweep
    from duelbandit.finetune.models import tiny_lm

    ref, tok = tiny_lm(seed=0)
    aligned, _ = tiny_lm(seed=1)
    rows, texts = realign_sweep(aligned, ref, tok, ["2+2?", "Name a colour"], [0.0, 0.5, 1.0],
                                reward=lambda xs, ys: np.array([len(y) for y in ys], float),
                                max_new_tokens=6, verbose=False)
    kl = [r["kl_per_token"] for r in rows]
    assert kl[0] < 1e-6 and kl[0] < kl[1] < kl[2]
    assert all("reward" in r and r["tokens"] > 0 for r in rows) and len(texts[0.5]) == 2


@pytest.mark.realmodel
def test_sweep_on_smollm2_runs_with_its_chat_template():
    """Opt-in (pytest -m realmodel): SmolLM2 against itself: every lambda decodes the same distribution."""
    from duelbandit.finetune.dera import realign_sweep
    from duelbandit.finetune.models import load_model

    ref, tok = load_model("smollm2", verbose=False)
    aligned, _ = load_model("smollm2", verbose=False)
    rows, texts = realign_sweep(aligned, ref, tok, ["What is 12 + 30?", "Name a primary colour."], [0.0, 1.5],
                                max_new_tokens=6, verbose=False)
    assert all(r["kl_per_token"] < 1e-5 for r in rows) and all(len(t) == 2 for t in texts.values())
