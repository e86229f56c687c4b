"""The checked, typed meaning of a spec: datasets, models, prompts, metrics, judges and evals with spans."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..diagnostics import Span
from .model_config import Mode, ModelConfig


class Typed(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class NameRef(Typed):
    """A reference to a named definition, kept with where it was written."""

    name: str
    span: Span


class SampleValue(Typed):
    """A value computed per sample: a Jinja template string, a backtick expression, or a constant.

    `params` are the template arguments (constants) visible to the template or expression; `param_spans` where
    each was written (for diagnostics only: not part of the value's meaning, so never dumped or hashed).
    """

    kind: Literal["template", "expr", "const"]
    source: str = ""
    value: Any = None
    span: Span
    params: dict[str, Any] = Field(default_factory=dict)
    param_spans: dict[str, Span] = Field(default_factory=dict, exclude=True)


class DatasetDef(Typed):
    name: str
    span: Span
    path: Path | None = None  # resolved against the defining file's folder
    path_span: Span | None = None
    format: str | None = None  # jsonl | json | csv | tsv | parquet (from the extension unless given)
    rows: tuple[dict[str, Any], ...] | None = None
    limit: int | None = None
    shuffle: int | None = None
    where: SampleValue | None = None
    fields: tuple[tuple[str, SampleValue], ...] = ()


class ModelDef(Typed):
    name: str
    span: Span
    config: ModelConfig


class Fewshot(Typed):
    dataset: NameRef
    k: int = 3
    seed: int = 0
    span: Span


class PromptDef(Typed):
    name: str
    span: Span
    system: SampleValue | None = None
    user: SampleValue
    fewshot: Fewshot | None = None


class MetricDef(Typed):
    """`metric NAME = family(param = value, ...)`."""

    name: str
    span: Span
    family: str
    family_span: Span
    call_span: Span | None = None  # the whole `family(...)` call
    args: tuple[Any, ...] = ()  # positional arguments, bound to the family's parameters in order
    params: dict[str, Any] = Field(default_factory=dict)


class JudgeDef(Typed):
    name: str
    span: Span
    model: NameRef
    rubric: SampleValue
    mode: Literal["single", "pairwise"] = "single"
    reference: SampleValue | None = None
    scale: tuple[int, int] | None = None
    choices: dict[str, float] | None = None
    reasoning: bool = True
    votes: int = 1
    swap: bool = True
    human: SampleValue | None = None


class AssertDef(Typed):
    span: Span
    aggregate: str  # mean
    metric: NameRef
    op: str
    threshold: float
    text: str


class EvalDef(Typed):
    name: str
    span: Span
    mode: Mode = "generate"
    mode_span: Span | None = None
    dataset: NameRef
    prompt: NameRef | None = None
    inline_prompt: SampleValue | None = None  # `prompt = "..."` written in the eval itself
    models: tuple[NameRef, ...] = ()
    target: SampleValue | None = None
    incorrect: SampleValue | None = None
    choices: SampleValue | None = None
    labels: SampleValue | None = None
    text: SampleValue | None = None
    delimiter: str = " "
    metrics: tuple[NameRef, ...] = ()
    asserts: tuple[AssertDef, ...] = ()
    limit: int | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)  # max_tokens / stop / chat_template for this eval


class TemplateInfo(Typed):
    name: str
    span: Span
    params: tuple[tuple[str, str | None], ...]  # (name, default as written or None when required)
    description: str = ""


class Spec(Typed):
    """Everything a spec defines, after imports, templates and type checks."""

    path: Path
    datasets: dict[str, DatasetDef] = Field(default_factory=dict)
    models: dict[str, ModelDef] = Field(default_factory=dict)
    prompts: dict[str, PromptDef] = Field(default_factory=dict)
    metrics: dict[str, MetricDef] = Field(default_factory=dict)
    judges: dict[str, JudgeDef] = Field(default_factory=dict)
    evals: dict[str, EvalDef] = Field(default_factory=dict)
    templates: dict[str, TemplateInfo] = Field(default_factory=dict)
