"""Samples + model outputs → per-sample metric scores and aggregates with n and a bootstrap CI."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..metrics import build_metric
from ..metrics.base import MetricError
from ..plan.graph import MetricNode
from ..providers.records import ChoiceScores, Generation, MetricInput, TextScore
from ..stats.bootstrap import Estimate, corpus_estimate, mean_estimate
from .samples import Sample

Output = Generation | ChoiceScores | TextScore | None


def output_error(out: Output) -> str | None:
    if out is None:
        return "no output"
    return out.error


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
class MetricResult:
    """Per-sample scores (None = not scored) and the aggregate of one metric for one eval × model."""

    name: str
    scores: list[float | None]
    estimate: Estimate
    unscored: int = 0
    failures: list[str] = field(default_factory=list)  # distinct reasons samples went unscored


def score_metric(
    node: MetricNode, samples: Sequence[Sample], outputs: Sequence[Output], *, seed: int = 0, n_boot: int = 1000
) -> MetricResult:
    """Score every usable sample; samples with render/model errors are skipped (they are counted as errors)."""
    metric = build_metric(node.family, node.params, name=node.name, base_dir=node.base_dir)
    scores: list[float | None] = []
    failures: dict[str, None] = {}
    unscored = 0
    if metric.kind == "corpus":
        rows: list[list[float]] = []
        for sample, out in zip(samples, outputs, strict=True):
            if sample.error is not None or output_error(out) is not None:
                scores.append(None)
                continue
            try:
                stats = metric.stats(metric_input(sample, out))
            except MetricError as exc:
                failures[str(exc)] = None
                stats = None
            if stats is None:
                unscored += 1
            else:
                rows.append(list(stats))
            scores.append(None)
        matrix = np.asarray(rows, dtype=float) if rows else np.zeros((0, 1))
        estimate = corpus_estimate(matrix, metric.combine, seed=seed, n_boot=n_boot) if rows else _empty()
        return MetricResult(node.name, scores, estimate, unscored, list(failures))
    values: list[float] = []
    for sample, out in zip(samples, outputs, strict=True):
        if sample.error is not None or output_error(out) is not None:
            scores.append(None)
            continue
        try:
            value = metric.score(metric_input(sample, out))
        except MetricError as exc:
            failures[str(exc)] = None
            value = None
        if value is None or (isinstance(value, float) and math.isnan(value)):
            unscored += 1
            scores.append(None)
        else:
            scores.append(float(value))
            values.append(float(value))
    estimate = mean_estimate(values, seed=seed, n_boot=n_boot) if values else _empty()
    return MetricResult(node.name, scores, estimate, unscored, list(failures))


def estimate_of(values: Sequence[float | None], *, seed: int = 0, n_boot: int = 1000) -> tuple[Estimate, int]:
    """Mean estimate over the scored values, and how many were unscored."""
    scored = [float(v) for v in values if v is not None]
    unscored = sum(v is None for v in values)
    return (mean_estimate(scored, seed=seed, n_boot=n_boot) if scored else _empty()), unscored


def _empty() -> Estimate:
    return Estimate(value=float("nan"), ci_low=float("nan"), ci_high=float("nan"), n=0)


def compare(value: float, op: str, threshold: float) -> bool:
    if math.isnan(value):
        return False
    return {
        ">=": value >= threshold,
        "<=": value <= threshold,
        ">": value > threshold,
        "<": value < threshold,
        "==": math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12),
        "!=": not math.isclose(value, threshold, rel_tol=1e-9, abs_tol=1e-12),
    }[op]


def jsonable(value: Any) -> Any:
    """NaN/inf → None so JSON output stays valid."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
