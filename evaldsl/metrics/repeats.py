"""Metrics over a sample's repeated attempts (`epochs = k` on the eval): `pass_at(k)` (the unbiased estimator of
Chen et al. 2021), `pass_all(k)` and `attempt_variance`. Each scores every attempt with an inner metric, then
turns one sample's attempt scores into one value."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import comb
from typing import Literal

from evaldsl.metrics.base import MetricError, MetricInput, SampleMetric


def pass_at_k(n: int, c: int, k: int) -> float:
    """The probability that at least one of k attempts drawn without replacement from n attempts, c of them
    correct, is correct: 1 - C(n-c, k) / C(n, k) (Chen et al. 2021, unbiased for the model's pass@k)."""
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_all_k(n: int, c: int, k: int) -> float:
    """The probability that all k attempts drawn without replacement from n attempts (c correct) are correct:
    C(c, k) / C(n, k)."""
    return comb(c, k) / comb(n, k)


@dataclass(frozen=True)
class AcrossAttempts:
    """A per-sample metric over attempts: `statistic` is "pass_at", "pass_all" or "variance"; an attempt
    passes when the inner metric scores at least `threshold`. The runner calls `over_attempts` with one
    sample's attempt scores (None: unscored); scoring one attempt alone is not possible."""

    name: str
    inner: SampleMetric
    statistic: Literal["pass_at", "pass_all", "variance"]
    k: int = 1
    threshold: float = 1.0
    kind: Literal["sample"] = field(default="sample", init=False)

    def __post_init__(self) -> None:
        if self.k < 1:
            raise MetricError(f"metric {self.name!r}: k must be at least 1 (got {self.k})")

    def score(self, s: MetricInput) -> float | None:
        return self.inner.score(s)  # one attempt: the inner score, combined by `over_attempts`

    def over_attempts(self, scores: Sequence[float | None]) -> float | None:
        """One sample's value from its attempts' inner scores; None when too few attempts were scored."""
        scored = [s for s in scores if s is not None]
        if self.statistic == "variance":
            return statistics.pvariance(scored) if len(scored) >= 2 else None
        if len(scored) < self.k:
            return None
        passed = sum(s >= self.threshold for s in scored)
        estimate = pass_at_k if self.statistic == "pass_at" else pass_all_k
        return estimate(len(scored), passed, self.k)
