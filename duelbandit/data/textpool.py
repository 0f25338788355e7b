"""The bundled text pool: a few hundred templated prompts with 4-8 candidate responses each, no download.

Ten skills (``facts.SKILLS``: addition, subtraction, multiplication, unit conversion, percentages,
capitals, weekdays, alphabet order, word counting, word reversal). Each prompt's candidates mix the right
answer and typical wrong ones (off by one, wrong operation, wrong factor, the decoy city, counting the
wrong way, ...) written in several forms (bare, sentence, lower case, with or without units, an
explanation, a padded explanation), so the candidates differ in correctness, form and length. Ground
truth is :func:`duelbandit.data.judge.judge_reward`; every prompt has exactly one best response under it
(right answers are kept only when their rewards differ, and right beats wrong by construction of r).

Everything is drawn from one ``numpy.random.Generator`` seeded by ``seed``: same seed, same pool.
"""

from __future__ import annotations

import numpy as np

from duelbandit.data.facts import CAPITALS, DAYS, SKILLS, TEMPLATES, UNITS, WORDS
from duelbandit.data.judge import judge_reward, judge_score, text_pool_rewards
from duelbandit.errors import PoolError
from duelbandit.types import Pool
from duelbandit.rng import as_generator

__all__ = ["judge_reward", "judge_score", "load_bundled_pool", "make_text_pool", "text_pool_rewards"]

MAX_RESPONSES = 10
_GLUE = ("the", "a", "and", "of", "near", "with", "under", "over", "my", "old")
_INTROS = ("Let me work through this.", "Good question.", "Here is how to think about it.", "Sure.")
_FILLERS = (
    "It helps to go slowly with questions like this.",
    "I double-checked each step to be sure.",
    "Small slips are easy to make here, so care matters.",
    "Nothing else in the question changes the result.",
)
_EXPLAIN = {
    "addition": "Start from {a} and add {b}.",
    "subtraction": "Start from {a} and take away {b}.",
    "multiplication": "Multiplying {a} by {b} means adding {a} to itself {b} times.",
    "unit_conversion": "There are {factor} {to} in each of the {frm}, so multiply {v} by {factor}.",
    "percentage": "{p}% means {p} out of every 100, so multiply {x} by {p} and divide by 100.",
    "word_count": "Counting the words one by one, separated by spaces.",
    "capital": "{country} has its national government in its capital city.",
    "weekday": "Counting {k} days forward from {day}, one day at a time.",
    "alphabet": "Counting {k} letters forward from {L} through the alphabet.",
    "reversal": "Reading the letters of {w} from the last one back to the first.",
}
_SENTENCE = {
    "capital": "The capital of {country} is {A}.",
    "weekday": "It will be {A}.",
    "alphabet": "The letter is {A}.",
    "reversal": 'Reversed, the word is "{A}".',
}
_OP = {"addition": "+", "subtraction": "-", "multiplication": "x"}


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6f}".rstrip("0").rstrip(".")


def _pick(rng: np.random.Generator, seq):  # rng.choice would turn strings into numpy strings
    return seq[int(rng.integers(len(seq)))]


