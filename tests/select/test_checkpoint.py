"""The checkpoint's settings (issue 13, items 4 and 5): the pool is matched by content, a checkpoint that
committed nothing never blocks its folder, and a corrupt one is named."""

from __future__ import annotations

import json

import pytest

from duelbandit.errors import ConfigError
from duelbandit.select import SelectionState
from duelbandit.select.loop import CHECKPOINT_FILE, LABELS_FILE
from duelbandit.types import Pool
from tests.conftest import random_pool
from tests.select.test_loop import run


@pytest.fixture
def setup():
    pool, feats = random_pool(25, (3, 5), 5, seed=7)
    return SelectionState(pool, feats), pool, feats


def test_the_same_pool_under_another_name_resumes(setup, tmp_path):
    state, pool, feats = setup
    run(state, tmp_path, T=16, m=8)
    renamed = Pool(prompt_ids=pool.prompt_ids, prompts=pool.prompts, responses=pool.responses,
                   offsets=pool.offsets, skills=pool.skills, name="/somewhere/else/pool.jsonl")
    res = run(SelectionState(renamed, feats), tmp_path, T=16, m=8)
    assert res.complete and res.resumed_labels == 16


def test_a_checkpoint_that_committed_nothing_is_replaced(setup, tmp_path):
    state, _, _ = setup
    ckpt = tmp_path / CHECKPOINT_FILE
    tmp_path.mkdir(exist_ok=True)
    ckpt.write_text(json.dumps({"format": "duelbandit-collect/1", "settings": {"budget": 999}, "rng": {},
                                "rounds": 0, "n_labels": 0, "log_bytes": 0, "log_sha256": "", "theta": []}))
    res = run(state, tmp_path, T=16, m=8)  # other settings, but nothing to lose: a fresh run
    assert res.complete and json.loads(ckpt.read_text())["settings"]["budget"] == 16
    with pytest.raises(ConfigError, match="other settings"):  # with labels committed, it is refused
        run(state, tmp_path, T=24, m=8)


def test_a_corrupt_checkpoint_names_the_file_and_the_way_out(setup, tmp_path):
    state, _, _ = setup
    run(state, tmp_path, T=16, m=8)
    log = (tmp_path / LABELS_FILE).read_bytes()
    (tmp_path / CHECKPOINT_FILE).write_text("[1, 2")
    with pytest.raises(ConfigError, match=r"checkpoint\.json: corrupt checkpoint .*new --state folder"):
        run(state, tmp_path, T=16, m=8)
    (tmp_path / CHECKPOINT_FILE).write_text('{"format": "duelbandit-collect/1"}')
    with pytest.raises(ConfigError, match=r"corrupt checkpoint \(no field 'settings'\)"):
        run(state, tmp_path, T=16, m=8)
    assert (tmp_path / LABELS_FILE).read_bytes() == log


def test_a_checkpoint_that_still_names_the_pool_path_resumes(setup, tmp_path):
    state, _, _ = setup
    run(state, tmp_path, T=24, m=8)
    ckpt = tmp_path / CHECKPOINT_FILE
    old = json.loads(ckpt.read_text())
    old["settings"]["pool"]["name"] = "/old/path/pool.jsonl"  # as written before content matching
    ckpt.write_text(json.dumps(old))
    res = run(state, tmp_path, T=24, m=8)
    assert res.complete and res.resumed_labels == 24
