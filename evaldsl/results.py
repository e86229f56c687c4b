"""Typed, versioned run results: what the runner produces and what every reader (console, store, show, diff,
HTML report, exports) reads. `to_json()`/`from_json()` are the only (de)serialisers; `from_json` also reads the
untyped results written before results were versioned (version 1)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

RESULTS_VERSION = 2
"""2: typed results with statuses, error summaries, metric directions and row identities (1: untyped dicts)."""

RunStatus = Literal["completed", "partial", "failed", "interrupted"]
ResultStatus = Literal["ok", "partial", "failed"]
AssertStatus = Literal["pass", "fail", "error"]
Stage = Literal["load", "render", "model", "metric", "judge"]
MetricKind = Literal["sample", "corpus", "judge"]

RUN_STATUSES: tuple[str, ...] = ("completed", "partial", "failed", "interrupted")
EXIT_OK, EXIT_ASSERT, EXIT_COMPILE, EXIT_RUN = 0, 1, 2, 3

# Version-1 results carry no metric direction: the built-in names that were lower-is-better then.
_V1_LOWER_IS_BETTER = frozenset({"perplexity", "cross_entropy", "word_perplexity", "byte_perplexity", "bits_per_byte"})


def finite(value: Any) -> float | None:
    """A JSON-safe number: NaN, inf and non-numbers become None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def json_safe(obj: Any) -> Any:
    """A JSON-safe copy: NaN/inf become null, tuples lists, unknown objects their str()."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def _without_none(data: dict[str, Any], keep: Iterable[str]) -> dict[str, Any]:
    """Drop optional keys whose value is None/empty, keeping the always-present ones in `keep`."""
    always = set(keep)
    return {k: v for k, v in data.items() if k in always or v not in (None, (), [], {})}


@dataclass(frozen=True)
class MetricSummary:
    """One metric of one eval × model: the value with a 95% CI over `n` scored samples, and how to read it.

    `unscored` counts samples the metric could not score (e.g. an unparseable judge verdict, no reference):
    they are neither zeros nor errors. `higher_is_better` and `range` come from the metric's definition
    (the catalogue, the judge's scale, or a python metric's `higher_is_better` argument), never from its name.
    """

    value: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    unscored: int = 0
    family: str = ""
    kind: MetricKind = "sample"
    higher_is_better: bool = True
    range: tuple[float | None, float | None] | None = None
    failures: tuple[str, ...] = ()
    unscored_rate: float | None = None  # judges: unscored / judged
    outcomes: Mapping[str, int] | None = None  # pairwise judges: win / tie / loss of the first model
    human_agreement: Mapping[str, Any] | None = None  # judges with a `human` label

    def to_json(self) -> dict[str, Any]:
        data = {
            "value": finite(self.value),
            "ci_low": finite(self.ci_low),
            "ci_high": finite(self.ci_high),
            "n": self.n,
            "unscored": self.unscored,
            "family": self.family,
            "kind": self.kind,
            "higher_is_better": self.higher_is_better,
            "range": None if self.range is None else [finite(x) for x in self.range],
            "failures": list(self.failures),
            "unscored_rate": finite(self.unscored_rate),
            "outcomes": dict(self.outcomes) if self.outcomes is not None else None,
            "human_agreement": dict(self.human_agreement) if self.human_agreement is not None else None,
        }
        return _without_none(data, ("value", "ci_low", "ci_high", "n", "unscored", "family", "kind",
                                    "higher_is_better"))  # fmt: skip

    @classmethod
    def from_estimate(cls, estimate: Any, **fields: Any) -> MetricSummary:
        """A summary whose value, CI and n come from a statistics estimate (`evaldsl.stats.bootstrap.Estimate`)."""
        return cls(value=estimate.value, ci_low=estimate.ci_low, ci_high=estimate.ci_high, n=estimate.n, **fields)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], name: str = "") -> MetricSummary:
        span = data.get("range")
        is_v1 = "higher_is_better" not in data
        return cls(
            value=finite(data.get("value")),
            ci_low=finite(data.get("ci_low")),
            ci_high=finite(data.get("ci_high")),
            n=int(data.get("n") or 0),
            unscored=int(data.get("unscored") or 0),
            family=str(data.get("family") or name),
            kind=data.get("kind") or ("judge" if "unscored_rate" in data else "sample"),
            higher_is_better=(name not in _V1_LOWER_IS_BETTER) if is_v1 else bool(data["higher_is_better"]),
            range=None if span is None else (finite(span[0]), finite(span[1])),
            failures=tuple(data.get("failures") or ()),
            unscored_rate=finite(data.get("unscored_rate")),
            outcomes=data.get("outcomes"),
            human_agreement=data.get("human_agreement"),
        )


@dataclass(frozen=True)
class ErrorGroup:
    """Samples of one eval × model that failed for the same reason at the same stage, with one example."""

    stage: Stage
    reason: str
    count: int
    example: int | None = None  # the index of one sample that failed so

    def to_json(self) -> dict[str, Any]:
        return {"stage": self.stage, "reason": self.reason, "count": self.count, "example": self.example}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ErrorGroup:
        return cls(data["stage"], data["reason"], int(data["count"]), data.get("example"))


def group_errors(failures: Iterable[tuple[int, Stage, str]], limit: int = 20) -> tuple[ErrorGroup, ...]:
    """(sample index, stage, reason) triples → groups by (stage, reason), most frequent first, at most `limit`
    groups (the rest are folded into one "other reasons" group so that counts always add up)."""
    counts: dict[tuple[Stage, str], list[int]] = {}
    for index, stage, reason in failures:
        counts.setdefault((stage, reason), []).append(index)
    ordered = sorted(counts.items(), key=lambda item: (-len(item[1]), item[0]))
    groups = [ErrorGroup(stage, reason, len(idx), min(idx)) for (stage, reason), idx in ordered[:limit]]
    rest = ordered[limit:]
    if rest:
        n = sum(len(idx) for _, idx in rest)
        groups.append(ErrorGroup(rest[0][0][0], f"{len(rest)} other reasons", n, min(rest[0][1])))
    return tuple(groups)


@dataclass(frozen=True)
class EvalModelResult:
    """One eval × model. `errors` counts samples with any error (render, model call, metric or judge); the
    eval fails when `errors / n` exceeds `max_error_rate` (0 by default: any error fails it)."""

    eval: str
    model: str
    n: int
    errors: int
    truncated: int
    metrics: Mapping[str, MetricSummary]
    status: ResultStatus = "ok"
    max_error_rate: float = 0.0
    error_summary: tuple[ErrorGroup, ...] = ()
    completion_tokens: int | None = None
    cost: float | None = None
    hashes: Mapping[str, str] = field(default_factory=dict)  # what produced it: dataset, prompt, model, metric:X

    @property
    def error_rate(self) -> float:
        return self.errors / self.n if self.n else 0.0

    def to_json(self) -> dict[str, Any]:
        data = {
            "eval": self.eval,
            "model": self.model,
            "status": self.status,
            "n": self.n,
            "errors": self.errors,
            "error_rate": round(self.error_rate, 6),
            "max_error_rate": self.max_error_rate,
            "truncated": self.truncated,
            "metrics": {name: m.to_json() for name, m in self.metrics.items()},
            "error_summary": [g.to_json() for g in self.error_summary],
            "completion_tokens": self.completion_tokens,
            "cost": finite(self.cost),
            "hashes": dict(self.hashes),
        }
        return _without_none(data, ("eval", "model", "status", "n", "errors", "error_rate", "max_error_rate",
                                    "truncated", "metrics", "error_summary"))  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvalModelResult:
        n, errors = int(data.get("n") or 0), int(data.get("errors") or 0)
        summary = tuple(ErrorGroup.from_json(g) for g in data.get("error_summary") or ())
        if not summary and data.get("error_examples"):  # version 1: up to three distinct messages, no counts
            summary = tuple(ErrorGroup("model", str(text), 0) for text in data["error_examples"])
        status: ResultStatus = data.get("status") or ("failed" if n and errors >= n else "partial" if errors else "ok")
        return cls(
            eval=data["eval"],
            model=data["model"],
            n=n,
            errors=errors,
            truncated=int(data.get("truncated") or 0),
            metrics={k: MetricSummary.from_json(v, k) for k, v in (data.get("metrics") or {}).items()},
            status=status,
            max_error_rate=float(data.get("max_error_rate") or 0.0),
            error_summary=summary,
            completion_tokens=data.get("completion_tokens"),
            cost=finite(data.get("cost")),
            hashes=dict(data.get("hashes") or {}),
        )


@dataclass(frozen=True)
class AssertOutcome:
    """An `assert` of one eval × model: "pass", "fail", or "error" when it cannot be judged (the eval failed,
    or the metric scored no sample) — an error never counts as a pass."""

    eval: str
    model: str
    expr: str
    value: float | None
    status: AssertStatus
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_json(self) -> dict[str, Any]:
        data = {"eval": self.eval, "model": self.model, "expr": self.expr, "value": finite(self.value),
                "status": self.status, "passed": self.passed, "reason": self.reason}  # fmt: skip
        return _without_none(data, ("eval", "model", "expr", "value", "status", "passed"))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AssertOutcome:
        status: AssertStatus = data.get("status") or ("pass" if data.get("passed") else "fail")
        return cls(data["eval"], data["model"], data["expr"], finite(data.get("value")), status, data.get("reason"))


@dataclass(frozen=True)
class RunResult:
    """A whole run. `status`: "completed" (every sample scored), "partial" (errors within each eval's
    tolerance), "failed" (an eval over its tolerance, or the run could not go on) or "interrupted"; `message`
    says why whenever it is not "completed"."""

    run_id: str | None
    spec: str
    status: RunStatus
    results: tuple[EvalModelResult, ...] = ()
    asserts: tuple[AssertOutcome, ...] = ()
    message: str | None = None
    store: str | None = None
    cache_hits: int = 0
    model_calls: int = 0
    wall_s: float | None = None

    @property
    def exit_code(self) -> int:
        """0 success; 1 an assert failed or could not be judged; 3 the run failed or was interrupted."""
        if self.status in ("failed", "interrupted"):
            return EXIT_RUN
        return EXIT_ASSERT if any(not a.passed for a in self.asserts) else EXIT_OK

    @property
    def error_summary(self) -> list[dict[str, Any]]:
        """Every eval × model's error groups in one list (each with its eval and model)."""
        return [{"eval": r.eval, "model": r.model, **g.to_json()} for r in self.results for g in r.error_summary]

    def with_store(self, store: str) -> RunResult:
        return replace(self, store=store)

    def to_json(self) -> dict[str, Any]:
        data = {
            "results_version": RESULTS_VERSION,
            "run_id": self.run_id,
            "spec": self.spec,
            "status": self.status,
            "message": self.message,
            "store": self.store,
            "results": [r.to_json() for r in self.results],
            "asserts": [a.to_json() for a in self.asserts],
            "error_summary": self.error_summary,
            "cache_hits": self.cache_hits,
            "model_calls": self.model_calls,
            "wall_s": self.wall_s,
        }
        return _without_none(data, ("results_version", "run_id", "spec", "status", "results", "asserts",
                                    "error_summary"))  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunResult:
        status: RunStatus = data.get("status") or "completed"
        if status == "aborted":  # type: ignore[comparison-overlap]  # version 1 printed "aborted" where the store said "interrupted"
            status = "interrupted"
        return cls(
            run_id=data.get("run_id"),
            spec=str(data.get("spec") or ""),
            status=status,
            results=tuple(EvalModelResult.from_json(r) for r in data.get("results") or ()),
            asserts=tuple(AssertOutcome.from_json(a) for a in data.get("asserts") or ()),
            message=data.get("message"),
            store=data.get("store"),
            cache_hits=int(data.get("cache_hits") or 0),
            model_calls=int(data.get("model_calls") or 0),
            wall_s=data.get("wall_s"),
        )


