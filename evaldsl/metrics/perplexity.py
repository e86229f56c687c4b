"""Perplexity-mode corpus metrics: per-text log-likelihood and units -> perplexity, cross-entropy, bpb."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from evaldsl.metrics.base import MetricError, MetricInput

Unit = Literal["tokens", "words", "bytes"]
Transform = Literal["exp", "nats", "bits"]
_WHITESPACE = re.compile(r"\s+")


def count_words(text: str) -> int:
    """Words as lm-evaluation-harness counts them: the pieces of `re.split(r"\\s+", text)`."""
    return len(_WHITESPACE.split(text))


def count_bytes(text: str) -> int:
    """UTF-8 bytes of the text."""
    return len(text.encode("utf-8"))


@dataclass(frozen=True)
class LoglikRatio:
    """Corpus metric over stats [loglik, units]: value = f(-sum loglik / sum units) with f = exp (perplexity),
    identity (nats per unit) or /ln 2 (bits per unit)."""

    name: str = "perplexity"
    unit: Unit = "tokens"
    transform: Transform = "exp"
    kind: Literal["corpus"] = field(default="corpus", init=False)

    def stats(self, s: MetricInput) -> list[float] | None:
        if s.loglik is None:
            return None
        if self.unit == "tokens":
            if s.n_tokens is None:
                return None
            units = int(s.n_tokens)
        elif s.text is None:
            return None
        elif self.unit == "words":
            units = count_words(s.text)
        else:
            units = count_bytes(s.text)
        loglik = float(s.loglik)
        if math.isnan(loglik) or loglik > 0:
            raise MetricError(f"metric {self.name!r}: log-likelihood must be <= 0, got {s.loglik}")
        return [loglik, float(units)]

    def combine(self, summed: np.ndarray) -> float:
        return per_unit(summed, self.transform)


def per_unit(summed: np.ndarray, transform: Transform) -> float:
    """Summed stats [loglik, units] → f(-loglik / units): exp (a perplexity), nats, or bits; NaN without units."""
    total_loglik, units = (float(x) for x in np.asarray(summed, dtype=float).ravel())
    if units <= 0:
        return math.nan
    nats = -total_loglik / units
    if transform == "nats":
        return nats
    if transform == "bits":
        return nats / math.log(2)
    try:
        return math.exp(nats)
    except OverflowError:
        return math.inf
