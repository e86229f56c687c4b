"""Samples + model outputs → per-sample metric scores, per-sample metric errors, and a `MetricSummary` with n
and a bootstrap CI for each metric node."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..limits import METRIC_SECONDS, LimitExceeded, time_limit_each
from ..metrics import build_metric
from ..metrics.base import MetricError, MetricInput
from ..metrics.repeats import AcrossAttempts
from ..plan.graph import MetricNode
from ..providers.records import ChoiceScores, Generation, TextScore
from ..results import MetricSummary
from ..stats.bootstrap import Estimate, corpus_estimate, mean_estimate
from .errors import RunFailed
from .samples import Sample

Output = Generation | ChoiceScores | TextScore | None


def output_error(out: Output) -> str | None:
    if out is None:
        return "no output"
    return out.error


def usable(sample: Sample, out: Output) -> bool:
    """Whether a sample reached a metric: rendered, and its model call succeeded."""
    return sample.error is None and output_error(out) is None


def metric_input(sample: Sample, out: Output, tools: tuple[Any, ...] = ()) -> MetricInput:
    """What a metric sees for one sample whose model call succeeded."""
    if isinstance(out, Generation):
        return MetricInput(
            prediction=out.text.strip(), references=sample.references, incorrect=sample.incorrect, row=sample.row,
            tool_calls=tuple(out.tool_calls or ()), tools=tools,
        )  # fmt: skip
    if isinstance(out, ChoiceScores):
        return MetricInput(choices=sample.choices, choice_logliks=out.logliks, choice_greedy=out.is_greedy,
                           labels=sample.labels, row=sample.row)  # fmt: skip
    assert isinstance(out, TextScore)
    return MetricInput(text=sample.text, loglik=out.loglik, n_tokens=out.n_tokens, row=sample.row)


@dataclass
class MetricScores:
    """One metric of one eval × model: per-sample scores (None = not scored; corpus metrics have none), the
    samples where the metric itself failed (index → reason: these are sample errors), and the summary."""

    name: str
    scores: list[float | None]
    summary: MetricSummary
    errors: dict[int, str] = field(default_factory=dict)


def score_metric(
    node: MetricNode,
    samples: Sequence[Sample],
    outputs: Sequence[Output],
    *,
    seed: int = 0,
    n_boot: int = 1000,
    allow_python: frozenset[str] = frozenset(),
    epochs: int = 1,
) -> MetricScores:
    """Score every usable sample. A sample the metric cannot score (None) is unscored; a sample on which the
    metric raised is an error of that sample, with the metric's message. With `epochs` > 1 the samples are
    attempts, `epochs` consecutive ones per row: the summary is over rows (each row's attempts averaged, a
    corpus metric's statistics summed per row, an across-attempts metric computed per row), so its n counts
    rows and its confidence interval resamples rows, not attempts."""
    try:
        metric = build_metric(
            node.family, node.params, name=node.name, base_dir=node.base_dir, allow_python=allow_python
        )
    except MetricError as exc:
        raise RunFailed(f"metric {node.name}: {exc}") from None
    scores: list[float | None] = [None] * len(samples)
    errors: dict[int, str] = {}
    unscored = 0
    rows: list[list[float]] = []
    row_of: list[int] = []  # the dataset row of each corpus statistics row
    values: list[float] = []
    with time_limit_each(METRIC_SECONDS, f"metric {node.name}") as limit:
        for i, (sample, out) in enumerate(zip(samples, outputs, strict=True)):
            if not usable(sample, out):
                continue
            try:
                limit.arm()
                if metric.kind == "corpus":
                    stats = metric.stats(metric_input(sample, out, node.tools))
                else:
                    value = metric.score(metric_input(sample, out, node.tools))
            except (MetricError, LimitExceeded) as exc:
                errors[i] = str(exc)
                continue
            finally:
                limit.disarm()
            if metric.kind == "corpus":
                if stats is None:
                    unscored += 1
                else:
                    rows.append(list(stats))
                    row_of.append(i // epochs)
                continue
            if value is None or (isinstance(value, float) and math.isnan(value)):
                unscored += 1
            else:
                scores[i] = float(value)
                values.append(float(value))
    if epochs > 1:
        return _over_rows(node, metric, scores, errors, rows, row_of, epochs, seed=seed, n_boot=n_boot)
    if metric.kind == "corpus":
        estimate = (
            corpus_estimate(np.asarray(rows, dtype=float), metric.combine, seed=seed, n_boot=n_boot)
            if rows
            else empty_estimate()
        )
    else:
        estimate = mean_estimate(values, seed=seed, n_boot=n_boot) if values else empty_estimate()
    summary = MetricSummary.from_estimate(
        estimate, unscored=unscored, family=node.family, kind=metric.kind, higher_is_better=node.higher_is_better,
        range=node.range,
    )  # fmt: skip
    return MetricScores(node.name, scores, summary, errors)


def estimate_of(values: Sequence[float | None], *, seed: int = 0, n_boot: int = 1000) -> tuple[Estimate, int]:
    """Mean estimate over the scored values, and how many were unscored."""
    scored = [float(v) for v in values if v is not None]
    unscored = sum(v is None for v in values)
    return (mean_estimate(scored, seed=seed, n_boot=n_boot) if scored else empty_estimate()), unscored


def empty_estimate() -> Estimate:
    return Estimate(value=float("nan"), ci_low=float("nan"), ci_high=float("nan"), n=0)


def row_means(scores: Sequence[float | None], epochs: int) -> list[float]:
    """Each row's mean over its scored attempts (rows without one are left out)."""
    means = []
    for start in range(0, len(scores), epochs):
        scored = [v for v in scores[start : start + epochs] if v is not None]
        if scored:
            means.append(sum(scored) / len(scored))
    return means


def over_rows(summary: MetricSummary, scores: Sequence[float | None], epochs: int, *, seed: int, n_boot: int,
              ) -> MetricSummary:  # fmt: skip
    """A per-attempt summary (a judge's) made a per-row one: the mean of each row's attempts, resampled by row."""
    means = row_means(scores, epochs)
    estimate = mean_estimate(means, seed=seed, n_boot=n_boot) if means else empty_estimate()
    unscored = sum(all(v is None for v in scores[i : i + epochs]) for i in range(0, len(scores), epochs))
    return replace(summary, value=estimate.value, ci_low=estimate.ci_low, ci_high=estimate.ci_high, n=estimate.n,
                   unscored=min(summary.unscored, unscored))  # fmt: skip


def _over_rows(
    node: MetricNode, metric: Any, scores: list[float | None], errors: dict[int, str], rows: list[list[float]],
    row_of: list[int], epochs: int, *, seed: int, n_boot: int,
) -> MetricScores:  # fmt: skip
    n_rows = -(-len(scores) // epochs)
    unscored = 0
    if metric.kind == "corpus":
        width = len(rows[0]) if rows else 0
        summed = np.zeros((n_rows, width))
        seen = np.zeros(n_rows, dtype=bool)
        for stats, row in zip(rows, row_of, strict=True):
            summed[row] += stats
            seen[row] = True
        estimate = (corpus_estimate(summed[seen], metric.combine, seed=seed, n_boot=n_boot) if seen.any()
                    else empty_estimate())  # fmt: skip
        unscored = int(n_rows - seen.sum())
    else:
        if isinstance(metric, AcrossAttempts):
            per_row = [metric.over_attempts(scores[r * epochs : (r + 1) * epochs]) for r in range(n_rows)]
            values = [v for v in per_row if v is not None]
        else:
            values = row_means(scores, epochs)
        unscored = n_rows - len(values)
        estimate = mean_estimate(values, seed=seed, n_boot=n_boot) if values else empty_estimate()
    summary = MetricSummary.from_estimate(
        estimate, unscored=unscored, family=node.family, kind=metric.kind, higher_is_better=node.higher_is_better,
        range=node.range,
    )  # fmt: skip
    return MetricScores(node.name, scores, summary, errors)