@dataclass(frozen=True)
class SampleRecord:
    """One sample of one eval × model as stored: its row identity (content hash of the dataset row plus its
    occurrence among identical rows), what was asked, what came back, scores (None = not scored), judge
    records, and the error that stopped it (with the stage) if any. Mode-specific fields are in `output`."""

    eval: str
    model: str
    index: int
    row_id: str
    sample_key: str = ""
    inputs: Mapping[str, Any] = field(default_factory=dict)
    prompt: tuple[Mapping[str, str], ...] = ()
    references: tuple[str, ...] = ()
    scores: Mapping[str, float | None] = field(default_factory=dict)
    judges: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_stage: Stage | None = None
    cached: bool = False
    truncated: bool = False
    output: Mapping[str, Any] = field(default_factory=dict)  # output text, tokens, latency / logliks / loglik

    def to_json(self) -> dict[str, Any]:
        return {
            "eval": self.eval,
            "model": self.model,
            "index": self.index,
            "row_id": self.row_id,
            "sample_key": self.sample_key,
            "inputs": dict(self.inputs),
            "prompt": [dict(m) for m in self.prompt],
            "references": list(self.references),
            "scores": dict(self.scores),
            "judges": dict(self.judges),
            "error": self.error,
            "error_stage": self.error_stage,
            "cached": self.cached,
            "truncated": self.truncated,
            **self.output,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SampleRecord:
        known = {f for f in cls.__dataclass_fields__ if f != "output"}
        return cls(
            eval=data["eval"],
            model=data["model"],
            index=int(data["index"]),
            row_id=str(data.get("row_id") or data.get("sample_key") or f"#{data['index']}"),
            sample_key=str(data.get("sample_key") or ""),
            inputs=data.get("inputs") or {},
            prompt=tuple(data.get("prompt") or ()),
            references=tuple(data.get("references") or ()),
            scores=data.get("scores") or {},
            judges=data.get("judges") or {},
            error=data.get("error"),
            error_stage=data.get("error_stage") or ("model" if data.get("error") else None),
            cached=bool(data.get("cached")),
            truncated=bool(data.get("truncated")),
            output={k: v for k, v in data.items() if k not in known},
        )
