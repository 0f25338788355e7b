"""The preference fine-tuner: losses (pure), the exact tabular testbed, causal LMs (tiny, SmolLM2, any local
Hugging Face model), sequence log-probs and the DPO/IPO-family trainer. torch is imported lazily inside
functions, so importing this package stays light."""

from duelbandit.finetune.checkpoints import CheckpointError
from duelbandit.finetune.checkpoints import average_checkpoints
from duelbandit.finetune.generation import generate_texts
from duelbandit.finetune.logprobs import DataError
from duelbandit.finetune.logprobs import Encoded
from duelbandit.finetune.logprobs import encode
from duelbandit.finetune.logprobs import format_prompt
from duelbandit.finetune.logprobs import precompute_logprobs
from duelbandit.finetune.logprobs import sequence_logprobs
from duelbandit.finetune.losses import GPO_FUNCTIONS
from duelbandit.finetune.losses import REGULARISATION
from duelbandit.finetune.losses import dpo_loss
from duelbandit.finetune.losses import gpo_loss
from duelbandit.finetune.losses import ipo_loss
from duelbandit.finetune.losses import mdpo_loss
from duelbandit.finetune.losses import mipo_loss
from duelbandit.finetune.losses import nll_loss
from duelbandit.finetune.losses import slic_loss
from duelbandit.finetune.models import ModelError
from duelbandit.finetune.models import convert_smollm2
from duelbandit.finetune.models import load_model
from duelbandit.finetune.models import tiny_lm
from duelbandit.finetune.models import tiny_tokenizer
from duelbandit.finetune.pairs import PreferenceRow
from duelbandit.finetune.pairs import read_pairs
from duelbandit.finetune.tabular import bt_preferences
from duelbandit.finetune.tabular import dpo_optimum
from duelbandit.finetune.tabular import fit_tabular
from duelbandit.finetune.tabular import ipo_optimum
from duelbandit.finetune.tabular import population_loss
from duelbandit.finetune.trainer import TrainConfig
from duelbandit.finetune.trainer import TrainingError
from duelbandit.finetune.trainer import encode_rows
from duelbandit.finetune.trainer import pair_losses
from duelbandit.finetune.trainer import policy_logprobs
from duelbandit.finetune.trainer import train

__all__ = [
    "CheckpointError",
    "DataError",
    "Encoded",
    "GPO_FUNCTIONS",
    "ModelError",
    "PreferenceRow",
    "REGULARISATION",
    "TrainConfig",
    "TrainingError",
    "average_checkpoints",
    "bt_preferences",
    "convert_smollm2",
    "dpo_loss",
    "dpo_optimum",
    "encode",
    "encode_rows",
    "fit_tabular",
    "format_prompt",
    "generate_texts",
    "gpo_loss",
    "ipo_loss",
    "ipo_optimum",
    "load_model",
    "mdpo_loss",
    "mipo_loss",
    "nll_loss",
    "pair_losses",
    "policy_logprobs",
    "population_loss",
    "precompute_logprobs",
    "read_pairs",
    "sequence_logprobs",
    "slic_loss",
    "tiny_lm",
    "tiny_tokenizer",
    "train",
]

# --- online alignment and decoding-time realignment (issue 12; block kept separate for the merge) ---------
from duelbandit.finetune.dera import realign_sweep
from duelbandit.finetune.dera import tabular_dera
from duelbandit.finetune.mixture import geometric_mixture
from duelbandit.finetune.online import ipo_md
from duelbandit.finetune.online import nash_md
from duelbandit.finetune.online import online_ipo
from duelbandit.finetune.online import regularised_nash
from duelbandit.finetune.online_lm import OnlineConfig
from duelbandit.finetune.online_lm import train_online
from duelbandit.finetune.preference import BTPreference
from duelbandit.finetune.preference import CallablePreference
from duelbandit.finetune.preference import HashingFeatureMap
from duelbandit.finetune.preference import JudgePreference
from duelbandit.finetune.preference import OnlineLabelLog
from duelbandit.finetune.sampling import generate_mixture
from duelbandit.finetune.sampling import sample_mixture

__all__ += [
    "BTPreference",
    "CallablePreference",
    "HashingFeatureMap",
    "JudgePreference",
    "OnlineConfig",
    "OnlineLabelLog",
    "generate_mixture",
    "geometric_mixture",
    "ipo_md",
    "nash_md",
    "online_ipo",
    "realign_sweep",
    "regularised_nash",
    "sample_mixture",
    "tabular_dera",
    "train_online",
]
