"""Structured output: JSON validity and JSON-Schema conformance scores, and the extractors (`json_field`,
`extract`) that take part of a prediction and hand it to another metric."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import jsonschema
import numpy as np
import regex

from evaldsl.metrics.base import CorpusMetric, Metric, MetricError, MetricInput, SampleMetric

EXTRACT_SECONDS = 1.0
"""Most time one `extract(...)` search may take on one output."""

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*[ \t]*\n(.*?)\n?```\s*$", re.DOTALL)
_PATH_PART = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


def strip_fence(text: str) -> str:
    """The text inside one markdown code fence wrapping the whole text (```json ... ```), else the text."""
    match = _FENCE.match(text)
    return match.group(1) if match else text


def parse_json(text: str, *, fences: bool = True) -> tuple[bool, Any]:
    """(True, value) when the text (inside its code fence when `fences`) is one JSON document."""
    try:
        return True, json.loads(strip_fence(text) if fences else text)
    except ValueError:
        return False, None


def parse_path(path: str) -> tuple[str | int, ...]:
    """`answer.items[0].name` → ("answer", "items", 0, "name"); a malformed path raises MetricError."""
    parts: list[str | int] = []
    position = 0
    text = path.strip()
    while position < len(text):
        if text[position] == "." and parts:
            position += 1
        match = _PATH_PART.match(text, position)
        if match is None:
            raise MetricError(f"bad JSON path {path!r}: use names and [index], e.g. \"answer.items[0].name\"")
        parts.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if not parts:
        raise MetricError("the JSON path is empty")
    return tuple(parts)


def follow(value: Any, path: tuple[str | int, ...]) -> tuple[bool, Any]:
    """(True, the value at `path`) or (False, None) when some step is missing."""
    for step in path:
        if isinstance(step, int) and isinstance(value, list) and -len(value) <= step < len(value):
            value = value[step]
        elif isinstance(step, str) and isinstance(value, dict) and step in value:
            value = value[step]
        else:
            return False, None
    return True, value


def as_text(value: Any) -> str:
    """A JSON value as the text a string metric compares: strings as they are, others as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class JsonValid:
    """`json_valid`: 1 if the prediction is one JSON document (inside a markdown fence when `fences`), else 0."""

    name: str = "json_valid"
    fences: bool = True
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None:
            return None
        return float(parse_json(s.prediction, fences=self.fences)[0])


def load_schema(schema: Any, base_dir: Path | None) -> dict[str, Any]:
    """An inline schema (a map) as it is, or a schema file's JSON (a path relative to the spec's folder);
    the schema itself is checked against its meta-schema. Problems raise MetricError."""
    if isinstance(schema, str):
        path = (base_dir or Path.cwd()) / schema
        try:
            schema = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise MetricError(f"cannot read the schema file {schema!r}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise MetricError(f"the schema file {schema!r} is not JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise MetricError("a JSON schema must be a map (an object), e.g. { type = \"object\" }")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.exceptions.SchemaError as exc:
        raise MetricError(f"invalid JSON schema: {exc.message}") from None
    return schema


@dataclass(frozen=True)
class JsonSchema:
    """`json_schema(schema = ...)`: 1 if the prediction is JSON that the schema accepts, else 0 (not JSON is 0)."""

    name: str = "json_schema"
    schema: Mapping[str, Any] = field(default_factory=dict)
    fences: bool = True
    kind: Literal["sample"] = field(default="sample", init=False)
    _validator: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        cls = jsonschema.validators.validator_for(dict(self.schema))
        object.__setattr__(self, "_validator", cls(dict(self.schema), format_checker=cls.FORMAT_CHECKER))

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None:
            return None
        ok, value = parse_json(s.prediction, fences=self.fences)
        return float(ok and self._validator.is_valid(value))


@dataclass(frozen=True)
class _Extractor:
    """A metric scoring a part of the prediction: `json_field(path = ...)` (a value of the JSON prediction) or
    `extract(regex = ...)` (the first match, its first group when it has one). When nothing is found the inner
    metric scores an empty prediction (a GSM8K answer without `#### N` is wrong, not skipped)."""

    name: str
    path: tuple[str | int, ...] | None = None
    pattern: Any = None
    fences: bool = True

    def part(self, prediction: str) -> str:
        if self.path is not None:
            ok, value = parse_json(prediction, fences=self.fences)
            found, value = follow(value, self.path) if ok else (False, None)
            return as_text(value) if found and value is not None else ""
        try:
            match = self.pattern.search(prediction, timeout=EXTRACT_SECONDS)
        except TimeoutError:
            raise MetricError(
                f"metric {self.name!r}: the pattern took longer than {EXTRACT_SECONDS:g} s on this output"
            ) from None
        if match is None:
            return ""
        return (match.group(1) if match.re.groups else match.group(0)).strip()

    def narrowed(self, s: MetricInput) -> MetricInput:
        return s if s.prediction is None else replace(s, prediction=self.part(s.prediction))


@dataclass(frozen=True)
class ExtractedSample(_Extractor):
    """An extractor whose inner metric is scored per sample."""

    inner: SampleMetric | None = None
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        assert self.inner is not None
        return self.inner.score(self.narrowed(s))


@dataclass(frozen=True)
class ExtractedCorpus(_Extractor):
    """An extractor whose inner metric is a corpus metric (BLEU over the extracted parts)."""

    inner: CorpusMetric | None = None
    kind: Literal["corpus"] = field(default="corpus", init=False)

    def stats(self, s: MetricInput) -> list[float] | None:
        assert self.inner is not None
        return self.inner.stats(self.narrowed(s))

    def combine(self, summed: np.ndarray) -> float:
        assert self.inner is not None
        return self.inner.combine(summed)


def extracted(inner: Metric, name: str, **how: Any) -> Metric:
    """The extractor (`path` or `pattern`) in front of `inner`, of the inner metric's kind."""
    if inner.kind == "corpus":
        assert isinstance(inner, CorpusMetric)
        return ExtractedCorpus(name=name, inner=inner, **how)
    assert isinstance(inner, SampleMetric)
    return ExtractedSample(name=name, inner=inner, **how)


def compile_pattern(pattern: str, label: str) -> Any:
    """A regex as `extract` runs it (Python syntax, the `regex` engine); a bad one raises MetricError."""
    if not pattern:
        raise MetricError(f"metric {label!r}: extract needs a non-empty `regex`")
    try:
        re.compile(pattern)
        return regex.compile(pattern)
    except (re.error, regex.error) as exc:
        raise MetricError(f"metric {label!r}: invalid regular expression {pattern!r}: {exc}") from None


def inner_of(metric: Any) -> tuple[str, dict[str, Any]]:
    """The inner metric of an extractor as (family, params): a family name, or {family, params} as the
    planner resolves a `metric` definition."""
    if isinstance(metric, str):
        return metric, {}
    if isinstance(metric, Mapping) and isinstance(metric.get("family"), str):
        return metric["family"], dict(metric.get("params") or {})
    raise MetricError("`metric` must name the metric that scores the extracted part, e.g. metric = \"exact_match\"")
