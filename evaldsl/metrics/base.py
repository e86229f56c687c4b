"""Metric interface: a `MetricInput` (one sample) in; a score or corpus sufficient statistics out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

__all__ = ["CorpusMetric", "Metric", "MetricError", "MetricInput", "SampleMetric"]


@dataclass(frozen=True)
class MetricInput:
    """Everything a metric may look at for one sample (only the fields of the eval's mode are filled)."""

    prediction: str | None = None  # generate mode
    references: tuple[str, ...] = ()  # generate mode: acceptable answers
    incorrect: tuple[str, ...] = ()  # generate mode: known wrong answers (TruthfulQA-style *_diff/_acc)
    choices: tuple[str, ...] = ()  # choice mode: the choice texts (without delimiter)
    choice_logliks: tuple[float, ...] = ()
    choice_greedy: tuple[bool, ...] = ()  # choice mode: whether greedy decoding gives each choice, where known
    labels: tuple[int, ...] = ()  # choice mode: 1 = true choice, 0 = false
    text: str | None = None  # perplexity mode: the scored text
    loglik: float | None = None  # perplexity mode: total log-likelihood
    n_tokens: int | None = None  # perplexity mode: tokens scored
    row: Mapping[str, Any] = field(default_factory=dict)
    tool_calls: tuple[Mapping[str, Any], ...] = ()  # generate mode: the calls the reply made ({name, arguments})
    tools: tuple[Mapping[str, Any], ...] = ()  # the tools the model was given ({name, description, parameters})


class MetricError(Exception):
    """A user-facing metric problem: bad parameters, a python metric that cannot be imported or that raised.

    Raised by `build_metric` at build time, and by `score`/`stats` of a `python(...)` metric when the user's
    function raises or returns something that is not a number (the runner counts those per sample).
    """


@runtime_checkable
class SampleMetric(Protocol):
    """Scored per sample and aggregated by mean. `score` returns None when the sample cannot be scored
    (e.g. no references): such samples are counted, never turned into 0."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> Literal["sample"]: ...

    def score(self, s: MetricInput) -> float | None: ...


@runtime_checkable
class CorpusMetric(Protocol):
    """Corpus-level (BLEU, chrF, perplexity). `stats` gives the per-sample sufficient statistics (a
    fixed-length list, or None when the sample cannot be scored); `combine` turns their column sums into the
    value, so a bootstrap resamples rows, sums them and combines."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> Literal["corpus"]: ...

    def stats(self, s: MetricInput) -> list[float] | None: ...

    def combine(self, summed: np.ndarray) -> float: ...


Metric = SampleMetric | CorpusMetric
