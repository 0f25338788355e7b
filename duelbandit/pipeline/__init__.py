"""Pool to aligned model in one call: embed -> collect -> fit BT -> fine-tune -> DeRa sweep -> report, resumable
at every stage (see :mod:`duelbandit.pipeline.run`)."""

from duelbandit.pipeline.run import METHODS
from duelbandit.pipeline.run import STAGES
from duelbandit.pipeline.run import PipelineConfig
from duelbandit.pipeline.run import PipelinePaused
from duelbandit.pipeline.run import run_pipeline

__all__ = [
    "METHODS",
    "STAGES",
    "PipelineConfig",
    "PipelinePaused",
    "run_pipeline",
]
