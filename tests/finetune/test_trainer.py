"""The trainer on the tiny LM: step-0 losses against closed forms, real optimisation, resume = uninterrupted run,
gradient accumulation, NaN stop keeping the last good weights, LoRA, and 2-process DDP = single process."""

from __future__ import annotations

import json
import math
import os
import socket

import pytest
import torch

from duelbandit.finetune.models import tiny_lm
from duelbandit.finetune.pairs import PreferenceRow
from duelbandit.finetune.trainer import TrainConfig, TrainingError, train

ROWS = [PreferenceRow(f"What is {i} + {i}?", (f"It is {2 * i}.",), (f"maybe {i + 7}",)) for i in range(16)]


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _metrics(out):
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("loss, want0", [("dpo", math.log(2)), ("ipo", (1 / (2 * 0.5)) ** 2),
                                         ("gpo:exponential", 1.0), ("gpo:hinge", 1.0)])
def test_step0_loss_is_the_closed_form_at_the_reference_and_training_lowers_it(tmp_path, loss, want0):
    model, tok = tiny_lm(seed=0)
    cfg = TrainConfig(loss=loss, beta=0.5, lr=3e-3, batch_size=4, epochs=2)
    train(model, tok, ROWS, cfg, tmp_path, verbose=False)
    m = _metrics(tmp_path)
    assert len(m) == 8
    # at step 0 the policy IS the reference: rho = 0 for every pair, so the loss is f(0) exactly
    assert m[0]["loss"] == pytest.approx(want0, abs=1e-5)
    assert m[0]["pair_accuracy"] == 0.0 and m[0]["kl"] == pytest.approx(0.0, abs=1e-5)
    assert m[-1]["loss"] < 0.5 * m[0]["loss"]
    assert m[-1]["pair_accuracy"] == 1.0
    assert (tmp_path / "final" / "model.safetensors").is_file()


def test_groups_train_with_mdpo_and_mipo(tmp_path):
    rows = [PreferenceRow(f"q{i}", (f"good {i}", f"fine {i}"), (f"bad {i}", f"poor {i}")) for i in range(8)]
    for loss, want0 in (("mdpo", math.log(2)), ("mipo", 1.0)):
        model, tok = tiny_lm(seed=0)
        out = tmp_path / loss
        train(model, tok, rows, TrainConfig(loss=loss, beta=0.5, lr=3e-3, batch_size=4, epochs=2), out,
              verbose=False)
        m = _metrics(out)
        assert m[0]["loss"] == pytest.approx(want0, abs=1e-5)
        assert m[-1]["loss"] < m[0]["loss"]
    with pytest.raises(TrainingError, match="takes one response per side; the data has groups of k=2"):
        train(*tiny_lm(), rows, TrainConfig(loss="dpo"), None, verbose=False)


def test_resume_continues_the_same_run(tmp_path):
    cfg = TrainConfig(loss="dpo", beta=0.5, lr=3e-3, batch_size=4, epochs=2)  # 8 steps, crossing an epoch
    straight, tok = tiny_lm(seed=0)
    train(straight, tok, ROWS, cfg, tmp_path / "a", verbose=False)
    first, tok = tiny_lm(seed=0)
    train(first, tok, ROWS, TrainConfig(**{**cfg.__dict__, "max_steps": 5}), tmp_path / "b", verbose=False)
    fresh, tok = tiny_lm(seed=0)  # a new process would start from the initial weights
    train(fresh, tok, ROWS, cfg, tmp_path / "b", verbose=False)
    torch.testing.assert_close(_params(fresh), _params(straight), rtol=0, atol=1e-6)
    assert [r["step"] for r in _metrics(tmp_path / "b")] == list(range(1, 9))
    with pytest.raises(TrainingError, match="used other settings or data"):
        train(*tiny_lm(seed=0), ROWS, TrainConfig(**{**cfg.__dict__, "beta": 0.9}), tmp_path / "b", verbose=False)


def test_resume_logs_each_step_once_when_killed_after_a_log_line(tmp_path):
    # a kill between step 6's metrics line and its checkpoint (saved every 5 steps here: at 5) leaves a log
    # that runs one step past the checkpoint; the resume must replay step 6 once, not log it twice
    cfg = TrainConfig(loss="dpo", beta=0.5, lr=3e-3, batch_size=4, epochs=2, save_every=5)
    first, tok = tiny_lm(seed=0)
    train(first, tok, ROWS, TrainConfig(**{**cfg.__dict__, "max_steps": 5}), tmp_path / "b", verbose=False)
    with open(tmp_path / "b" / "metrics.jsonl", "a") as f:  # what the killed run had logged beyond step 5
        f.write(json.dumps({"step": 6, "loss": -1.0}) + "\n")
    fresh, tok = tiny_lm(seed=0)
    train(fresh, tok, ROWS, cfg, tmp_path / "b", verbose=False)
    rows = _metrics(tmp_path / "b")
    assert [r["step"] for r in rows] == list(range(1, 9)) and rows[5]["loss"] > 0  # step 6 is the replayed one


