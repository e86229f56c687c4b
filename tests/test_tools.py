"""Tool calling: `tools` on litellm and python models (inline or a project file, in the model's hash), the calls
recorded per sample, and the metrics `tool_call` (exact or JSON-subset arguments) and `tool_calls_valid`;
diagnostics E383 and E374. The litellm path runs against the local fake OpenAI server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaldsl import api
from evaldsl.metrics import build_metric
from evaldsl.metrics.base import MetricInput
from evaldsl.metrics.tools import is_subset
from evaldsl.run.runner import RunConfig
from evaldsl.store.sqlite import Store
from tests.fakeserver import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent
WEATHER = {"name": "get_weather", "parameters": {"type": "object", "required": ["city"],
           "properties": {"city": {"type": "string"}}, "additionalProperties": False}}  # fmt: skip


def score(kind: str, calls: list[dict[str, object]], refs: tuple[str, ...] = (), **params: object) -> float | None:
    metric = build_metric(kind, params)
    given = MetricInput(prediction="", references=refs, tool_calls=tuple(calls), tools=(WEATHER,))
    return metric.score(given)  # type: ignore[union-attr]


def test_tool_call_metric() -> None:
    call = {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}
    assert score("tool_call", [call], function="get_weather") == 1.0
    assert score("tool_call", [call], function="get_time") == 0.0
    assert score("tool_call", [call], function="get_weather", arguments={"city": "Paris"}) == 1.0
    assert score("tool_call", [call], function="get_weather", arguments={"city": "Paris"}, match="exact") == 0.0
    assert score("tool_call", [], function="get_weather") == 0.0
    assert score("tool_call", [call], (json.dumps({"name": "get_weather", "arguments": {"city": "Paris"}}),)) == 1.0
    assert score("tool_call", [call], ("get_weather",)) == 1.0
    assert score("tool_call", [call], (json.dumps({"name": "get_weather", "arguments": {"city": "Lima"}}),)) == 0.0
    assert is_subset({"a": [1, {"b": 2}]}, {"a": [1, {"b": 2, "c": 3}], "d": 4})
    assert not is_subset({"a": 1}, {"a": True}) and not is_subset([1], [1, 2])


def test_tool_calls_valid_metric() -> None:
    assert score("tool_calls_valid", [{"name": "get_weather", "arguments": {"city": "Paris"}}]) == 1.0
    assert score("tool_calls_valid", [{"name": "get_weather", "arguments": {"town": "Paris"}}]) == 0.0
    assert score("tool_calls_valid", [{"name": "get_time", "arguments": {}}]) == 0.0
    assert score("tool_calls_valid", [{"name": "get_weather", "arguments": "{not json"}]) == 0.0
    assert score("tool_calls_valid", []) is None


def test_python_model_example(tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = api.run(api.compile(ROOT / "specs" / "tools.eval"), RunConfig(store_dir=store))
    assert result.status == "completed", result.message
    values = {k: m.value for k, m in result.results[0].metrics.items()}
    assert values == {"right_call": 0.5, "any_weather": 1.0, "tool_calls_valid": 1.0}
    with Store(store) as st:
        (first, _) = sorted(st.iter_samples(result.run_id), key=lambda r: r.index)
    assert first.output["tool_calls"] == [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]


def test_litellm_model_gets_tools_and_its_calls_are_recorded(tmp_path: Path, api_key: str) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "tools.json").write_text(json.dumps([WEATHER]))

    def calls(body: dict[str, object]) -> list[dict[str, object]]:
        question = str(body["messages"][-1]["content"])  # type: ignore[index]
        return [{"name": "get_weather", "arguments": {"city": question.split()[-1]}}] if "weather" in question else []

    with FakeOpenAIServer(tool_calls=calls) as server:
        spec = tmp_path / "spec.eval"
        spec.write_text(
            'dataset d { rows = [{ q = "weather in Paris", f = "get_weather" }, { q = "hello", f = "get_weather" }] }\n'
            f'model api {{ provider = "litellm", id = "openai/test", api_base = "{server.api_base}", '
            'tools = "tools.json", max_retries = 0 }\n'
            'eval e { dataset = d, prompt = "{{ q }}", models = [api], target = "{{ f }}", '
            "metrics = [tool_call, tool_calls_valid] }\n"
        )
        result = api.run(api.compile(spec), RunConfig(store_dir=tmp_path / "store"))
        sent = server.bodies[0]
    assert result.status == "completed", result.message
    assert sent["tools"] == [{"type": "function", "function": WEATHER}]
    metrics = result.results[0].metrics
    assert metrics["tool_call"].value == 0.5 and metrics["tool_calls_valid"].n == 1  # "hello": no call, unscored
    before = api.compile(spec).graph_hash
    (tmp_path / "tools.json").write_text(json.dumps([{**WEATHER, "description": "changed"}]))
    assert api.compile(spec).graph_hash != before  # the tools' content is part of the model's hash


@pytest.mark.parametrize(
    ("tools", "code", "text"),
    [
        ('"missing.json"', "E383", "cannot read the tools file"),
        ('"../outside.json"', "E383", "outside the project"),
        ('[{ description = "no name" }]', "E383", "`name`"),
        ('[{ name = "f", parameters = { type = "objekt" } }]', "E383", "not a valid JSON Schema"),
        ('[{ name = "f" }, { name = "f" }]', "E383", "unique"),
        ("3", "E303", "tool maps"),
    ],
)
def test_diagnostics(tmp_path: Path, tools: str, code: str, text: str) -> None:
    (tmp_path / ".git").mkdir()
    spec = tmp_path / "spec.eval"
    spec.write_text(
        'dataset d { rows = [{ q = "a" }] }\n'
        f'model m {{ provider = "litellm", id = "openai/x", tools = {tools} }}\n'
        'eval e { dataset = d, prompt = "{{ q }}", models = [m], metrics = [tool_calls_valid] }\n'
    )
    (found,) = [(d.code, d.message) for d in api.check(spec).diagnostics]
    assert found[0] == code and text in found[1]


def test_tools_on_a_mock_model(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    spec = tmp_path / "spec.eval"
    spec.write_text('dataset d { rows = [{ q = "a" }] }\nmodel m { provider = "mock", tools = [{ name = "f" }] }\n'
                    'eval e { dataset = d, prompt = "{{ q }}", models = [m], metrics = [tool_calls_valid] }\n')
    (found,) = api.check(spec).diagnostics
    assert found.code == "E374"
