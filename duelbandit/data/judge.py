"""A transparent, deterministic judge for the bundled text pool: the ground-truth reward r(x, y).

The judge solves the prompt from its text (the templates in :mod:`duelbandit.data.facts`), reads the
response's final answer, and scores

    r(x, y) = C + 0.2 * (s + u) / 2 - 0.1 * min(len(y.strip()) / 400, 1)

- C (correctness, dominant) = 1 if the final answer is right, else 0. Numeric skills: the final answer is
  the LAST number in the response (``3,500`` reads as 3500), right iff
  |value - truth| <= 1e-9 max(1, |truth|).
  Word skills: right iff the response's last words (lowercased, punctuation dropped) are the answer's words.
- s (sentence form, mild) = 1 if the stripped response starts with a capital letter or a digit and ends
  with ``.``, ``!`` or ``?``.
- u (units, mild) = 1 for skills without a unit; for unit conversion, 1 iff the final number is directly
  followed by a name or symbol of the asked unit (``3500 m``, ``3500 meters``).
- the last term is a mild penalty for verbosity (characters, capped at 400).

So every right response scores in [0.9, 1.2] and every wrong one in [-0.1, 0.2]: correctness decides, form
and length break ties among equally right answers. The judge is not linear in any embedding, which makes
the bundled pool a realistic (misspecified) test of a linear Bradley–Terry reward.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from duelbandit.data.facts import CAPITALS, DAYS, NUMERIC_SKILLS, TEMPLATES, UNITS
from duelbandit.errors import RewardError
from duelbandit.types import Pool

W_FORMAT = 0.2
W_LENGTH = 0.1
LENGTH_CAP = 400

_FIELD = {
    "a": r"\d+",
    "b": r"\d+",
    "k": r"\d+",
    "p": r"\d+",
    "x": r"\d+",
    "v": r"\d+(?:\.\d+)?",
    "frm": r"[a-z]+",
    "to": r"[a-z]+",
    "country": r"[A-Z][A-Za-z ]*?",
    "day": r"[A-Z][a-z]+",
    "L": r"[A-Z]",
    "s": r'[^"]+',
    "w": r"[a-z]+",
}
# thousands separators first, so that "3,500" is one number and "7, 12" two
_NUMBER = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")
_WORD = re.compile(r"[a-z0-9]+")


def _compile(template: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", template)
    return re.compile(
        "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>{_FIELD[p]})" for i, p in enumerate(parts))
    )


_PATTERNS: tuple[tuple[str, re.Pattern], ...] = tuple(
    (skill, _compile(t)) for skill, ts in TEMPLATES.items() for t in ts
)


class Solution(NamedTuple):
    """What the judge reads from a prompt: its skill, the right answer, and the unit names it expects."""

    skill: str
    answer: float | str
    units: tuple[str, ...] = ()


class JudgeScore(NamedTuple):
    """The terms of r(x, y) (see the module docstring) and the reward itself."""

    correct: bool
    sentence: bool
    unit: bool
    length_penalty: float
    reward: float


def _solve(skill: str, g: dict[str, str]) -> Solution:
    if skill == "addition":
        return Solution(skill, float(int(g["a"]) + int(g["b"])))
    if skill == "subtraction":
        return Solution(skill, float(int(g["a"]) - int(g["b"])))
    if skill == "multiplication":
        return Solution(skill, float(int(g["a"]) * int(g["b"])))
    if skill == "percentage":
        return Solution(skill, int(g["p"]) * int(g["x"]) / 100.0)
    if skill == "unit_conversion":
        if (g["frm"], g["to"]) not in UNITS:
            raise KeyError(f"unit conversion {g['frm']} -> {g['to']}")
        factor, names = UNITS[(g["frm"], g["to"])]
        return Solution(skill, float(g["v"]) * factor, names)
    if skill == "word_count":
        return Solution(skill, float(len(g["s"].split())))
    if skill == "capital":
        return Solution(skill, CAPITALS[g["country"]][0])
    if skill == "weekday":
        return Solution(skill, DAYS[(DAYS.index(g["day"]) + int(g["k"])) % 7])
    if skill == "alphabet":
        c = ord(g["L"]) + int(g.get("k") or 1)
        if c > ord("Z"):
            raise KeyError(f"no letter {g.get('k') or 1} after {g['L']}")
        return Solution(skill, chr(c))
    if skill == "reversal":
        return Solution(skill, g["w"][::-1])
    raise KeyError(skill)


@lru_cache(maxsize=8192)
def solve_prompt(prompt: str, skill: str | None = None) -> Solution:
    """Solve a text-pool prompt from its text (``skill`` narrows the templates tried).

    Raises:
        RewardError: the prompt matches no template of the bundled pool (or names an unknown fact).
    """
    text = prompt.strip()
    for sk, rx in _PATTERNS:
        if skill is not None and sk != skill:
            continue
        m = rx.fullmatch(text)
        if m is None:
            continue
        try:
            return _solve(sk, m.groupdict())
        except (KeyError, ValueError) as exc:
            raise RewardError(f"judge: prompt {prompt!r}: unknown fact ({exc})") from None
    scope = f"skill {skill!r}" if skill is not None else "any skill"
    raise RewardError(f"judge: prompt {prompt!r} matches no template of the bundled text pool ({scope})")


def _final_number(text: str) -> tuple[float, int] | None:
    last = None
    for last in _NUMBER.finditer(text):  # noqa: B007 - the loop only keeps the last match
        pass
    return None if last is None else (float(last.group().replace(",", "")), last.end())


def judge_score(prompt: str, response: str, *, skill: str | None = None) -> JudgeScore:
    """Score ``response`` to ``prompt`` term by term (formula in the module docstring)."""
    sol = solve_prompt(prompt, skill)
    t = response.strip()
    unit = not sol.units
    if sol.skill in NUMERIC_SKILLS:
        found = _final_number(t)
        correct = found is not None and abs(found[0] - float(sol.answer)) <= 1e-9 * max(
            1.0, abs(float(sol.answer))
        )
        if found is not None and sol.units:
            rest = t[found[1] :]
            unit = any(re.match(rf"\s*{re.escape(u)}\b", rest, re.IGNORECASE) for u in sol.units)
    else:
        want = _WORD.findall(str(sol.answer).lower())
        got = _WORD.findall(t.lower())
        correct = len(got) >= len(want) and got[len(got) - len(want) :] == want
    sentence = bool(t) and (t[0].isupper() or t[0].isdigit()) and t[-1] in ".!?"
    length = min(len(t) / LENGTH_CAP, 1.0)
    reward = float(correct) + W_FORMAT * (float(sentence) + float(unit)) / 2 - W_LENGTH * length
    return JudgeScore(bool(correct), bool(sentence), bool(unit), length, reward)


def judge_reward(prompt: str, response: str, *, skill: str | None = None) -> float:
    """r(x, y) of the bundled text pool's judge (see :func:`judge_score` and the module docstring)."""
    return judge_score(prompt, response, skill=skill).reward


def text_pool_rewards(pool: Pool) -> np.ndarray:
    """(R,) judge rewards of every response of ``pool``, in ``pool.responses`` order (float64)."""
    out = np.empty(pool.n_responses)
    for n in range(pool.n_prompts):
        skill = pool.skills[n] if pool.skills is not None and pool.skills[n] in TEMPLATES else None
        lo = int(pool.offsets[n])
        for k, r in enumerate(pool.responses_of(n)):
            out[lo + k] = judge_reward(pool.prompts[n], r, skill=skill)
    return out
