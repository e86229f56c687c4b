"""`hf = ...` datasets through the `datasets` library, on data the tests write locally (no network): a folder of
data files laid out as a dataset repository, a dataset saved with `save_to_disk`; field inference, whole-dataset
checks, runs, the fingerprint in node hashes, and the one-line error for a Hub dataset missing from the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaldsl import api
from evaldsl.compile.checks import context
from evaldsl.results import EvalModelResult
from evaldsl.run.runner import RunConfig

datasets = pytest.importorskip("datasets", reason="hf datasets need the `datasets` package")

ROWS = [{"question": f"Question {i}?", "answer": f"answer {i}", "n": i} for i in range(6)]


def repo_folder(root: Path, rows: list[dict] = ROWS) -> Path:
    folder = root / "trivia_repo" / "data"
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (folder / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]), encoding="utf-8")
    return folder.parent


def spec(root: Path, source: str, *, target: str = "`answer`", prompt: str = '"Q: {{ question }}"',
         extra: str = "") -> Path:
    path = root / "spec.eval"
    path.write_text(f"""
dataset trivia {{
  {source}
  {extra}
}}
model dry {{
  provider = "mock"
  response = "{{{{ answer }}}}"
}}
eval qa {{
  dataset = trivia
  prompt  = {prompt}
  models  = [dry]
  target  = {target}
  metrics = [exact_match]
}}
""", encoding="utf-8")
    return path


def run_one(path: Path, store: Path) -> EvalModelResult:
    result = api.run(api.compile(path), RunConfig(store_dir=store))
    assert result.status == "completed", result.message
    (only,) = result.results
    return only


def load_hash(path: Path) -> str:
    spec = api.check(path).spec  # planned even when a Hub dataset is not cached: the hash needs no data
    assert spec is not None
    return api.plan(spec).nodes["load:trivia"].hash


def codes(result: api.CheckResult) -> list[str]:
    return [d.code for d in result.diagnostics]


def test_a_local_repository_folder_checks_and_runs(tmp_path: Path) -> None:
    repo_folder(tmp_path)
    path = spec(tmp_path, 'hf = "./trivia_repo"\n  split = "test"')
    result = api.check(path)
    assert result.ok, [d.render() for d in result.diagnostics]
    ctx = context.CheckContext(result.spec)  # type: ignore[arg-type]
    profile = ctx.profile("trivia")
    assert profile is not None and profile.rows == 6
    assert profile.field("n").describe() == "int in all 6 rows"  # type: ignore[union-attr]
    summary = run_one(path, tmp_path / "store")
    assert summary.n == 6 and summary.metrics["exact_match"].value == 1.0


def test_a_split_is_chosen_and_a_limit_streams(tmp_path: Path) -> None:
    repo_folder(tmp_path)
    path = spec(tmp_path, 'hf = "trivia_repo"\n  split = "train"')
    assert run_one(path, tmp_path / "store").n == 2
    path = spec(tmp_path, 'hf = "trivia_repo"\n  limit = 3')
    assert run_one(path, tmp_path / "store2").n == 3


def test_fields_are_inferred_a_missing_field_is_reported(tmp_path: Path) -> None:
    repo_folder(tmp_path)
    result = api.check(spec(tmp_path, 'hf = "./trivia_repo"', prompt='"Q: {{ questoin }}"'))
    assert "E309" in codes(result)
    assert any("question" in (d.hint or "") + d.message for d in result.diagnostics if d.code == "E309")


def test_a_saved_dataset_dict_and_a_missing_split(tmp_path: Path) -> None:
    data = datasets.Dataset.from_list(ROWS)
    datasets.DatasetDict({"validation": data}).save_to_disk(str(tmp_path / "saved"))
    assert api.check(spec(tmp_path, 'hf = "./saved"\n  split = "validation"')).ok
    result = api.check(spec(tmp_path, 'hf = "./saved"'))
    assert codes(result) == ["E340"]
    assert "no split 'test'" in result.diagnostics[0].message and "validation" in result.diagnostics[0].message


def test_the_fingerprint_goes_into_node_hashes(tmp_path: Path) -> None:
    folder = repo_folder(tmp_path)
    path = spec(tmp_path, 'hf = "./trivia_repo"')
    before = load_hash(path)
    assert load_hash(path) == before
    rows = [*ROWS[:-1], {**ROWS[-1], "answer": "changed"}]
    (folder / "data" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert load_hash(path) != before
    hub = spec(tmp_path, 'hf = "owner/never-downloaded"\n  config = "all"\n  revision = "abc"')
    one = load_hash(hub)
    hub.write_text(hub.read_text().replace('revision = "abc"', 'revision = "def"'), encoding="utf-8")
    assert load_hash(hub) != one


def test_a_hub_dataset_missing_offline_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = api.check(spec(tmp_path, 'hf = "owner/never-downloaded-xyz"\n  config = "all"'))
    assert codes(result) == ["E340", "W340"] or sorted(codes(result)) == ["E340", "W340"]
    error = next(d for d in result.diagnostics if d.code == "E340")
    assert "HF_HUB_OFFLINE" in error.message and "\n" not in error.message
    warning = next(d for d in result.diagnostics if d.code == "W340")
    assert "revision" in warning.message


def test_hub_only_attributes_need_hf(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text(json.dumps(ROWS[0]) + "\n", encoding="utf-8")
    result = api.check(spec(tmp_path, 'path = "d.jsonl"\n  split = "test"'))
    assert "E340" in codes(result)
    result = api.check(spec(tmp_path, 'path = "d.jsonl"\n  hf = "a/b"'))
    assert "E304" in codes(result)
