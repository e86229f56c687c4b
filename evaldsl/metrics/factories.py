"""Factories of the built-in metrics that take their parameters as keywords: (name, base_dir, params) in, a
`Metric` out — what the catalogue in `metrics/__init__.py` calls."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from evaldsl.metrics.base import Metric
from evaldsl.metrics.embedding import EmbeddingSimilarity
from evaldsl.metrics.overlap import Rouge
from evaldsl.metrics.structured import JsonSchema, load_schema
from evaldsl.metrics.tools import ToolCall
from evaldsl.metrics.user import PythonMetric


def maker(default_name: str, build: Callable[..., Metric], **fixed: Any) -> Callable[..., Metric]:
    """A factory calling build(name=..., **fixed, **params); `base_dir` is accepted and ignored."""

    def factory(*, name: str | None = None, base_dir: Path | None = None, **params: Any) -> Metric:
        return build(name=name or default_name, **fixed, **params)

    return factory


def rouge_family(
    *, name: str | None = None, base_dir: Path | None = None, type: str = "rougeL", stemmer: bool = False
) -> Metric:
    return Rouge(name=name or "rouge", rouge_type=type, stemmer=stemmer)


def python_metric(
    *,
    name: str | None = None,
    base_dir: Path | None = None,
    path: str,
    higher_is_better: bool = True,
    allow_python: frozenset[str] = frozenset(),
) -> Metric:
    return PythonMetric(name=name or "python", path=path, base_dir=base_dir, allowed=allow_python)


def json_schema(
    *, name: str | None = None, base_dir: Path | None = None, schema: Any, fences: bool = True
) -> Metric:
    return JsonSchema(name=name or "json_schema", schema=load_schema(schema, base_dir), fences=fences)


def tool_call(
    *, name: str | None = None, base_dir: Path | None = None, function: str | None = None,
    arguments: dict[str, Any] | None = None, match: str = "subset",
) -> Metric:  # fmt: skip
    return ToolCall(name=name or "tool_call", function=function, arguments=arguments,
                    match=match)  # type: ignore[arg-type]  # fmt: skip


def embedding(*, name: str | None = None, base_dir: Path | None = None, **params: Any) -> Metric:
    return EmbeddingSimilarity(name=name or "embedding_similarity", base_dir=base_dir, **params)