def test_gradient_accumulation_equals_the_full_batch(tmp_path):
    a, tok = tiny_lm(seed=0)
    train(a, tok, ROWS, TrainConfig(beta=0.5, lr=1e-3, batch_size=4, max_steps=3), None, verbose=False)
    b, tok = tiny_lm(seed=0)
    train(b, tok, ROWS, TrainConfig(beta=0.5, lr=1e-3, batch_size=4, grad_accum=2, max_steps=3), None, verbose=False)
    torch.testing.assert_close(_params(a), _params(b), rtol=0, atol=1e-5)  # float32 sums in another order


def test_nan_loss_stops_and_keeps_the_last_good_weights(tmp_path):
    model, tok = tiny_lm(seed=0)
    calls = {"n": 0}

    def poison(module, args, output):
        calls["n"] += module.training  # reference passes run in eval mode
        if calls["n"] > 2:  # two good steps, then NaN logits
            return output * float("nan")
        return output

    model.lm_head.register_forward_hook(poison)  # the head runs on every log-prob path
    cfg = TrainConfig(beta=0.5, lr=3e-3, batch_size=4, epochs=2)
    with pytest.raises(TrainingError, match=r"step 2: the loss is nan .* last good weights \(before this step\)"):
        train(model, tok, ROWS, cfg, tmp_path / "bad", verbose=False)
    clean, tok = tiny_lm(seed=0)
    train(clean, tok, ROWS, TrainConfig(**{**cfg.__dict__, "max_steps": 2}), tmp_path / "good", verbose=False)
    from safetensors.torch import load_file

    kept = load_file(str(tmp_path / "bad" / "checkpoint" / "trainable.safetensors"))
    ref = dict(clean.named_parameters())
    assert json.loads((tmp_path / "bad" / "checkpoint" / "state.json").read_text())["step"] == 2
    for k, v in kept.items():
        torch.testing.assert_close(v, ref[k].detach(), rtol=0, atol=1e-6)


def test_lora_trains_adapters_only_and_saves_a_merged_model(tmp_path):
    model, tok = tiny_lm(seed=0)
    base = {k: v.clone() for k, v in model.state_dict().items()}
    train(model, tok, ROWS, TrainConfig(beta=0.5, lr=1e-2, batch_size=4, max_steps=3, lora=True, lora_r=4),
          tmp_path, verbose=False)
    from safetensors.torch import load_file

    adapters = load_file(str(tmp_path / "checkpoint" / "trainable.safetensors"))
    assert adapters and all("lora_" in k for k in adapters)
    merged = load_file(str(tmp_path / "final" / "model.safetensors"))
    q = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.allclose(merged[q], base[q])  # the adapters moved the merged weight
    m = _metrics(tmp_path)
    assert m[-1]["loss"] < m[0]["loss"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank, world, port, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    import torch.distributed as dist

    dist.init_process_group("gloo", rank=rank, world_size=world)
    model, tok = tiny_lm(seed=0)
    train(model, tok, ROWS, TrainConfig(beta=0.5, lr=3e-3, batch_size=4, grad_accum=2, max_steps=4), None,
          verbose=False)
    if rank == 0:
        torch.save(_params(model), out)
    dist.destroy_process_group()


def test_ddp_on_two_gloo_processes_equals_one_process(tmp_path):
    import torch.multiprocessing as mp

    out = tmp_path / "ddp.pt"
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(out)), nprocs=2, join=True)
    single, tok = tiny_lm(seed=0)
    train(single, tok, ROWS, TrainConfig(beta=0.5, lr=3e-3, batch_size=4, max_steps=4), None, verbose=False)
    torch.testing.assert_close(torch.load(out, weights_only=True), _params(single), rtol=0, atol=1e-5)


def test_precomputed_reference_equals_a_frozen_reference_model_and_checkpointing_changes_nothing(tmp_path):
    base = TrainConfig(beta=0.5, lr=3e-3, batch_size=4, max_steps=3)
    runs = {}
    for name, kw in {"cached": {}, "ref_model": {"precompute_ref": False},
                     "grad_ckpt": {"gradient_checkpointing": True}}.items():
        model, tok = tiny_lm(seed=0)
        train(model, tok, ROWS, TrainConfig(**{**base.__dict__, **kw}), tmp_path / name, verbose=False)
        runs[name] = (_params(model), _metrics(tmp_path / name))
    for name in ("ref_model", "grad_ckpt"):
        torch.testing.assert_close(runs[name][0], runs["cached"][0], rtol=0, atol=1e-5)
        assert [m["loss"] for m in runs[name][1]] == pytest.approx([m["loss"] for m in runs["cached"][1]], abs=1e-5)
    assert not (tmp_path / "ref_model" / "ref_logprobs.safetensors").exists()
