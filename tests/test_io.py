"""Pool files (JSONL/CSV, both schemas), their validation messages, and the safe JSON writers."""

from __future__ import annotations

import hashlib
import json
import os
import warnings

import numpy as np
import pytest

from duelbandit.errors import DuelbanditError, LabelError, PoolError
from duelbandit.io import append_jsonl, load_pool, read_jsonl, save_pool, write_json_atomic
from duelbandit.types import Pool

TRICKY = Pool.from_lists(
    ["What is 2 + 2?", 'Say "hi", then\nstop.', "  padded prompt  ", "ünïcödé \u2028 separator"],
    [
        ["4", "four", " 4 apples"],
        ["hi", 'he said "hi", ok', "line1\r\nline2"],
        ["a,b", "[1, 2]", "{}"],
        ["x", "y\u2028z"],
    ],
    prompt_ids=["q1", "007", "q 3", "q4"],
    skills=["math", "chat", "misc", "misc"],
    name="tricky",
)


def same(a: Pool, b: Pool) -> None:
    assert a.prompt_ids == b.prompt_ids
    assert a.prompts == b.prompts
    assert a.responses == b.responses
    np.testing.assert_array_equal(a.offsets, b.offsets)
    assert a.skills == b.skills
    assert a.fingerprint() == b.fingerprint()


def write(tmp_path, name: str, text: str):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8", newline="")
    return p


def jl(*rows) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows)


# round trips -------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["jsonl", "csv", "json", "ndjson"])
@pytest.mark.parametrize("schema", ["prompt", "response"])
def test_round_trip_exact(tmp_path, ext, schema):
    path = save_pool(TRICKY, tmp_path / f"pool.{ext}", schema=schema)
    same(load_pool(path), TRICKY)


@pytest.mark.parametrize("ext", ["jsonl", "csv"])
def test_round_trip_without_skills(tmp_path, ext):
    pool = Pool.from_lists(["p", "q"], [["a", "b"], ["c", "d", "e"]])
    back = load_pool(save_pool(pool, tmp_path / f"p.{ext}"))
    same(back, pool)
    assert back.skills is None


def test_save_is_atomic_and_leaves_no_temp_file(tmp_path):
    save_pool(TRICKY, tmp_path / "p.jsonl")
    save_pool(TRICKY, tmp_path / "p.jsonl")  # overwrite
    assert sorted(os.listdir(tmp_path)) == ["p.jsonl"]


def test_save_refuses_a_pool_that_would_not_load(tmp_path):
    bad = Pool.from_lists(["p"], [["a", "   "]], prompt_ids=["x"])
    with pytest.raises(PoolError, match=r"'x'.*responses\[1\].*empty"):
        save_pool(bad, tmp_path / "bad.jsonl")
    assert not (tmp_path / "bad.jsonl").exists()


# reading: schemas, order, ids ---------------------------------------------------------------------


def test_response_schema_groups_noncontiguous_rows_in_first_appearance_order(tmp_path):
    rows = [
        {"prompt_id": "b", "prompt": "B?", "response": "b1", "skill": "s"},
        {"prompt_id": 7, "prompt": "A?", "response": "a1"},
        {"prompt_id": "b", "prompt": "B?", "response": "b2"},
        {"prompt_id": 7, "prompt": "A?", "response": "a2", "skill": "t"},
        {"prompt_id": "b", "prompt": "B?", "response": "b3", "extra": [1, 2]},
    ]
    pool = load_pool(write(tmp_path, "r.jsonl", jl(*rows)))
    assert pool.prompt_ids == ("b", "7")
    assert pool.responses == ("b1", "b2", "b3", "a1", "a2")
    assert pool.skills == ("s", "t")
    assert pool.name.endswith("r.jsonl")


def test_csv_prompt_schema_with_json_encoded_list(tmp_path):
    text = 'prompt,responses,id\r\nHi?,"[""yes"", ""no""]",\r\n"Multi\nline?","[""a"", ""b, c""]",x9\r\n'
    pool = load_pool(write(tmp_path, "p.csv", text))
    assert pool.prompts == ("Hi?", "Multi\nline?")
    assert pool.responses == ("yes", "no", "a", "b, c")
    assert pool.prompt_ids[1] == "x9"


def test_default_ids_hash_the_prompt_text_and_number_repeats(tmp_path):
    rows = [
        {"prompt": "A?", "responses": ["1", "2"]},
        {"prompt": "B?", "responses": ["1", "2"]},
        {"prompt": "A?", "responses": ["3", "4"]},
    ]
    pool = load_pool(write(tmp_path, "p.jsonl", jl(*rows)))
    h = {t: "h" + hashlib.sha256(t.encode()).hexdigest()[:12] for t in ("A?", "B?")}
    assert pool.prompt_ids == (h["A?"], h["B?"], h["A?"] + "-2")
    # reordering the file does not change an id
    again = load_pool(write(tmp_path, "q.jsonl", jl(rows[1], rows[0])))
    assert again.prompt_ids == (h["B?"], h["A?"])


