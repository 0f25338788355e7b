"""`duelbandit realign` end to end on tiny models, and its bad-input messages."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")

from duelbandit.cli import main


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny models: 2 OpenMP threads on a shared 2-core machine run far slower than one
    torch = pytest.importorskip("torch")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory):
    from duelbandit.finetune.models import tiny_lm

    root = tmp_path_factory.mktemp("models")
    out = {}
    for name, seed in (("ref", 0), ("aligned", 1)):
        m, tok = tiny_lm(seed=seed)
        m.save_pretrained(root / name)
        tok.save_pretrained(root / name)
        out[name] = root / name
    m, tok = tiny_lm(seed=2)
    tok.add_tokens(["<extra>"])
    m.resize_token_embeddings(len(tok))
    m.save_pretrained(root / "other")
    tok.save_pretrained(root / "other")
    out["other"] = root / "other"
    return out


def test_realign_writes_sweep_and_plot(model_dirs, tmp_path):
    rc = main(["realign", "--aligned", str(model_dirs["aligned"]), "--reference", str(model_dirs["ref"]),
               "--prompts", "bundled:3", "--lambdas", "0,1,1.5", "--max-new-tokens", "4", "--out",
               str(tmp_path / "o"), "--quiet"])
    assert rc == 0
    rows = json.loads((tmp_path / "o" / "sweep.json").read_text())["rows"]
    assert [r["lambda"] for r in rows] == [0.0, 1.0, 1.5]
    assert rows[0]["kl_per_token"] < 1e-6 < rows[1]["kl_per_token"]
    assert (tmp_path / "o" / "reward_vs_kl.png").stat().st_size > 1000
    assert len((tmp_path / "o" / "samples.jsonl").read_text().splitlines()) == 9


def test_different_tokenizers_are_refused(model_dirs, tmp_path, capsys):
    rc = main(["realign", "--aligned", str(model_dirs["other"]), "--reference", str(model_dirs["ref"]),
               "--prompts", "bundled:2", "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "different tokenizers" in err and "--aligned" in err and "--reference" in err


def test_lambda_out_of_range(model_dirs, tmp_path, capsys):
    rc = main(["realign", "--aligned", "tiny", "--reference", "tiny", "--prompts", "bundled:2",
               "--lambdas", "0,-0.5", "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 2 and "lambdas[1] = -0.5" in capsys.readouterr().err


def test_empty_prompt_file(tmp_path, capsys):
    (tmp_path / "p.txt").write_text("\n  \n")
    rc = main(["realign", "--aligned", "tiny", "--reference", "tiny", "--prompts", str(tmp_path / "p.txt"),
               "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 2 and "holds no prompt" in capsys.readouterr().err
