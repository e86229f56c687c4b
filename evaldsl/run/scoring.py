"""Samples + model outputs → per-sample metric scores, per-sample metric errors, and a `MetricSummary` with n
and a bootstrap CI for each metric node."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..limits import METRIC_SECONDS, LimitExceeded, time_limit
from ..metrics import build_metric
from ..metrics.base import MetricError, MetricInput
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


def metric_input(sample: Sample, out: Output) -> MetricInput:
    """What a metric sees for one sample whose model call succeeded."""
    if isinstance(out, Generation):
        return MetricInput(
            prediction=out.text.strip(), references=sample.references, incorrect=sample.incorrect, row=sample.row
        )
    if isinstance(out, ChoiceScores):
        return MetricInput(choices=sample.choices, choice_logliks=out.logliks, labels=sample.labels, row=sample.row)
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
) -> MetricScores:
    """Score every usable sample. A sample the metric cannot score (None) is unscored; a sample on which the
    metric raised is an error of that sample, with the metric's message."""
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
    values: list[float] = []
    for i, (sample, out) in enumerate(zip(samples, outputs, strict=True)):
        if not usable(sample, out):
            continue
        try:
            with time_limit(METRIC_SECONDS, f"metric {node.name}"):
                if metric.kind == "corpus":
                    stats = metric.stats(metric_input(sample, out))
                else:
                    value = metric.score(metric_input(sample, out))
        except (MetricError, LimitExceeded) as exc:
            errors[i] = str(exc)
            continue
        if metric.kind == "corpus":
            if stats is None:
                unscored += 1
            else:
                rows.append(list(stats))
            continue
        if value is None or (isinstance(value, float) and math.isnan(value)):
            unscored += 1
        else:
            scores[i] = float(value)
            values.append(float(value))
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
