"""Structured output metrics: json_valid, json_schema (inline and file), json_field and extract feeding another
metric; their diagnostics (E370-E372) and an end-to-end run of specs/structured.eval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaldsl import api
from evaldsl.metrics import build_metric, metric_direction
from evaldsl.metrics.base import MetricError, MetricInput
from evaldsl.run.runner import RunConfig

ROOT = Path(__file__).resolve().parents[2]


def score(kind: str, prediction: str, refs: tuple[str, ...] = (), **params: object) -> float | None:
    metric = build_metric(kind, params)
    value = metric.score(MetricInput(prediction=prediction, references=refs))  # type: ignore[union-attr]
    return value


def test_json_valid_accepts_fenced_json_and_refuses_prose() -> None:
    assert score("json_valid", '{"a": 1}') == 1.0
    assert score("json_valid", '```json\n{"a": [1, 2]}\n```') == 1.0
    assert score("json_valid", '```json\n{"a": [1, 2]}\n```', fences=False) == 0.0
    assert score("json_valid", "Sure! {\"a\": 1}") == 0.0
    assert score("json_valid", "") == 0.0


def test_json_schema_inline_and_file(tmp_path: Path) -> None:
    schema = {"type": "object", "required": ["answer"], "properties": {"answer": {"type": "string"}}}
    assert score("json_schema", '{"answer": "x"}', schema=schema) == 1.0
    assert score("json_schema", '{"answer": 3}', schema=schema) == 0.0
    assert score("json_schema", "not json", schema=schema) == 0.0
    (tmp_path / "s.json").write_text(json.dumps(schema))
    metric = build_metric("json_schema", {"schema": "s.json"}, base_dir=tmp_path)
    assert metric.score(MetricInput(prediction='{"answer": "y"}')) == 1.0  # type: ignore[union-attr]
    with pytest.raises(MetricError, match="invalid JSON schema"):
        build_metric("json_schema", {"schema": {"type": "nonsense"}})
    with pytest.raises(MetricError, match="cannot read the schema file"):
        build_metric("json_schema", {"schema": "missing.json"}, base_dir=tmp_path)


def test_json_field_scores_the_value_at_the_path() -> None:
    reply = '{"answer": "Paris", "items": [{"name": "a"}, {"name": "The b"}], "n": 3}'
    assert score("json_field", reply, ("paris",), path="answer") == 1.0
    assert score("json_field", reply, ("b",), path="items[1].name") == 1.0
    assert score("json_field", reply, ("b",), path="items[-1].name") == 1.0
    assert score("json_field", reply, ("3",), path="n") == 1.0
    assert score("json_field", reply, ("Paris",), path="missing") == 0.0  # nothing found: an empty prediction
    assert score("json_field", "Paris", ("Paris",), path="answer") == 0.0  # not JSON
    assert score("json_field", reply, ("Paris is",), path="answer", metric="f1") == pytest.approx(2 / 3)
    with pytest.raises(MetricError, match="bad JSON path"):
        build_metric("json_field", {"path": "a..b"})


def test_extract_takes_the_first_group_before_exact_match() -> None:
    pattern = r"####\s*(-?[0-9.,]+)"
    assert score("extract", "so 6*7 = 42\n#### 42", ("42",), regex=pattern) == 1.0
    assert score("extract", "so 6*7 = 42\n#### 41", ("42",), regex=pattern) == 0.0
    assert score("extract", "the answer is 42", ("42",), regex=pattern) == 0.0
    assert score("extract", "answer: 42", ("42",), regex=r"\d+") == 1.0  # no group: the whole match
    nested = {"family": "exact_match", "params": {"normalize": False}}
    assert score("extract", "#### Paris", ("paris",), regex=r"#### (\w+)", metric=nested) == 0.0
    with pytest.raises(MetricError, match="invalid regular expression"):
        build_metric("extract", {"regex": "(unclosed"})


def test_extractors_take_their_direction_and_kind_from_the_inner_metric() -> None:
    assert metric_direction("extract", {"regex": "x", "metric": "bleu"}) == (True, (0.0, 100.0))
    assert metric_direction("json_field", {"path": "a"}) == (True, (0.0, 1.0))
    bleu = build_metric("json_field", {"path": "a", "metric": "bleu"})
    assert bleu.kind == "corpus"


def _check(tmp_path: Path, body: str) -> list[tuple[str, str]]:
    (tmp_path / ".git").mkdir(exist_ok=True)  # the project root
    spec = tmp_path / "spec.eval"
    spec.write_text(
        'dataset d { rows = [{ q = "a", a = "b" }] }\nmodel m { provider = "mock" }\n' + body
        + '\neval e { dataset = d, prompt = "{{ q }}", models = [m], target = "{{ a }}", metrics = [x] }\n'
    )
    return [(d.code, d.message) for d in api.check(spec).diagnostics]


def test_diagnostics(tmp_path: Path) -> None:
    unknown = _check(tmp_path, 'metric x = extract(regex = "#### (\\\\d+)", metric = exact_mach)')
    assert unknown and unknown[0][0] == "E370" and "exact_mach" in unknown[0][1]
    cycle = _check(tmp_path, 'metric x = json_field(path = "a", metric = y)\nmetric y = extract("a", metric = x)')
    assert [c for c, _ in cycle] == ["E370", "E370"]
    mode = _check(tmp_path, 'metric x = json_field(path = "a", metric = mc2)')
    assert mode[0][0] == "E370" and "choice" in mode[0][1]
    assert _check(tmp_path, 'metric x = extract(regex = "(")')[0][0] == "E372"
    assert _check(tmp_path, 'metric x = json_field(path = "[")')[0][0] == "E372"
    assert _check(tmp_path, 'metric x = json_schema(schema = { type = "nonsense" })')[0][0] == "E371"
    assert _check(tmp_path, 'metric x = json_schema(schema = "nope.json")')[0][0] == "E371"
    outside = _check(tmp_path, 'metric x = json_schema(schema = "../outside.json")')
    assert outside[0][0] == "E371" and "outside the project" in outside[0][1]
    assert _check(tmp_path, "metric x = json_schema(schema = 3)")[0][0] == "E318"
    assert _check(tmp_path, 'metric y = exact_match(normalize = false)\nmetric x = json_field("a", metric = y)') == []


def test_structured_spec_runs_end_to_end(tmp_path: Path) -> None:
    graph = api.compile(ROOT / "specs" / "structured.eval")
    result = api.run(graph, RunConfig(store_dir=tmp_path / "store", use_cache=False))
    assert result.status == "completed", result.message
    values = {(r.eval, name): m.value for r in result.results for name, m in r.metrics.items()}
    assert values[("gsm_style", "gsm_em")] == pytest.approx(1 / 3)
    assert values[("capitals_json", "json_valid")] == pytest.approx(3 / 4)
    assert values[("capitals_json", "answer_ok")] == pytest.approx(2 / 4)
    assert values[("capitals_json", "has_answer")] == pytest.approx(3 / 4)
    assert values[("capitals_json", "answer_em")] == pytest.approx(2 / 4)


def test_schema_file_edit_changes_the_metric_hash(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "s.json").write_text('{"type": "object"}')
    spec = tmp_path / "spec.eval"
    spec.write_text(
        'dataset d { rows = [{ q = "a" }] }\nmodel m { provider = "mock" }\n'
        'metric x = json_schema(schema = "s.json")\nmetric y = json_field("a", metric = x)\n'
        'eval e { dataset = d, prompt = "{{ q }}", models = [m], metrics = [x, y] }\n'
    )

    def hashes() -> dict[str, str]:
        return {n.id: n.hash for n in api.compile(spec).nodes.values() if n.id.startswith("metric:")}

    before = hashes()
    (tmp_path / "s.json").write_text('{"type": "array"}')
    after = hashes()
    assert all(before[k] != after[k] for k in before) and len(before) == 2
