"""Tool-calling metrics: `tool_call` (the reply called the expected function with matching arguments, exactly or
as a JSON subset) and `tool_calls_valid` (every call names a given tool and its arguments fit its schema)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema

from evaldsl.metrics.base import MetricError, MetricInput


def is_subset(expected: Any, actual: Any) -> bool:
    """Whether `expected` is contained in `actual`: maps key by key (recursively), lists item by item, other
    values equal (numbers compared as numbers)."""
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(k in actual and is_subset(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            is_subset(e, a) for e, a in zip(expected, actual, strict=True)
        )
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        return not isinstance(expected, bool) and not isinstance(actual, bool) and expected == actual
    return bool(expected == actual)


def expected_calls(s: MetricInput, name: str | None, arguments: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The calls that would pass: the metric's own `name`/`arguments`, else each reference — a function name or
    the JSON of `{"name": ..., "arguments": {...}}`."""
    if name is not None:
        return [{"name": name, "arguments": arguments}]
    out = []
    for ref in s.references:
        try:
            value = json.loads(ref)
        except ValueError:
            value = ref.strip()
        if isinstance(value, str):
            out.append({"name": value, "arguments": None})
        elif isinstance(value, Mapping) and isinstance(value.get("name"), str):
            out.append({"name": value["name"], "arguments": value.get("arguments")})
        else:
            raise MetricError(f'a tool_call reference must be a function name or {{"name", "arguments"}} JSON, '
                              f"got {ref[:80]!r}")  # fmt: skip
    return out


@dataclass(frozen=True)
class ToolCall:
    """`tool_call`: 1 if some call of the reply names an expected function and (when arguments are expected)
    its arguments match — all of them (`match = "exact"`) or at least the expected ones (`"subset"`)."""

    name: str = "tool_call"
    function: str | None = None
    arguments: Mapping[str, Any] | None = None
    match: Literal["exact", "subset"] = "subset"
    kind: Literal["sample"] = field(default="sample", init=False)

    def __post_init__(self) -> None:
        if self.match not in ("exact", "subset"):
            raise MetricError(f'metric {self.name!r}: match must be "exact" or "subset", got {self.match!r}')

    def score(self, s: MetricInput) -> float | None:
        wanted = expected_calls(s, self.function, self.arguments)
        if not wanted:
            return None
        for call in s.tool_calls:
            for want in wanted:
                if call.get("name") != want["name"]:
                    continue
                args = want["arguments"]
                if args is None or (call.get("arguments") == args if self.match == "exact"
                                    else is_subset(args, call.get("arguments"))):  # fmt: skip
                    return 1.0
        return 0.0


@dataclass(frozen=True)
class ToolCallsValid:
    """`tool_calls_valid`: 1 if every call names one of the model's tools and its arguments validate against
    that tool's `parameters` schema, else 0; a reply without calls is unscored."""

    name: str = "tool_calls_valid"
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        if not s.tool_calls:
            return None
        schemas = {t["name"]: t.get("parameters") or {} for t in s.tools}
        for call in s.tool_calls:
            schema = schemas.get(str(call.get("name")))
            if schema is None or not isinstance(call.get("arguments"), Mapping):
                return 0.0
            if not jsonschema.validators.validator_for(schema)(schema).is_valid(call["arguments"]):
                return 0.0
        return 1.0
