"""Outputs that never destroy an input (issue 13, item 2)."""

from __future__ import annotations

import os

import pytest

from duelbandit.errors import OutputError
from duelbandit.io.safety import check_outputs, same_file


def test_same_file_sees_through_symlinks_hard_links_and_dots(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text("x")
    (tmp_path / "s.jsonl").symlink_to(a)
    os.link(a, tmp_path / "h.jsonl")
    (tmp_path / "d").mkdir()
    for other in (tmp_path / "s.jsonl", tmp_path / "h.jsonl", tmp_path / "d" / ".." / "a.jsonl"):
        assert same_file(other, a)
    b = tmp_path / "b.jsonl"
    b.write_text("x")  # same content, another file
    assert not same_file(b, a) and not same_file(tmp_path / "new.jsonl", a)


def test_check_outputs(tmp_path):
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text("x")
    check_outputs({"--out": out}, {"--in": inp, "--tasks": None}, force=False)  # new file: fine
    with pytest.raises(OutputError, match=r"--out .*in\.jsonl: is the same file as --in"):
        check_outputs({"--out": inp}, {"--in": inp}, force=True)
    out.write_text("old")
    with pytest.raises(OutputError, match="exists; pass --force"):
        check_outputs({"--out": out}, {"--in": inp}, force=False)
    check_outputs({"--out": out}, {"--in": inp}, force=True)
    check_outputs({"--out": out}, {"--in": inp}, force=False, append=True)
    assert out.read_text() == "old"  # checks never write
    with pytest.raises(OutputError, match="is a folder"):
        check_outputs({"--out": tmp_path}, {"--in": inp}, force=True)
