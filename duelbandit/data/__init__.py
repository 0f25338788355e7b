"""Bundled data: the text pool (no download) and its transparent judge, for demos and users' tests."""

from duelbandit.data.judge import JudgeScore
from duelbandit.data.judge import judge_reward
from duelbandit.data.judge import judge_score
from duelbandit.data.judge import solve_prompt
from duelbandit.data.judge import text_pool_rewards
from duelbandit.data.textpool import load_bundled_pool
from duelbandit.data.textpool import make_text_pool

__all__ = [
    "JudgeScore",
    "judge_reward",
    "judge_score",
    "load_bundled_pool",
    "make_text_pool",
    "solve_prompt",
    "text_pool_rewards",
]
