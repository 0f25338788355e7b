"""Checkpoint averaging against a hand-made average; round trip of trainer checkpoints; mismatches refused."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

from duelbandit.finetune.checkpoints import (
    CheckpointError,
    average_checkpoints,
    load_checkpoint,
    save_checkpoint,
    save_model,
)
from duelbandit.finetune.models import load_model, tiny_lm


def test_average_of_two_models_is_the_weighted_mean(tmp_path):
    (a, tok), (b, _) = tiny_lm(seed=1), tiny_lm(seed=2)
    save_model(tmp_path / "a", a, tok)
    save_model(tmp_path / "b", b, tok)
    out = average_checkpoints([tmp_path / "a", tmp_path / "b"], tmp_path / "avg", weights=[0.25, 0.75])
    avg, _ = load_model(out)
    pa, pb, pm = (dict(m.named_parameters()) for m in (a, b, avg))
    for k in pa:
        torch.testing.assert_close(pm[k], 0.25 * pa[k] + 0.75 * pb[k])
    with pytest.raises(CheckpointError, match="weights: expected 2 non-negative numbers summing to 1"):
        average_checkpoints([tmp_path / "a", tmp_path / "b"], tmp_path / "x", weights=[0.5, 0.6])
    big, tok2 = tiny_lm(seed=1, hidden_size=64)
    save_model(tmp_path / "big", big, tok2)
    with pytest.raises(CheckpointError, match="tensor names or shapes differ"):
        average_checkpoints([tmp_path / "a", tmp_path / "big"], tmp_path / "y")


def test_trainer_checkpoint_round_trip(tmp_path):
    model, _ = tiny_lm(seed=0)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    model(input_ids=torch.tensor([[1, 2, 3]])).logits.sum().backward()
    opt.step()
    sched.step()
    save_checkpoint(tmp_path / "ck", model, opt, sched, {"step": 1})
    other, _ = tiny_lm(seed=9)
    opt2 = torch.optim.AdamW(other.parameters(), lr=0.1)
    sched2 = torch.optim.lr_scheduler.LambdaLR(opt2, lambda s: 1.0)
    assert load_checkpoint(tmp_path / "ck", other, opt2, sched2) == {"step": 1}
    for (k, p), q in zip(model.named_parameters(), other.parameters()):
        torch.testing.assert_close(p, q, msg=k)
    s1, s2 = opt.state_dict(), opt2.state_dict()
    for i in s1["state"]:
        torch.testing.assert_close(s1["state"][i]["exp_avg"], s2["state"][i]["exp_avg"])
    assert sched2.last_epoch == sched.last_epoch
    weights = load_file(str(tmp_path / "ck" / "trainable.safetensors"))
    assert set(weights) == {k for k, _ in model.named_parameters()}
    (tmp_path / "ck" / "optimizer.pt").unlink()
    with pytest.raises(CheckpointError, match=r"incomplete checkpoint, missing \['optimizer.pt'\]"):
        load_checkpoint(tmp_path / "ck", other, opt2, sched2)