def test_blank_lines_are_ignored_but_counted(tmp_path):
    text = (
        "\n"
        + jl({"prompt": "A", "responses": ["1", "2"]})
        + "   \n\n"
        + '{"prompt": "B", "responses": ["1"]}\n'
    )
    with pytest.raises(PoolError, match=r"p\.jsonl:5: .*1 distinct response"):
        load_pool(write(tmp_path, "p.jsonl", text))


# validation: every error names file:line and the field ---------------------------------------------

GOOD = {"prompt": "ok?", "responses": ["a", "b"]}
BAD_JSONL = [
    ("malformed", jl(GOOD, '{"prompt": "x", "responses": ["a", "b"'), 2, "malformed JSON"),
    ("not object", jl(GOOD, "[1, 2]"), 2, "expected a JSON object"),
    (
        "duplicate key",
        jl('{"prompt": "a", "prompt": "b", "responses": ["a", "b"]}'),
        1,
        "duplicate key 'prompt'",
    ),
    ("mixed schemas", jl(GOOD, {"prompt": "x", "response": "r"}), 2, "one schema throughout"),
    (
        "mixed schemas 2",
        jl({"prompt_id": 1, "prompt": "x", "response": "r"}, GOOD),
        2,
        "one schema throughout",
    ),
    ("both keys", jl({"prompt": "x", "response": "r", "responses": ["a", "b"]}), 1, "both fields"),
    ("missing prompt", jl(GOOD, {"responses": ["a", "b"]}), 2, "missing field 'prompt'"),
    ("missing responses field", jl(GOOD, {"prompt": "x"}), 2, "missing field 'responses'"),
    ("responses not list", jl({"prompt": "x", "responses": "a, b"}), 1, "field 'responses': expected a list"),
    (
        "response wrong type",
        jl({"prompt": "x", "responses": ["a", 3]}),
        1,
        "'responses[1]': expected a string",
    ),
    (
        "prompt wrong type",
        jl({"prompt": 5, "responses": ["a", "b"]}),
        1,
        "'prompt': expected a string, got int",
    ),
    ("prompt null", jl(GOOD, {"prompt": None, "responses": ["a", "b"]}), 2, "'prompt' is null"),
    ("empty prompt", jl({"prompt": "", "responses": ["a", "b"]}), 1, "'prompt' is empty"),
    (
        "blank response",
        jl({"prompt": "x", "responses": ["a", " \t"]}),
        1,
        "'responses[1]' is empty or whitespace",
    ),
    (
        "one response",
        jl(GOOD, GOOD | {"prompt": "y", "responses": ["a"]}),
        2,
        "1 distinct response(s); need at least 2",
    ),
    (
        "duplicate id",
        jl(GOOD | {"id": "a"}, GOOD, GOOD | {"id": "a"}),
        3,
        "duplicate id 'a' (first at line 1)",
    ),
    (
        "identical responses",
        jl({"prompt": "x", "responses": ["a", "b", " a"]}),
        1,
        "responses[2] repeats responses[0]",
    ),
    ("NaN", '{"prompt": "x", "responses": ["a", NaN]}\n', 1, "'responses[1]' is NaN"),
    (
        "nan marker",
        jl({"prompt": "x", "responses": ["a", "NaN"]}),
        1,
        "'responses[1]' is 'NaN', a missing-value",
    ),
    (
        "null marker",
        jl({"prompt": "null", "responses": ["a", "b"]}),
        1,
        "'prompt' is 'null', a missing-value",
    ),
    (
        "bool id",
        jl({"id": True, "prompt": "x", "responses": ["a", "b"]}),
        1,
        "'id': expected a string or integer",
    ),
    (
        "float id",
        jl({"id": 1.5, "prompt": "x", "responses": ["a", "b"]}),
        1,
        "'id': expected a string or integer",
    ),
    ("skill type", jl({"prompt": "x", "responses": ["a", "b"], "skill": 3}), 1, "'skill': expected a string"),
    ("no schema", jl({"question": "x"}), 1, "cannot tell the schema"),
    ("response schema missing id", jl({"prompt": "x", "response": "a"}), 1, "missing field 'prompt_id'"),
    (
        "response schema text differs",
        jl(
            {"prompt_id": 1, "prompt": "x", "response": "a"}, {"prompt_id": 1, "prompt": "y", "response": "b"}
        ),
        2,
        "field 'prompt' differs from line 1 for prompt_id '1'",
    ),
    (
        "response schema skill differs",
        jl(
            {"prompt_id": 1, "prompt": "x", "response": "a", "skill": "s"},
            {"prompt_id": 1, "prompt": "x", "response": "b", "skill": "t"},
        ),
        2,
        "field 'skill' is 't' but line 1",
    ),
    (
        "response schema one response",
        jl(
            {"prompt_id": 1, "prompt": "x", "response": "a"},
            {"prompt_id": 2, "prompt": "y", "response": "b"},
            {"prompt_id": 1, "prompt": "x", "response": "c"},
        ),
        2,
        "prompt_id '2' has 1 distinct",
    ),
    (
        "response schema duplicate",
        jl(
            {"prompt_id": 1, "prompt": "x", "response": "a"}, {"prompt_id": 1, "prompt": "x", "response": "a"}
        ),
        2,
        "field 'response' repeats line 1",
    ),
]


