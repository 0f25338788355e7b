"""Online IPO / IPO-MD / Nash-MD trainer modes on the tiny LM."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from duelbandit.errors import OnlineError  # noqa: E402
from duelbandit.finetune.models import tiny_lm  # noqa: E402
from duelbandit.finetune.online_lm import OnlineConfig, train_online  # noqa: E402
from duelbandit.finetune.preference import CallablePreference, OnlineLabelLog  # noqa: E402

PROMPTS = ["What is 2 + 3?", "Name a colour.", "Capital of France?"]


def shorter(x, y, y2):
    return 1.0 if len(y) < len(y2) else 0.0 if len(y) > len(y2) else 0.5


def first_char(text: str) -> int:
    return ord(text[0]) if text else 0x110000


def lower_first_char(x, y, y2):
    """Prefers the completion that starts with the smaller code point (ties: 1/2)."""
    a, b = first_char(y), first_char(y2)
    return 1.0 if a < b else 0.0 if a > b else 0.5


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny models: 2 OpenMP threads on a shared 2-core machine run ~10x slower than one
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def params(m):
    return torch.cat([p.detach().flatten() for p in m.parameters()])


def test_ipo_md_beta_zero_equals_online_ipo_step_for_step():
    runs = []
    for mode in ("online_ipo", "ipo_md"):
        m, tok = tiny_lm(seed=0)
        cfg = OnlineConfig(mode=mode, beta=0.0, lr=1e-3, steps=3, prompts_per_step=2, max_new_tokens=5)
        train_online(m, tok, PROMPTS, CallablePreference(shorter), cfg, None, verbose=False)
        runs.append(params(m))
    assert torch.equal(runs[0], runs[1])
    m0, _ = tiny_lm(seed=0)
    assert not torch.equal(runs[0], params(m0))  # and training did move the weights


@pytest.mark.parametrize("mode", ["online_ipo", "ipo_md", "nash_md"])
def test_online_training_follows_the_preference(mode, tmp_path):
    """P prefers completions starting with a smaller code point: after training, the policy's completions beat
    the reference's under P (win rate above 1/2 by > 4 standard errors over 300 independent pairs)."""
    m, tok = tiny_lm(seed=0)
    ref, _ = tiny_lm(seed=0)
    cfg = OnlineConfig(mode=mode, tau=0.1, beta=0.5, lr=2e-2, steps=30, prompts_per_step=8, max_new_tokens=1)
    train_online(m, tok, PROMPTS, CallablePreference(lower_first_char), cfg, tmp_path / mode, reference=ref,
                 verbose=False)

    from duelbandit.finetune.sampling import generate_mixture

    texts = [generate_mixture(model, None, tok, PROMPTS * 100, max_new_tokens=1, batch_size=300,
                              generator=torch.Generator().manual_seed(seed))[0] for model, seed in ((m, 9), (ref, 10))]
    wins = np.array([lower_first_char(x, a, b) for x, a, b in zip(PROMPTS * 100, *texts)])
    se = wins.std(ddof=1) / np.sqrt(len(wins))
    assert wins.mean() - 0.5 > 4 * se, (wins.mean(), se)
    rows = OnlineLabelLog(tmp_path / mode / "labels.jsonl").rows()
    assert len(rows) == 30 * 8 and (tmp_path / mode / "final" / "config.json").is_file()


def test_resume_reuses_logged_labels_and_matches_an_uninterrupted_run(tmp_path):
    cfg = OnlineConfig(lr=1e-3, steps=4, prompts_per_step=2, max_new_tokens=4, save_every=2)
    m1, tok = tiny_lm(seed=0)
    train_online(m1, tok, PROMPTS, CallablePreference(lambda *a: 0.7), cfg, tmp_path / "a", verbose=False)
    # interrupted after step 2 (checkpoint) with labels of step 2 already logged, then resumed
    m2, _ = tiny_lm(seed=0)
    short = OnlineConfig(**{**cfg.__dict__, "steps": 3})
    train_online(m2, tok, PROMPTS, CallablePreference(lambda *a: 0.7), short, tmp_path / "b", verbose=False)
    m3, _ = tiny_lm(seed=0)
    calls = []
    train_online(m3, tok, PROMPTS, CallablePreference(lambda *a: calls.append(1) or 0.7), cfg, tmp_path / "b",
                 verbose=False)
    assert torch.allclose(params(m1), params(m3), atol=1e-6)
    assert len(calls) == 2  # only step 4's labels were asked; step 3's came from the log
    a = OnlineLabelLog(tmp_path / "a" / "labels.jsonl").rows()
    b = OnlineLabelLog(tmp_path / "b" / "labels.jsonl").rows()
    assert [(r["a"], r["b"], r["y"]) for r in a] == [(r["a"], r["b"], r["y"]) for r in b]


def test_bad_config():
    m, tok = tiny_lm(seed=0)
    with pytest.raises(OnlineError, match="mode"):
        train_online(m, tok, PROMPTS, CallablePreference(shorter), OnlineConfig(mode="ppo"), None)
    with pytest.raises(OnlineError, match="beta"):
        train_online(m, tok, PROMPTS, CallablePreference(shorter), OnlineConfig(mode="ipo_md", beta=2.0), None)


def test_resume_after_a_kill_mid_step_asks_only_the_missing_labels(tmp_path):
    cfg = OnlineConfig(lr=1e-3, steps=2, prompts_per_step=3, max_new_tokens=3)
    m1, tok = tiny_lm(seed=0)
    train_online(m1, tok, PROMPTS, CallablePreference(lambda *a: 0.6), cfg, tmp_path / "a", verbose=False)
    full = (tmp_path / "a" / "labels.jsonl").read_text().splitlines()
    (tmp_path / "b").mkdir()
    # killed during step 0: two of its three labels reached the log, no checkpoint yet
    (tmp_path / "b" / "labels.jsonl").write_text("\n".join(full[:2]) + "\n")
    calls = []
    m2, _ = tiny_lm(seed=0)
    train_online(m2, tok, PROMPTS, CallablePreference(lambda *a: calls.append(1) or 0.6), cfg, tmp_path / "b",
                 verbose=False)
    assert len(calls) == 1 + 3
    assert (tmp_path / "b" / "labels.jsonl").read_text().splitlines() == full
    assert torch.allclose(params(m1), params(m2), atol=1e-6)
