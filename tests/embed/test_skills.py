"""Skill discovery: c-TF-IDF names against the formula computed by hand, purity against a hand count,
seeded k-means recovering well-separated groups, and skills that round-trip through the pool file."""

from __future__ import annotations

import numpy as np
import pytest

from duelbandit.cli import main
from duelbandit.embed.skills import ctfidf_terms, discover_skills, purity, with_skills
from duelbandit.errors import FeatureError
from duelbandit.io import load_pool, save_pool
from duelbandit.pool import Pool


def test_ctfidf_by_hand():
    texts = ["apple banana apple", "apple cherry", "dog cat", "dog dog bird"]
    labels = np.array([0, 0, 1, 1])
    # cluster 0: apple 3, banana 1, cherry 1 (5 terms); cluster 1: dog 3, cat 1, bird 1 (5 terms); A = 5
    # W = tf/5 * log(1 + 5 / f_t), every term lives in one cluster only, so f_t = tf and the top term is the
    # most frequent one: apple (3/5 log(1 + 5/3) = 0.588) vs banana (1/5 log 6 = 0.358)
    terms = ctfidf_terms(texts, labels, 2, n_terms=2)
    assert terms[0][0] == "apple" and terms[1][0] == "dog"
    assert set(terms[0][1:]) <= {"banana", "cherry"} and set(terms[1][1:]) <= {"cat", "bird"}
    # a term shared by both clusters ranks below an exclusive one of equal count
    shared = ctfidf_terms(["common alpha", "common beta"], np.array([0, 1]), 2, n_terms=2)
    assert shared[0] == ["alpha", "common"] and shared[1] == ["beta", "common"]


def test_purity_by_hand():
    true = ["a", "a", "a", "b", "b", "c"]
    pred = np.array([0, 0, 1, 1, 1, 2])
    # cluster 0: {a, a} -> 2; cluster 1: {a, b, b} -> 2; cluster 2: {c} -> 1; purity = 5/6
    assert purity(true, pred) == pytest.approx(5 / 6)
    assert purity(true, np.zeros(6, dtype=int)) == pytest.approx(3 / 6)
    with pytest.raises(FeatureError):
        purity(true, pred[:3])


def test_separated_groups_are_found_and_named():
    rng = np.random.default_rng(0)
    centres = np.eye(3) * 10
    true = np.repeat([0, 1, 2], 20)
    V = centres[true] + rng.normal(scale=0.5, size=(60, 3))
    words = ["weather rain cloud", "football goal match", "python code bug"]
    prompts = [f"{words[t]} question {i}" for i, t in enumerate(true)]
    res = discover_skills(prompts, V, 3, seed=0)
    assert purity(true, res.labels) == 1.0
    assert sorted(res.sizes.tolist()) == [20, 20, 20]
    for j in range(3):
        t = true[res.labels == j][0]
        assert set(res.terms[j]) == set(words[t].split())
    again = discover_skills(prompts, V, 3, seed=0)
    np.testing.assert_array_equal(again.labels, res.labels)
    mb = discover_skills(prompts, V, 3, seed=0, method="minibatch")
    assert purity(true, mb.labels) == 1.0


def test_bad_k():
    with pytest.raises(FeatureError, match="k: expected"):
        discover_skills(["a", "b"], np.eye(2), 3)


def test_skills_round_trip_through_the_pool_file(tmp_path):
    pool = Pool.from_lists(["p1", "p2", "p3"], [["a", "b"], ["c", "d"], ["e", "f"]])
    path = save_pool(with_skills(pool, ["x-y", "z", "x-y"]), tmp_path / "p.jsonl")
    assert load_pool(path).skills == ("x-y", "z", "x-y")


def test_skills_command_on_the_bundled_pool(tmp_path, capsys):
    out = tmp_path / "skilled.jsonl"
    assert main(["skills", "--pool", "bundled:120", "--k", "10", "--embedder", "hashing", "--out", str(out),
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "purity against the pool's own skills" in text
    back = load_pool(out)
    from duelbandit.data.textpool import make_text_pool

    orig = make_text_pool(120, seed=0)
    assert back.prompts == orig.prompts and back.responses == orig.responses
    assert back.skills is not None and len(set(back.skills)) == 10
    # one cluster for all would have purity = the largest skill's share (~0.1 here); the templated prompts of
    # one skill share their words, so hashing clusters must do far better than that
    baseline = max(np.unique(orig.skills, return_counts=True)[1]) / orig.n_prompts
    assert baseline <= 0.11
    assert purity(list(orig.skills), np.unique(back.skills, return_inverse=True)[1]) >= 0.5