@pytest.mark.parametrize("case", BAD_JSONL, ids=[c[0] for c in BAD_JSONL])
def test_jsonl_errors_name_file_line_and_field(tmp_path, case):
    _, text, line, what = case
    path = write(tmp_path, "bad.jsonl", text)
    with pytest.raises(PoolError) as info:
        load_pool(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}:{line}: "), msg
    assert what in msg, msg


BAD_CSV = [
    (
        "cells",
        'prompt,responses\r\nx,"[""a"", ""b""]",extra\r\n',
        2,
        "the row has 3 cells; the header (line 1) has 2",
    ),
    ("not json", "prompt,responses\r\nx,a;b\r\n", 2, "'responses': expected a JSON-encoded list"),
    ("missing column", "prompt_id,response\r\n1,a\r\n", 1, "missing column 'prompt'"),
    ("duplicate column", "prompt,prompt,responses\r\n", 1, "duplicate column 'prompt'"),
    ("empty prompt", 'prompt,responses\r\n"  ","[""a"", ""b""]"\r\n', 2, "'prompt' is empty"),
    ("multi-line row", 'prompt,responses\r\n"two\nlines","[""a""]"\r\n', 2, "1 distinct response"),
    (
        "after multi-line",
        'prompt,responses\r\n"two\nlines","[""a"", ""b""]"\r\n,"[""a"", ""b""]"\r\n',
        4,
        "'prompt' is empty",
    ),
]


@pytest.mark.parametrize("case", BAD_CSV, ids=[c[0] for c in BAD_CSV])
def test_csv_errors_name_file_line_and_field(tmp_path, case):
    _, text, line, what = case
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(PoolError) as info:
        load_pool(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)
    assert what in str(info.value)


@pytest.mark.parametrize(
    "name,text,what",
    [
        ("empty.jsonl", "", "empty file"),
        ("blank.jsonl", "\n  \n", "empty file"),
        ("empty.csv", "", "empty file"),
        ("header.csv", "prompt,responses\r\n", "no data rows"),
        ("pool.txt", "x", "unknown extension '.txt'"),
        ("missing.jsonl", None, "no such file"),
    ],
)
def test_file_level_errors_name_the_file(tmp_path, name, text, what):
    path = tmp_path / name if text is None else write(tmp_path, name, text)
    with pytest.raises(PoolError, match=what) as info:
        load_pool(path)
    assert str(path) in str(info.value)


def test_bad_utf8_names_the_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(jl(GOOD).encode() + b'{"prompt": "\xff", "responses": ["a", "b"]}\n')
    with pytest.raises(PoolError, match=r"p\.jsonl:2: not valid UTF-8"):
        load_pool(path)


def test_on_error_is_validated(tmp_path):
    with pytest.raises(PoolError, match="on_error"):
        load_pool(write(tmp_path, "p.jsonl", jl(GOOD)), on_error="ignore")


# skip mode --------------------------------------------------------------------------------------


