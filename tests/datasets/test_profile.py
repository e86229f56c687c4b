"""Dataset profiles: presence and types per field over every row, one example row, malformed rows, the cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evaldsl import api
from evaldsl.datasets import profile as profile_module
from evaldsl.datasets.profile import MAX_BAD_ROWS, ProfileCache, profile_file, profile_rows
from evaldsl.datasets.reader import DatasetError

ROWS = [
    {"question": "a", "answer": "x", "aliases": ["y"]},
    {"question": "b", "answer": 2, "aliases": None},
    {"question": "c", "answer": 2.5},
    {"question": "d", "answer": True, "meta": {"k": 1}},
]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_presence_types_and_example(tmp_path: Path) -> None:
    profile = profile_file(write_jsonl(tmp_path / "d.jsonl", ROWS), "jsonl")
    assert profile.rows == 4 and profile.example == ROWS[0]
    assert profile.names() == ["question", "answer", "aliases", "meta"]
    assert profile.presence("question") == "all"
    assert profile.presence("aliases") == "some" and profile.presence("nothing") == "none"
    answer = profile.field("answer")
    assert answer is not None and dict(answer.types) == {"str": 1, "int": 1, "float": 1, "bool": 1}
    aliases = profile.field("aliases")
    assert aliases is not None and (aliases.present, aliases.missing) == (2, 2)
    assert dict(aliases.types) == {"list": 1, "null": 1}
    assert aliases.describe() == "list in 1 row, null in 1 row (missing from 2 of 4 rows)"
    question = profile.field("question")
    assert question is not None and question.describe() == "str in all 4 rows"
    assert profile.field("meta") is not None and dict(profile.field("meta").types) == {"dict": 1}  # type: ignore[union-attr]


def test_inline_rows_give_the_same_profile(tmp_path: Path) -> None:
    from_file = profile_file(write_jsonl(tmp_path / "d.jsonl", ROWS), "jsonl")
    assert profile_rows(ROWS) == from_file


def test_many_row_shapes_are_folded_without_losing_counts(tmp_path: Path) -> None:
    rows = [{"id": i, f"only_{i}": i} for i in range(profile_module._MAX_SHAPES * 2 + 7)]
    profile = profile_file(write_jsonl(tmp_path / "d.jsonl", rows), "jsonl")
    assert profile.rows == len(rows)
    assert profile.field("id") is not None and profile.field("id").present == len(rows)  # type: ignore[union-attr]
    assert profile.presence("only_0") == "some" and len(profile.names()) == len(rows) + 1


def test_malformed_rows_are_counted_with_their_lines(tmp_path: Path) -> None:
    lines = ['{"a": 1}', "{oops", "", "[1, 2]", '"text"', *(["nope"] * 10), '{"a": 2}']
    path = tmp_path / "d.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b'{"a": "\xff"}\n')
    profile = profile_file(path, "jsonl")
    assert profile.rows == 2 and profile.bad_count == 14  # the blank line is skipped; the last is not UTF-8
    assert [b.line for b in profile.bad_rows] == [2, 4, 5, 6, 7][:MAX_BAD_ROWS]
    assert "not valid JSON" in profile.bad_rows[0].message
    assert profile.bad_rows[1].message == "each line must be a JSON object, got a list"


def test_csv_profile_and_bad_records(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('q,a\n1,2\n"multi\nline",3\n4\n5,6,7\n\n8,9\n', encoding="utf-8")
    profile = profile_file(path, "csv")
    assert profile.rows == 3 and profile.example == {"q": "1", "a": "2"}
    assert [(b.line, b.message) for b in profile.bad_rows] == [
        (5, "1 column where the header has 2 (too few)"),
        (6, "3 columns where the header has 2 (too many)"),
    ]
    assert profile.field("q") is not None and dict(profile.field("q").types) == {"str": 3}  # type: ignore[union-attr]


def test_tsv_and_json(tmp_path: Path) -> None:
    (tmp_path / "d.tsv").write_text("q\ta\nx\ty\n", encoding="utf-8")
    assert profile_file(tmp_path / "d.tsv", "tsv").names() == ["q", "a"]
    (tmp_path / "d.json").write_text(json.dumps({"data": [{"q": 1}, 3]}), encoding="utf-8")
    profile = profile_file(tmp_path / "d.json", "json")
    assert profile.rows == 1 and profile.bad_rows[0].line == 2
    (tmp_path / "bad.json").write_text('[{"q": 1},\n {"q": }]', encoding="utf-8")
    with pytest.raises(DatasetError, match=r"bad\.json:2: not valid JSON"):
        profile_file(tmp_path / "bad.json", "json")


def test_parquet_profile_from_columns(tmp_path: Path) -> None:
    table = pa.table({"q": ["a", None, "c"], "n": [1, 2, 3], "xs": [[1], [2, 3], None]})
    pq.write_table(table, tmp_path / "d.parquet")
    profile = profile_file(tmp_path / "d.parquet", "parquet")
    assert profile.rows == 3 and profile.example == {"q": "a", "n": 1, "xs": [1]}
    assert dict(profile.fields["q"].types) == {"str": 2, "null": 1}
    assert dict(profile.fields["n"].types) == {"int": 3}
    assert dict(profile.fields["xs"].types) == {"list": 2, "null": 1}
    assert all(f.presence == "all" for f in profile.fields.values())


def test_the_cache_reads_a_file_once_until_it_changes(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", ROWS)
    cache = ProfileCache()
    first = cache.get(path, "jsonl")
    assert cache.get(path, "jsonl") is first
    write_jsonl(path, ROWS[:2])
    os.utime(path, ns=(1, 1))  # a different modification time, whatever the clock's resolution
    assert cache.get(path, "jsonl").rows == 2
    with pytest.raises(DatasetError):
        cache.get(tmp_path / "missing.jsonl", "jsonl")


def test_a_check_reads_each_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_jsonl(tmp_path / "data.jsonl", [{"question": "q", "answer": "a"}] * 5)
    calls: list[Path] = []
    real = profile_module.profile_file

    def counting(path: Path, fmt: str) -> profile_module.DatasetProfile:
        calls.append(path)
        return real(path, fmt)

    monkeypatch.setattr(profile_module, "profile_file", counting)
    evals = "\n".join(
        f'eval e{i} {{ dataset = {ds}, prompt = "{{{{ question }}}}", models = [dry], target = "{{{{ answer }}}}",'
        " metrics = [f1] }"
        for i, ds in enumerate(["one", "two", "one"])
    )
    spec = tmp_path / "spec.eval"
    spec.write_text(
        'dataset one { path = "data.jsonl" }\ndataset two { path = "data.jsonl", limit = 2 }\n'
        'model dry { provider = "mock" }\n' + evals,
        encoding="utf-8",
    )
    result = api.check(spec)
    assert result.ok, [d.message for d in result.diagnostics]
    assert calls == [tmp_path / "data.jsonl"]


def test_a_caller_can_keep_profiles_across_checks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An editor re-checks on every keystroke: with its own cache an unchanged data file is not read again."""
    write_jsonl(tmp_path / "data.jsonl", [{"question": "q", "answer": "a"}])
    spec = tmp_path / "spec.eval"
    spec.write_text(
        'dataset d { path = "data.jsonl" }\nmodel dry { provider = "mock" }\n'
        'eval e { dataset = d, prompt = "{{ question }}", models = [dry], target = "{{ answer }}", metrics = [f1] }\n',
        encoding="utf-8",
    )
    calls: list[Path] = []
    real = profile_module.profile_file
    monkeypatch.setattr(profile_module, "profile_file", lambda p, f: calls.append(p) or real(p, f))
    cache = ProfileCache()
    assert api.check(spec, profiles=cache).ok and api.check(spec, profiles=cache).ok
    assert len(calls) == 1
    assert api.check(spec).ok and len(calls) == 2  # without it, each check reads the file
