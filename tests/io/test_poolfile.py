"""Pools from Parquet and Hugging Face datasets (issue 13, item 6): the same pool back, the same checks."""

from __future__ import annotations

import pytest

from duelbandit.errors import PoolError
from duelbandit.io import load_pool, pool_from_dataset, save_pool
from tests.test_io import TRICKY, same

pa = pytest.importorskip("pyarrow")  # the `formats` extra
pq = pytest.importorskip("pyarrow.parquet")
datasets = pytest.importorskip("datasets")


@pytest.mark.parametrize("schema", ["prompt", "response"])
def test_parquet_round_trip_is_exact(tmp_path, schema):
    path = save_pool(TRICKY, tmp_path / "pool.parquet", schema=schema)
    assert pq.read_table(path).num_rows == (4 if schema == "prompt" else TRICKY.n_responses)
    same(load_pool(path), TRICKY)


@pytest.mark.parametrize("schema", ["prompt", "response"])
def test_datasets_folder_and_in_memory_dataset_give_the_same_pool(tmp_path, schema):
    rows = [{"id": TRICKY.prompt_ids[n], "prompt": TRICKY.prompts[n], "responses": list(TRICKY.responses_of(n)),
             "skill": TRICKY.skills[n]} for n in range(TRICKY.n_prompts)]
    if schema == "response":
        rows = [{"prompt_id": r["id"], "prompt": r["prompt"], "response": x, "skill": r["skill"]}
                for r in rows for x in r["responses"]]
    ds = datasets.Dataset.from_list(rows)
    same(pool_from_dataset(ds), TRICKY)
    ds.save_to_disk(str(tmp_path / "ds"))
    same(load_pool(tmp_path / "ds"), TRICKY)


def test_parquet_and_datasets_rows_get_the_same_checks(tmp_path):
    bad = [{"prompt": "p", "responses": ["a", "b"]}, {"prompt": "q", "responses": ["only one"]}]
    pq.write_table(pa.Table.from_pylist(bad), tmp_path / "bad.parquet")
    with pytest.raises(PoolError, match=r"bad\.parquet:2: the prompt has 1 distinct response"):
        load_pool(tmp_path / "bad.parquet")
    with pytest.raises(PoolError, match=r"mine:2: the prompt has 1 distinct response"):
        pool_from_dataset(datasets.Dataset.from_list(bad), name="mine")
    with pytest.warns(UserWarning, match=r"mine:2: the prompt has 1 distinct"):
        assert pool_from_dataset(datasets.Dataset.from_list(bad), name="mine", on_error="skip").n_prompts == 1
    with pytest.raises(PoolError, match="DatasetDict"):
        pool_from_dataset(datasets.DatasetDict({"train": datasets.Dataset.from_list(bad)}))
