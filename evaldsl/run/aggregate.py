"""One eval × model's samples, outputs, metric and judge scores in; out: its `EvalModelResult` (the aggregate
node: errors grouped by reason, tolerance, tokens, cost), its `AssertOutcome`s and its stored sample records."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

from ..plan.graph import AggregateNode, AssertNode
from ..providers.records import ChoiceScores, Generation, TextScore
from ..results import AssertOutcome, EvalModelResult, ResultStatus, SampleRecord, Stage, group_errors
from .judging import JudgeScores
from .samples import Sample
from .scoring import MetricScores, Output, output_error

_OPS = {
    ">=": lambda v, t: v >= t,
    "<=": lambda v, t: v <= t,
    ">": lambda v, t: v > t,
    "<": lambda v, t: v < t,
    "==": lambda v, t: math.isclose(v, t, rel_tol=1e-9, abs_tol=1e-12),
    "!=": lambda v, t: not math.isclose(v, t, rel_tol=1e-9, abs_tol=1e-12),
}


def sample_errors(
    samples: Sequence[Sample], outputs: Sequence[Output], metrics: Sequence[MetricScores],
    judges: Sequence[JudgeScores],
) -> dict[int, tuple[Stage, str]]:  # fmt: skip
    """The first error of each failed sample, by stage: rendering, the model call, a metric, a judge."""
    errors: dict[int, tuple[Stage, str]] = {}
    for i, (sample, out) in enumerate(zip(samples, outputs, strict=True)):
        if sample.error is not None:
            errors[i] = ("render", sample.error)
        elif (reason := output_error(out)) is not None:
            errors[i] = ("model", reason)
    for stage, scored in (("metric", metrics), ("judge", judges)):
        for m in scored:
            for i, reason in m.errors.items():
                errors.setdefault(i, (stage, reason))  # type: ignore[arg-type]
    return errors


def summarise(
    node: AggregateNode,
    samples: Sequence[Sample],
    outputs: Sequence[Output],
    metrics: Sequence[MetricScores],
    judges: Sequence[JudgeScores],
    hashes: Mapping[str, str],
) -> EvalModelResult:
    """The aggregate node: every metric's summary, the errors grouped by reason, and the status — "failed"
    when more than `max_error_rate` of the samples failed, "partial" when some did within it."""
    errors = sample_errors(samples, outputs, metrics, judges)
    n, n_errors = len(samples), len(errors)
    status: ResultStatus = "ok"
    if n_errors:
        status = "partial" if n_errors <= node.max_error_rate * n else "failed"
    gens = [o for o in outputs if isinstance(o, Generation) and o.error is None]
    tokens = [o.completion_tokens for o in gens if o.completion_tokens is not None]
    costs = [o.cost for o in gens if o.cost is not None]
    truncated = sum(1 for o in outputs if o is not None and o.error is None and o.truncated)
    summaries = {m.name: m.summary for m in metrics} | {j.name: j.summary for j in judges}
    return EvalModelResult(
        eval=node.eval,
        model=node.model,
        n=n,
        errors=n_errors,
        truncated=truncated,
        metrics={name: summaries[name] for name in node.metrics if name in summaries},
        status=status,
        max_error_rate=node.max_error_rate,
        error_summary=group_errors((i, stage, reason) for i, (stage, reason) in sorted(errors.items())),
        completion_tokens=sum(tokens) if tokens else None,
        cost=sum(costs) if costs else None,
        hashes=dict(hashes),
    )


def evaluate_assert(node: AssertNode, result: EvalModelResult) -> AssertOutcome:
    """pass / fail, or error when the result cannot support a verdict (the eval failed, or the metric scored
    no sample): an assert never passes on an eval whose errors exceed its tolerance."""
    metric = result.metrics.get(node.metric)
    value = metric.value if metric is not None else None
    error = AssertOutcome(node.eval, node.model, node.text, value, "error")
    if result.status == "failed":
        share = f"{result.errors} of {result.n} samples failed (tolerated: {result.max_error_rate:g})"
        return replace(error, reason=share)
    if value is None or not math.isfinite(value):
        return replace(error, reason=f"`{node.metric}` scored no sample")
    passed = _OPS[node.op](value, node.threshold)
    return AssertOutcome(node.eval, node.model, node.text, value, "pass" if passed else "fail")


def sample_records(
    eval_name: str,
    model: str,
    samples: Sequence[Sample],
    outputs: Sequence[Output],
    cached: Sequence[bool],
    metrics: Sequence[MetricScores],
    judges: Sequence[JudgeScores],
) -> list[SampleRecord]:
    errors = sample_errors(samples, outputs, metrics, judges)
    records = []
    for i, (sample, out) in enumerate(zip(samples, outputs, strict=True)):
        stage, reason = errors.get(i, (None, None))
        output: dict[str, object] = {}
        if isinstance(out, Generation):
            output = {"output": out.text, "latency": out.latency_s, "prompt_tokens": out.prompt_tokens,
                      "completion_tokens": out.completion_tokens, "cost": out.cost,
                      "finish_reason": out.finish_reason}  # fmt: skip
            if out.metadata is not None:
                output["metadata"] = out.metadata
            if out.tool_calls is not None:
                output["tool_calls"] = list(out.tool_calls)
        if sample.epoch or (i + 1 < len(samples) and samples[i + 1].epoch):
            output["epoch"] = sample.epoch  # one attempt of an eval with `epochs`
        if isinstance(out, ChoiceScores):
            output = {"choices": list(sample.choices), "labels": list(sample.labels), "logliks": list(out.logliks)}
        elif isinstance(out, TextScore):
            output = {"loglik": out.loglik, "n_tokens": out.n_tokens}
        records.append(
            SampleRecord(
                eval=eval_name,
                model=model,
                index=sample.index,
                row_id=sample.row_id if not sample.epoch else f"{sample.row_id}@{sample.epoch}",
                sample_key=sample.key,
                inputs=sample.row,
                prompt=sample.messages,
                references=sample.references,
                scores={m.name: m.scores[i] for m in metrics} | {j.name: j.scores[i] for j in judges},
                judges={j.name: j.records[i] for j in judges if j.records[i] is not None},
                error=reason,
                error_stage=stage,
                cached=cached[i],
                truncated=bool(out is not None and out.error is None and out.truncated),
                output=output,
            )
        )
    return records
