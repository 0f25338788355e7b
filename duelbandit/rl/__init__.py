"""Reinforcement learning: RandQL (Tiapkin et al. 2023) and its baselines on finite-horizon MDPs, with
exact regret. See docs/rl.md."""

from duelbandit.rl.adaptive_ql import AdaptiveQL
from duelbandit.rl.adaptive_ql import AdaptiveQLConfig
from duelbandit.rl.envs import ContinuousChain
from duelbandit.rl.envs import chain
from duelbandit.rl.envs import continuous_chain
from duelbandit.rl.envs import from_gymnasium
from duelbandit.rl.envs import gridworld
from duelbandit.rl.envs import make_env
from duelbandit.rl.envs import riverswim
from duelbandit.rl.mdp import Episode
from duelbandit.rl.mdp import FiniteMDP
from duelbandit.rl.mdp import greedy_policy
from duelbandit.rl.mdp import optimal_value
from duelbandit.rl.mdp import optimal_values
from duelbandit.rl.mdp import policy_values
from duelbandit.rl.metric_randql import MetricRandQL
from duelbandit.rl.metric_randql import MetricRandQLConfig
from duelbandit.rl.optql import OptQL
from duelbandit.rl.optql import OptQLConfig
from duelbandit.rl.psrl import PSRL
from duelbandit.rl.psrl import PSRLConfig
from duelbandit.rl.qlearning import QLearning
from duelbandit.rl.qlearning import QLearningConfig
from duelbandit.rl.randql import RandQL
from duelbandit.rl.randql import RandQLConfig
from duelbandit.rl.rlsvi import RLSVI
from duelbandit.rl.rlsvi import RLSVIConfig
from duelbandit.rl.runner import AGENT_NAMES
from duelbandit.rl.runner import Agent
from duelbandit.rl.runner import RunResult
from duelbandit.rl.runner import make_agent
from duelbandit.rl.runner import run_agent
from duelbandit.rl.runner import run_metric_agent
from duelbandit.rl.staged_randql import StagedRandQL
from duelbandit.rl.staged_randql import StagedRandQLConfig
from duelbandit.rl.ucbvi import UCBVI
from duelbandit.rl.ucbvi import UCBVIConfig

__all__ = [
    "AGENT_NAMES",
    "PSRL",
    "RLSVI",
    "UCBVI",
    "AdaptiveQL",
    "AdaptiveQLConfig",
    "Agent",
    "ContinuousChain",
    "Episode",
    "FiniteMDP",
    "MetricRandQL",
    "MetricRandQLConfig",
    "OptQL",
    "OptQLConfig",
    "PSRLConfig",
    "QLearning",
    "QLearningConfig",
    "RLSVIConfig",
    "RandQL",
    "RandQLConfig",
    "RunResult",
    "StagedRandQL",
    "StagedRandQLConfig",
    "UCBVIConfig",
    "chain",
    "continuous_chain",
    "from_gymnasium",
    "greedy_policy",
    "gridworld",
    "make_agent",
    "make_env",
    "optimal_value",
    "optimal_values",
    "policy_values",
    "riverswim",
    "run_agent",
    "run_metric_agent",
]
