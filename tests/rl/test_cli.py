"""``duelbandit rl`` end to end on a small chain."""

import json

import pytest

from duelbandit.cli import main
from duelbandit.errors import ConfigError
import itertools


def test_cli_writes_results_and_png(tmp_path, capsys):
    rc = main(["rl", "--env", "chain", "--agents", "randql,optql,ucbvi,psrl", "--episodes", "40",
               "--seeds", "2", "--horizon", "6", "--out", str(tmp_path), "--quiet"])
    assert rc == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert set(data["agents"]) == {"randql", "optql", "ucbvi", "psrl"}
    for curves in data["agents"].values():
        assert len(curves["cumulative_regret_mean"]) == 40
        assert len(curves["cumulative_regret_std"]) == 40
        assert len(curves["cumulative_realised_regret_mean"]) == 40
        m = curves["cumulative_regret_mean"]
        assert all(b >= a - 1e-9 for a, b in itertools.pairwise(m))  # cumulative: non-decreasing
    assert data["episodes"] == 40 and data["seeds"] == 2 and data["env"]["H"] == 6
    assert (tmp_path / "regret.png").stat().st_size > 1000


def test_cli_same_seed_same_curves(tmp_path):
    args = ["rl", "--env", "riverswim", "--agents", "randql", "--episodes", "20", "--seeds", "2", "--quiet"]
    main(args + ["--out", str(tmp_path / "a")])
    main(args + ["--out", str(tmp_path / "b")])
    a = json.loads((tmp_path / "a" / "results.json").read_text())["agents"]
    b = json.loads((tmp_path / "b" / "results.json").read_text())["agents"]
    for key in ("cumulative_regret_mean", "cumulative_regret_std", "cumulative_realised_regret_mean"):
        assert a["randql"][key] == b["randql"][key]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--env", "pong"], "expected one of"),
        (["--agents", "randql,dqn"], "unknown 'dqn'"),
        (["--episodes", "0"], "--episodes"),
    ],
)
def test_cli_bad_names_list_the_valid_ones(tmp_path, capsys, extra, message):
    rc = main(["rl", "--out", str(tmp_path), "--quiet"] + extra)
    assert rc == 2
    assert message in capsys.readouterr().err


def test_cli_run_raises_config_error_directly(tmp_path):
    import argparse

    from duelbandit.rl import cli

    p = argparse.ArgumentParser()
    cli.add_arguments(p)
    with pytest.raises(ConfigError):
        cli.run(p.parse_args(["--out", str(tmp_path), "--agents", "nope"]))
