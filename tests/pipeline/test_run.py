"""The pipeline's stage runner: skip on a matching fingerprint, resume an interrupted stage, wipe on change."""

from __future__ import annotations

import json

from duelbandit.pipeline.run import _Runner


def test_skip_resume_and_wipe(tmp_path):
    calls = []

    def fn(tag):
        def run(folder):
            calls.append(tag)
            seen = sorted(p.name for p in folder.iterdir())
            (folder / f"{tag}.txt").write_text(tag)
            return {"tag": tag, "seen": seen}
        return run

    R = _Runner(tmp_path, verbose=False)
    a = R.stage(1, "a", {"x": 1}, fn("first"))
    assert a["seen"] == ["inputs.json"] and calls == ["first"]
    # same inputs: skipped, the stored result is returned with the same fingerprint
    b = _Runner(tmp_path, verbose=False).stage(1, "a", {"x": 1}, fn("second"))
    assert calls == ["first"] and b["tag"] == "first" and b["_fp"] == a["_fp"]
    # killed mid-stage (inputs recorded, no marker): rerun in the same folder, partial outputs kept
    (tmp_path / "1_a" / "stage.json").unlink()
    c = _Runner(tmp_path, verbose=False).stage(1, "a", {"x": 1}, fn("resumed"))
    assert calls[-1] == "resumed" and "first.txt" in c["seen"]
    # other inputs: the folder is wiped and the stage reruns from scratch
    d = _Runner(tmp_path, verbose=False).stage(1, "a", {"x": 2}, fn("changed"))
    assert d["seen"] == ["inputs.json"] and d["_fp"] != a["_fp"]
    assert json.loads((tmp_path / "1_a" / "stage.json").read_text())["result"]["tag"] == "changed"
