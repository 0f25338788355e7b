"""The Ray Data path (one local Ray, 2 CPUs): feature shards + manifest equal the single-process features
row for row, for JSONL and Parquet pool shards, and carry the pool's fingerprint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from duelbandit.embed import TransformerEmbedder
from duelbandit.embed.files import load_features
from duelbandit.errors import FeatureError
from duelbandit.io import load_pool

ROWS = [{"prompt": f"Question {n}: what is {n} + {n % 7}?",
         "responses": [f"{n + n % 7}", f"It is {n + n % 7 + 1}.", f"{'long answer ' * (n % 9)}done"][: 2 + n % 2]}
        for n in range(45)]


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")  # the scale extra; installed by `make test`
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_equals_local_row_for_row(ray_local, tiny_model, tmp_path):
    from duelbandit.embed.scale import embed_with_ray

    # JSONL shards, no ids (load_pool gives the default ids, and the manifest's fingerprint must agree)
    shards = tmp_path / "jsonl"
    shards.mkdir()
    for k, part in enumerate((ROWS[:20], ROWS[20:33], ROWS[33:])):
        (shards / f"pool-{k}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    (tmp_path / "all.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    pool = load_pool(tmp_path / "all.jsonl")

    emb = TransformerEmbedder(str(tiny_model), mode="interaction", device="cpu", cache=None)
    local = emb.embed(pool)
    embed_with_ray(shards, tmp_path / "out", emb, batch_prompts=8, shard_rows=40, verbose=False)
    man = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert man["rows"] == pool.n_responses and len(man["shards"]) == -(-pool.n_responses // 40)
    assert man["pool_fingerprint"] == pool.fingerprint()
    remote = load_features(tmp_path / "out", pool)  # refuses another pool's rows
    np.testing.assert_allclose(remote.X, local.X, atol=1e-6)
    assert remote.config["mode"] == "interaction" and remote.config["weights_sha256"] == local.config["weights_sha256"]

    # Parquet shards with ids, PCA applied at load time over all rows as the local path does
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq_dir = tmp_path / "parquet"
    pq_dir.mkdir()
    for k, part in enumerate((ROWS[:25], ROWS[25:])):
        ids = [f"q{n}" for n in range(25 * k, 25 * k + len(part))]
        pq.write_table(pa.table({"id": ids, "prompt": [r["prompt"] for r in part],
                                 "responses": [r["responses"] for r in part]}), pq_dir / f"pool-{k}.parquet")
    pool_ids = load_pool(_with_ids(tmp_path))
    emb_pca = TransformerEmbedder(str(tiny_model), mode="joint", dim=6, device="cpu", cache=None)
    embed_with_ray(pq_dir, tmp_path / "out_pq", emb_pca, batch_prompts=16, actors=1, verbose=False)
    np.testing.assert_allclose(np.abs(load_features(tmp_path / "out_pq", pool_ids).X),
                               np.abs(emb_pca.embed(pool_ids).X), atol=1e-5)


def _with_ids(tmp_path):
    path = tmp_path / "ids.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{n}", **r}) + "\n" for n, r in enumerate(ROWS)))
    return path


def test_bad_shard_inputs(tmp_path):
    from duelbandit.embed.scale import shard_files

    with pytest.raises(FeatureError, match="neither a file"):
        shard_files(tmp_path / "missing")
    (tmp_path / "a.csv").write_text("x\n")
    with pytest.raises(FeatureError, match="Parquet or JSONL"):
        shard_files([tmp_path / "a.csv"])