def _spec(skill: str, rng: np.random.Generator) -> tuple[str, object, list, dict]:
    """(prompt, right answer, wrong answers, template context) for one prompt of ``skill``."""
    ti = int(rng.integers(len(TEMPLATES[skill])))

    def r(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi))

    if skill == "addition":
        a, b = r(2, 200), r(2, 100)
        ctx, truth, wrong = {"a": a, "b": b}, a + b, [a + b + 1, a + b - 1, a + b + 10, abs(a - b), a * b]
    elif skill == "subtraction":
        a = r(20, 300)
        b = r(2, a)
        ctx, truth, wrong = {"a": a, "b": b}, a - b, [a - b + 1, a - b - 1, a + b, b - a, a - b + 10]
    elif skill == "multiplication":
        a, b = r(2, 26), r(2, 16)
        ctx, truth, wrong = {"a": a, "b": b}, a * b, [a * (b - 1), a * (b + 1), a + b, a * b + 1]
    elif skill == "unit_conversion":
        frm, to = _pick(rng, list(UNITS))
        factor, names = UNITS[(frm, to)]
        v = r(2, 41) + (0.5 if rng.random() < 0.3 else 0.0)
        truth = v * factor
        ctx = {"v": _fmt(v), "frm": frm, "to": to, "factor": factor, "unit": names[0], "sym": names[-1]}
        wrong = [truth / 10, truth * 10, truth + factor, v / factor]
    elif skill == "percentage":
        p, x = _pick(rng, (5, 10, 15, 20, 25, 30, 40, 50, 60, 75, 80, 90)), 20 * r(1, 21)
        truth = p * x / 100
        ctx, wrong = {"p": p, "x": x}, [x - truth, p * x / 10, truth + 1, 2 * truth]
    elif skill == "word_count":
        n = r(4, 13)
        ctx = {"s": " ".join(_pick(rng, WORDS + _GLUE) for _ in range(n))}
        truth, wrong = n, [n + 1, n - 1, n + 2, n - 2, n + 3]
    elif skill == "capital":
        country = _pick(rng, list(CAPITALS))
        truth, decoy = CAPITALS[country]
        others = [c for c, _ in CAPITALS.values() if c != truth]
        ctx, wrong = {"country": country}, [decoy, _pick(rng, others), _pick(rng, others)]
    elif skill == "weekday":
        i, k = r(0, 7), r(2, 13)  # the templates say "{k} days"
        ctx, truth = {"day": DAYS[i], "k": k}, DAYS[(i + k) % 7]
        wrong = [DAYS[(i + k + 1) % 7], DAYS[(i + k - 1) % 7], DAYS[(i - k) % 7], DAYS[i]]
    elif skill == "alphabet":
        k = 1 if ti == 0 else r(2, 6)
        c = r(0, 26 - k - 2)  # room for the off-by-one-after wrong answers
        ctx, truth = {"L": chr(65 + c), "k": k}, chr(65 + c + k)
        wrong = [chr(65 + c + k + 1), chr(65 + c + k + 2), chr(65 + c)] + (
            [chr(65 + c - k)] if c >= k else []
        )
    else:  # reversal
        w = _pick(rng, WORDS)
        truth = w[::-1]
        ctx, wrong = (
            {"w": w},
            [w, truth[1] + truth[0] + truth[2:], truth[:-1], truth[:2] + truth[2] + truth[2:]],
        )
    prompt = TEMPLATES[skill][ti].format(**ctx)
    # keep distinct wrong answers only (e.g. an off-by-one can coincide with a wrong operation)
    seen, wrongs = {_key(truth)}, []
    for w in wrong:
        if _key(w) not in seen:
            seen.add(_key(w))
            wrongs.append(w)
    return prompt, truth, wrongs, ctx


def _key(v: object) -> str:
    return _fmt(v) if isinstance(v, (int, float)) else str(v).lower()


def _render(skill: str, value: object, ctx: dict, rng: np.random.Generator) -> list[str]:
    """Every form of one answer: bare, sentence, lower case, equation or units, explanation, padded one."""
    A = _fmt(value) if isinstance(value, (int, float)) else str(value)
    if isinstance(value, float) and value >= 1000 and value.is_integer() and rng.random() < 0.5:
        A_long = f"{int(value):,}"  # a thousands separator now and then; the judge reads "3,500" as 3500
    else:
        A_long = A
    expl = _EXPLAIN[skill].format(**ctx)
    out = [
        A,
        f"{A}.",
        _pick(rng, ("The answer is {A}.", "It is {A}.", "The result is {A}.", "That comes to {A}.")).format(
            A=A
        ),
        _pick(rng, ("the answer is {A}", "i think it is {A}", "its {A}")).format(A=A.lower()),
        f"{_pick(rng, _INTROS)} {expl} So the answer is {A_long}.",
        (
            f"{_pick(rng, _INTROS)} {expl} {_FILLERS[int(rng.integers(2))]} "
            f"{_FILLERS[2 + int(rng.integers(2))]} "
            f"After checking, the final answer is {A_long}."
        ),
    ]
    if skill in _SENTENCE:
        out.append(_SENTENCE[skill].format(A=A, **ctx))
    if skill in _OP:
        out += [f"{ctx['a']} {_OP[skill]} {ctx['b']} = {A}", f"{ctx['a']} {_OP[skill]} {ctx['b']} = {A}."]
    if skill == "unit_conversion":
        out += [
            f"{A} {ctx['sym']}",
            f"The answer is {A} {ctx['unit']}.",
            f"{expl} So {ctx['v']} {ctx['frm']} is {A_long} {ctx['unit']}.",
        ]
    return out