def test_skip_mode_warns_per_bad_prompt_and_keeps_the_good_ones(tmp_path):
    text = jl(
        {"id": "g1", "prompt": "good", "responses": ["a", "b"]},
        "{broken",
        {"id": "e", "prompt": "  ", "responses": ["a", "b"]},
        {"id": "g2", "prompt": "good 2", "responses": ["a", "b", "a"]},
        {"id": "g1", "prompt": "dup id", "responses": ["a", "b"]},
        {"id": "one", "prompt": "x", "responses": ["a"]},
    )
    path = write(tmp_path, "messy.jsonl", text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pool = load_pool(path, on_error="skip")
    assert pool.prompt_ids == ("g1", "g2")
    assert pool.responses_of(1) == ("a", "b")  # repeated "a" deduplicated, first copy kept
    msgs = [str(w.message) for w in caught]
    for line in (2, 3, 4, 5, 6):
        assert any(m.startswith(f"{path}:{line}: ") for m in msgs), (line, msgs)
    assert all(w.filename == __file__ for w in caught)  # attributed to the caller's line


def test_skip_mode_drops_a_whole_response_schema_prompt(tmp_path):
    text = jl(
        {"prompt_id": 1, "prompt": "x", "response": "a"},
        {"prompt_id": 1, "prompt": "x", "response": ""},
        {"prompt_id": 2, "prompt": "y", "response": "a"},
        {"prompt_id": 1, "prompt": "x", "response": "b"},
        {"prompt_id": 2, "prompt": "y", "response": "b"},
    )
    with pytest.warns(UserWarning, match=r"r\.jsonl:2: .*skipped prompt '1'"):
        pool = load_pool(write(tmp_path, "r.jsonl", text), on_error="skip")
    assert pool.prompt_ids == ("2",)


def test_skip_mode_still_fails_when_nothing_is_left(tmp_path):
    path = write(tmp_path, "p.jsonl", jl({"prompt": "x", "responses": ["a"]}, "nope"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(PoolError, match=r"p\.jsonl: no valid prompt left \(2 skipped"):
            load_pool(path, on_error="skip")


# JSONL helpers and atomic writes ---------------------------------------------------------------------


def test_read_jsonl_lines_and_error_type(tmp_path):
    path = write(tmp_path, "log.jsonl", jl({"a": 1}) + "\n" + jl({"b": [1.5]}))
    assert list(read_jsonl(path)) == [(1, {"a": 1}), (3, {"b": [1.5]})]
    write(tmp_path, "bad.jsonl", jl({"a": 1}) + '{"y": [0, Infinity]}\n')
    with pytest.raises(LabelError, match=r"bad\.jsonl:2: field 'y\[1\]': NaN/Infinity"):
        list(read_jsonl(tmp_path / "bad.jsonl", error=LabelError))


def test_torn_tail_is_an_error_unless_allowed(tmp_path):
    path = write(tmp_path, "log.jsonl", jl({"a": 1}) + '{"a": ')
    with pytest.raises(PoolError, match=r"log\.jsonl:2: malformed"):
        list(read_jsonl(path))
    with pytest.warns(UserWarning, match="incomplete last line"):
        assert list(read_jsonl(path, allow_torn_tail=True)) == [(1, {"a": 1})]
    # a malformed line followed by a newline is not a torn tail
    write(tmp_path, "mid.jsonl", '{"a": \n' + jl({"a": 1}))
    with pytest.raises(PoolError, match=r"mid\.jsonl:1:"):
        list(read_jsonl(tmp_path / "mid.jsonl", allow_torn_tail=True))


def test_append_jsonl_appends_fsyncs_and_repairs_a_torn_tail(tmp_path, monkeypatch):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    path = tmp_path / "sub" / "labels.jsonl"
    assert append_jsonl(path, [{"pair": 1, "y": 1.0}, {"pair": 2, "y": np.float64(0.0)}]) == 2
    assert append_jsonl(path, [{"pair": np.int64(3), "y": 1}]) == 1
    assert synced
    assert list(read_jsonl(path)) == [
        (1, {"pair": 1, "y": 1.0}),
        (2, {"pair": 2, "y": 0.0}),
        (3, {"pair": 3, "y": 1}),
    ]
    with open(path, "ab") as f:
        f.write(b'{"pair": 4, "y"')  # a killed writer
    with pytest.warns(UserWarning, match="incomplete last line"):
        append_jsonl(path, [{"pair": 4, "y": 0}])
    assert [r["pair"] for _, r in read_jsonl(path)] == [1, 2, 3, 4]


def test_append_jsonl_refuses_nan_and_leaves_the_file_untouched(tmp_path):
    path = tmp_path / "labels.jsonl"
    append_jsonl(path, [{"y": 1}])
    before = path.read_bytes()
    with pytest.raises(DuelbanditError, match="labels.jsonl"):
        append_jsonl(path, [{"y": 0}, {"y": float("nan")}])
    assert path.read_bytes() == before


def test_write_json_atomic(tmp_path, monkeypatch):
    path = tmp_path / "out" / "meta.json"
    write_json_atomic(path, {"w": np.arange(3), "s": np.float32(0.5), "n": np.int64(2)})
    assert json.loads(path.read_text()) == {"w": [0, 1, 2], "s": 0.5, "n": 2}
    with pytest.raises(DuelbanditError, match=r"meta\.json: .*'cert\.logdet' is NaN or infinite"):
        write_json_atomic(path, {"cert": {"iterations": 3, "logdet": -np.inf}})
    with pytest.raises(DuelbanditError, match=r"'w\[2\]' is NaN"):
        write_json_atomic(path, {"w": np.array([0.0, 1.0, np.nan])})

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_json_atomic(path, {"new": 1})
    assert json.loads(path.read_text())["n"] == 2  # the old file survives a failed write
    assert sorted(os.listdir(path.parent)) == ["meta.json"]  # and no temp file is left behind
