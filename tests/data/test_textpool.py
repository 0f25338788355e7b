"""Bundled text pool and judge: determinism, sizes, skills, and the judge against an independent oracle.

The oracle below re-solves every prompt with its own regular expressions and tables (not the package's
templates) and reads answers with its own parser, so a wrong template, solver or reader shows up here.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from duelbandit.data import (
    judge_reward,
    judge_score,
    load_bundled_pool,
    make_text_pool,
    solve_prompt,
    text_pool_rewards,
)
from duelbandit.embed import HashingEmbedder
from duelbandit.errors import PoolError, RewardError
from duelbandit.io import load_pool, save_pool

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
FACTOR = {
    ("kilometers", "meters"): 1000,
    ("meters", "centimeters"): 100,
    ("kilograms", "grams"): 1000,
    ("hours", "minutes"): 60,
    ("minutes", "seconds"): 60,
    ("liters", "milliliters"): 1000,
    ("days", "hours"): 24,
    ("feet", "inches"): 12,
}
CAPITAL = dict(
    c.split(":")
    for c in (
        "France:Paris Germany:Berlin Italy:Rome Spain:Madrid Portugal:Lisbon Japan:Tokyo China:Beijing "
        "India:New_Delhi Canada:Ottawa Australia:Canberra Brazil:Brasilia Argentina:Buenos_Aires "
        "Mexico:Mexico_City Egypt:Cairo Kenya:Nairobi Nigeria:Abuja Turkey:Ankara Russia:Moscow Poland:Warsaw "
        "Sweden:Stockholm Norway:Oslo Finland:Helsinki Greece:Athens Ireland:Dublin Austria:Vienna "
        "Switzerland:Bern Morocco:Rabat Vietnam:Hanoi Pakistan:Islamabad New_Zealand:Wellington Peru:Lima "
        "Chile:Santiago Colombia:Bogota South_Korea:Seoul Thailand:Bangkok Indonesia:Jakarta"
    )
    .replace("_", "~")
    .split()
)
CAPITAL = {k.replace("~", " "): v.replace("~", " ") for k, v in CAPITAL.items()}

N = r"(\d+)"
ORACLE = [  # (regex, skill, answer from the groups)
    (
        rf"What is {N} \+ {N}\?|Add {N} and {N}\.|Compute the sum of {N} and {N}\.",
        "addition",
        lambda a, b: a + b,
    ),
    (rf"What is {N} - {N}\?|How much is {N} minus {N}\?", "subtraction", lambda a, b: a - b),
    (rf"Subtract {N} from {N}\.", "subtraction", lambda b, a: a - b),
    (
        rf"What is {N} times {N}\?|Multiply {N} by {N}\.|What is the product of {N} and {N}\?",
        "multiplication",
        lambda a, b: a * b,
    ),
    (
        rf"What is {N}% of {N}\?|Find {N} percent of {N}\.|Calculate {N}% of {N}\.",
        "percentage",
        lambda p, x: p * x / 100,
    ),
    (r"Convert ([\d.]+) (\w+) to (\w+)\.", "unit_conversion", lambda v, f, t: float(v) * FACTOR[(f, t)]),
    (r"How many (\w+) are in ([\d.]+) (\w+)\?", "unit_conversion", lambda t, v, f: float(v) * FACTOR[(f, t)]),
    (
        r'How many words are in the sentence "([^"]+)"\?|Count the words in: "([^"]+)"',
        "word_count",
        lambda s: len(s.split()),
    ),
    (
        rf"What day of the week comes {N} days after (\w+)\?",
        "weekday",
        lambda k, d: DAYS[(DAYS.index(d.lower()) + k) % 7],
    ),
    (
        rf"If today is (\w+), what day will it be in {N} days\?",
        "weekday",
        lambda d, k: DAYS[(DAYS.index(d.lower()) + k) % 7],
    ),
    (r"Which letter comes right after ([A-Z]) in the alphabet\?", "alphabet", lambda c: chr(ord(c) + 1)),
    (
        (
            rf"Which letter comes {N} letters after ([A-Z]) in the alphabet\?"
            rf"|What is the letter {N} places after ([A-Z]) in the English alphabet\?"
        ),
        "alphabet",
        lambda k, c: chr(ord(c) + k),
    ),
    (
        r'Reverse the word "(\w+)"\.|Spell "(\w+)" backwards\.|Write the letters of "(\w+)" in reverse order\.',
        "reversal",
        lambda w: w[::-1],
    ),
    (
        r"What is the capital of (.+)\?|Name the capital city of (.+)\.|Which city is the capital of (.+)\?",
        "capital",
        lambda c: CAPITAL[c],
    ),
]


def oracle(prompt: str):
    for rx, skill, f in ORACLE:
        m = re.fullmatch(rx, prompt)
        if m:
            args = [int(g) if g.isdigit() else g for g in m.groups() if g is not None]
            return skill, f(*args)
    raise AssertionError(f"oracle cannot read {prompt!r}")


def oracle_correct(answer, response: str) -> bool:
    if isinstance(answer, (int, float)):
        nums = re.findall(r"-?\d[\d,]*(?:\.\d+)?", response)
        return bool(nums) and abs(float(nums[-1].replace(",", "")) - answer) < 1e-9
    want, got = answer.lower().split(), re.sub(r"[^a-z ]", " ", response.lower()).split()
    return got[-len(want) :] == want


@pytest.fixture(scope="module")
def pool():
    return make_text_pool(300, seed=0)


def test_deterministic_from_seed():
    a, b, c = make_text_pool(40, seed=5), make_text_pool(40, seed=5), make_text_pool(40, seed=6)
    assert (a.prompt_ids, a.prompts, a.responses, a.skills) == (
        b.prompt_ids,
        b.prompts,
        b.responses,
        b.skills,
    )
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert a.fingerprint() != c.fingerprint()
    assert load_bundled_pool(40, seed=5).fingerprint() == a.fingerprint()
    g = make_text_pool(40, seed=np.random.default_rng(5))
    assert g.fingerprint() == make_text_pool(40, seed=np.random.default_rng(5)).fingerprint()


@pytest.mark.parametrize("n,lo,hi", [(37, 4, 8), (12, 2, 3), (25, 6, 6), (10, 10, 10), (1, 2, 2)])
def test_sizes(n, lo, hi):
    p = make_text_pool(n, seed=1, min_responses=lo, max_responses=hi)
    assert p.n_prompts == n and len(set(p.prompt_ids)) == n
    assert p.response_counts.min() >= lo and p.response_counts.max() <= hi


def test_default_pool_shape_and_skills(pool):
    assert pool.n_prompts == 300
    assert set(np.unique(pool.response_counts)) == {4, 5, 6, 7, 8}
    skills, counts = np.unique(pool.skills, return_counts=True)
    assert len(skills) == 10 and set(counts) == {30}
    assert len(set(pool.prompts)) >= 295  # repeats only when a template runs out of variety
    for n in range(pool.n_prompts):
        rs = [r.strip() for r in pool.responses_of(n)]
        assert len(set(rs)) == len(rs) and all(rs)


def test_judge_solves_every_prompt_like_the_oracle(pool):
    for n, prompt in enumerate(pool.prompts):
        skill, answer = oracle(prompt)
        assert skill == pool.skills[n]
        sol = solve_prompt(prompt)
        assert sol.skill == skill
        if isinstance(answer, str):
            assert sol.answer.lower() == answer.lower(), prompt
        else:
            assert sol.answer == pytest.approx(answer, abs=1e-12), prompt


def test_judge_ranks_right_over_wrong_with_a_unique_best(pool):
    R = text_pool_rewards(pool)
    assert R.shape == (pool.n_responses,) and R.dtype == np.float64
    for n, prompt in enumerate(pool.prompts):
        _, answer = oracle(prompt)
        r = R[pool.offsets[n] : pool.offsets[n + 1]]
        ok = np.array([oracle_correct(answer, t) for t in pool.responses_of(n)])
        assert ok.any() and not ok.all(), prompt  # every prompt has right and wrong candidates
        assert r[ok].min() > r[~ok].max(), prompt  # correctness dominates
        top = np.sort(r)[::-1]
        assert top[0] - top[1] > 1e-9, prompt  # unique argmax
        assert ok[np.argmax(r)]


def test_rewards_match_judge_reward_per_response(pool):
    R = text_pool_rewards(pool)
    for n in range(0, pool.n_prompts, 17):
        for k, t in enumerate(pool.responses_of(n)):
            assert R[pool.offsets[n] + k] == judge_reward(pool.prompts[n], t, skill=pool.skills[n])


@pytest.mark.parametrize(
    "prompt,response,C,s,u,length",
    [
        ("What is 2 + 3?", "5", 1, 0, 1, 1),
        ("What is 2 + 3?", "The answer is 5.", 1, 1, 1, 16),
        ("What is 2 + 3?", "6.", 0, 1, 1, 2),
        ("What is 2 + 3?", "no idea", 0, 0, 1, 7),
        ("Subtract 9 from 4.", "4 - 9 = -5.", 1, 1, 1, 11),
        ("Convert 3 kilometers to meters.", "3000 m", 1, 0, 1, 6),
        ("Convert 3 kilometers to meters.", "3000.", 1, 1, 0, 5),
        ("Convert 3 kilometers to meters.", "The answer is 3,000 meters.", 1, 1, 1, 27),
        ("How many seconds are in 2.5 minutes?", "150 so", 1, 0, 0, 6),
        ("What is the capital of India?", "  it is new delhi ", 1, 0, 1, 15),
        ("What is the capital of India?", "Delhi.", 0, 1, 1, 6),
        ("Which letter comes right after C in the alphabet?", "D", 1, 0, 1, 1),
        ("Which letter comes right after C in the alphabet?", "x" * 500 + " D.", 1, 0, 1, 400),
    ],
)
def test_judge_formula_by_hand(prompt, response, C, s, u, length):
    expected = C + 0.2 * (s + u) / 2 - 0.1 * min(length, 400) / 400
    assert judge_reward(prompt, response) == pytest.approx(expected, abs=1e-15)
    sc = judge_score(prompt, response)
    assert (sc.correct, sc.sentence, sc.unit) == (bool(C), bool(s), bool(u))


def test_embeddings_of_candidates_differ(pool):
    X = HashingEmbedder(dim=32, seed=0).embed(pool).X
    B = pool.pairs().differences(X)
    assert np.linalg.norm(B, axis=1).min() > 1e-6


def test_round_trips_through_a_file(pool, tmp_path):
    assert load_pool(save_pool(pool, tmp_path / "tp.jsonl")).fingerprint() == pool.fingerprint()


def test_errors():
    with pytest.raises(RewardError, match="matches no template"):
        judge_reward("Tell me a joke.", "no")
    with pytest.raises(RewardError, match="skill 'capital'"):
        judge_reward("What is 2 + 3?", "5", skill="capital")
    with pytest.raises(RewardError, match="unknown fact"):
        judge_reward("What is the capital of Atlantis?", "Poseidonia")
    for kw, what in [
        ({"n_prompts": 0}, "n_prompts"),
        ({"min_responses": 1}, "min_responses"),
        ({"min_responses": 5, "max_responses": 4}, "max_responses"),
        ({"max_responses": 11}, "max_responses"),
        ({"n_prompts": 2.0}, "n_prompts"),
    ]:
        with pytest.raises(PoolError, match=what):
            make_text_pool(**kw)
