"""Human labels from Parquet and datasets (issue 13, item 6), content keys, and the label-log checks."""

from __future__ import annotations

import json

import pytest

from duelbandit.errors import LabelError
from duelbandit.io.human import read_human_file
from duelbandit.types import Pool

POOL = Pool.from_lists(["What is 2+2?", "Capital of France?"], [["4", "5", "four"], ["Paris", "Lyon"]],
                       prompt_ids=["q1", "q2"])
ROWS = [{"pair_id": "q1:0-2", "winner": "a", "annotator": "ann1"},
        {"pair_id": "q2:0-1", "winner": "b", "annotator": "7"},
        {"pair_id": "q1:0-2", "winner": "tie", "annotator": ""}]


def test_labels_from_parquet_and_datasets_equal_the_jsonl_ones(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    datasets = pytest.importorskip("datasets")
    j = tmp_path / "h.jsonl"
    j.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "h.parquet")
    ds = datasets.Dataset.from_list(ROWS)
    ds.save_to_disk(str(tmp_path / "ds"))
    want = ([1, 3, 1], [1.0, 0.0, 0.5], ("ann1", "7", ""))
    for src in (j, tmp_path / "h.parquet", tmp_path / "ds", ds):
        got = read_human_file(src, POOL).labels
        assert (got.pairs.tolist(), got.y.tolist(), got.annotator) == want, src
    bad = [*ROWS, {"pair_id": "q9:0-1", "winner": "a"}]
    pq.write_table(pa.Table.from_pylist(bad), tmp_path / "bad.parquet")
    with pytest.raises(LabelError, match=r"bad\.parquet: row 4: unknown pair_id 'q9:0-1'"):
        read_human_file(tmp_path / "bad.parquet", POOL)


def test_content_keys_do_not_depend_on_the_path(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "sub").mkdir()
    b = tmp_path / "sub" / "b.jsonl"
    b.write_bytes(a.read_bytes())
    ka, kb = read_human_file(a, POOL).keys, read_human_file(b, POOL).keys
    assert ka == kb and len(set(ka)) == 3 and all(k.startswith("sha256:") for k in ka)
    b.write_text(b.read_text().replace('"winner": "a"', '"winner": "b"'))
    assert set(read_human_file(b, POOL).keys).isdisjoint(ka)