def make_text_pool(
    n_prompts: int = 300,
    *,
    seed: int | np.random.Generator = 0,
    min_responses: int = 4,
    max_responses: int = 8,
) -> Pool:
    """A deterministic pool of templated prompts (skills in ``Pool.skills``) and 4-8 responses each.

    Args:
        n_prompts: number of prompts N (>= 1); skills are balanced (N // 10 or N // 10 + 1 each) and shuffled.
        seed: int seed or Generator; same seed, same pool.
        min_responses, max_responses: K_n is drawn uniformly in [min, max]; 2 <= min <= max <= 10.

    Returns:
        Pool with ids ``"tp0000"``, ..., named ``"textpool(n=N, seed=S)"``. Each prompt has 1-3 right
        responses (with distinct judge rewards) and at least one wrong one, in shuffled order.
    """
    for name, v in (
        ("n_prompts", n_prompts),
        ("min_responses", min_responses),
        ("max_responses", max_responses),
    ):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise PoolError(f"{name}: expected an integer, got {v!r}")
    if n_prompts < 1:
        raise PoolError(f"n_prompts: expected an integer >= 1, got {n_prompts}")
    if not 2 <= min_responses <= max_responses <= MAX_RESPONSES:
        raise PoolError(
            f"min_responses, max_responses: expected 2 <= min <= max <= {MAX_RESPONSES}, "
            f"got {min_responses}, {max_responses}"
        )
    rng = as_generator(seed)
    skills = [SKILLS[k % len(SKILLS)] for k in rng.permutation(n_prompts)]
    prompts, responses, seen = [], [], set()
    for skill in skills:
        for _ in range(20):  # avoid repeated prompts while the templates allow it
            prompt, truth, wrongs, ctx = _spec(skill, rng)
            if prompt not in seen:
                break
        seen.add(prompt)
        K = int(rng.integers(min_responses, max_responses + 1))
        right = list(dict.fromkeys(_render(skill, truth, ctx, rng)))
        wrong = list(dict.fromkeys(t for w in wrongs for t in _render(skill, w, ctx, rng)))
        n_right = min(K - 1, 1 + int(rng.integers(3)))
        chosen, rewards = [], set()
        for i in rng.permutation(len(right)):
            r = round(judge_reward(prompt, right[i], skill=skill), 12)
            if r not in rewards:  # distinct rewards among right answers -> a unique best response
                rewards.add(r)
                chosen.append(right[i])
            if len(chosen) == n_right:
                break
        chosen += [wrong[i] for i in rng.permutation(len(wrong))[: K - len(chosen)]]
        responses.append([chosen[i] for i in rng.permutation(len(chosen))])
        prompts.append(prompt)
    width = max(4, len(str(n_prompts - 1)))
    return Pool.from_lists(
        prompts,
        responses,
        prompt_ids=[f"tp{n:0{width}d}" for n in range(n_prompts)],
        skills=skills,
        name=f"textpool(n={n_prompts}, seed={seed if isinstance(seed, int) else 'rng'})",
    )


def load_bundled_pool(
    n_prompts: int = 300, *, seed: int = 0, min_responses: int = 4, max_responses: int = 8
) -> Pool:
    """The bundled text pool: the same as :func:`make_text_pool`, named to read well beside ``load_pool``."""
    return make_text_pool(n_prompts, seed=seed, min_responses=min_responses, max_responses=max_responses)
