"""The pipeline's annotator stage builds the same simulated annotator as `duelbandit collect`."""

from __future__ import annotations

import argparse

import numpy as np

from duelbandit.commands.collect import _annotator as collect_annotator
from duelbandit.data.textpool import make_text_pool
from duelbandit.embed import HashingEmbedder
from duelbandit.pipeline.run import PipelineConfig
from duelbandit.pipeline.stages import _annotator as pipeline_annotator
from duelbandit.select import SelectionState
from duelbandit.types import Labels


def test_simulated_bt_on_the_bundled_pool_matches_collects(tmp_path):
    pool = make_text_pool(40, seed=0)
    state = SelectionState(pool, HashingEmbedder(dim=8, seed=0).embed(pool))
    make, settings = pipeline_annotator(PipelineConfig(pool="bundled:40", out=str(tmp_path),
                                                       annotator="simulated-bt"), pool, state)
    args = argparse.Namespace(annotator="simulated-bt", pool="bundled:40", theta_seed=None, seed=0)
    make_c, _, _ = collect_annotator(args, state)
    empty = Labels(np.zeros(0, np.int64), np.zeros(0))
    ours, theirs = make(np.random.default_rng(0), empty), make_c(np.random.default_rng(0), empty)
    assert settings["annotator"]["kind"] == "simulated-bt"
    # both entry points simulate the judge's best linear fit: the same theta*, hence the same rewards
    np.testing.assert_allclose(ours.rewards, theirs.rewards, rtol=1e-12, atol=1e-12)
