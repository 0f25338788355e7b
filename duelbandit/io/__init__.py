"""Files in and out: pools, JSON lines written safely, label logs, and exports for annotation tools and
trainers. Every error names the file and line.

- :mod:`duelbandit.io.jsonl`: JSON lines and atomic JSON writes (fsync, torn-tail repair).
- :mod:`duelbandit.io.poolfile`: pool files (JSONL / CSV / Parquet / datasets, two schemas); the row checks in
  :mod:`duelbandit.io.poolrows`, the CSV / Parquet / datasets readers in :mod:`duelbandit.io.tables`.
- :mod:`duelbandit.io.safety`, :mod:`duelbandit.io.lock`: outputs that never destroy an input; one writer per
  state folder.
- :mod:`duelbandit.io.labels`: the label log (``labels.jsonl``) and human label files (ingest).
- :mod:`duelbandit.io.export`: annotation tasks (Label Studio, Argilla) and TRL preference pairs.
"""

from duelbandit.io.jsonl import append_jsonl as append_jsonl
from duelbandit.io.jsonl import dumps as dumps
from duelbandit.io.jsonl import read_jsonl as read_jsonl
from duelbandit.io.jsonl import repair_torn_tail as repair_torn_tail
from duelbandit.io.jsonl import write_bytes_atomic as write_bytes_atomic
from duelbandit.io.jsonl import write_json_atomic as write_json_atomic
from duelbandit.io.jsonl import write_text_atomic as write_text_atomic
from duelbandit.io.poolfile import default_prompt_id as default_prompt_id
from duelbandit.io.poolfile import load_pool as load_pool
from duelbandit.io.poolfile import open_pool as open_pool
from duelbandit.io.poolfile import pool_from_dataset as pool_from_dataset
from duelbandit.io.poolfile import save_pool as save_pool

__all__ = [
    "append_jsonl",
    "default_prompt_id",
    "dumps",
    "load_pool",
    "open_pool",
    "pool_from_dataset",
    "read_jsonl",
    "repair_torn_tail",
    "save_pool",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_text_atomic",
]
