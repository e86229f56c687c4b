"""Tests for perplexity-mode corpus metrics: hand values, unit counting, corpus (not mean) aggregation."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from evaldsl.metrics import MetricError, build_metric
from evaldsl.metrics.base import MetricInput
from evaldsl.metrics.perplexity import count_bytes, count_words

TEXTS = [
    ("The quick brown fox jumps over the lazy dog.", -38.2, 11),
    ("Zürich liegt am Zürichsee – schön!", -61.5, 14),
    ("Tokyo (東京) is the capital of Japan.\n", -40.0, 12),
    ("a", -3.0, 1),
]


def inputs() -> list[MetricInput]:
    return [MetricInput(text=t, loglik=ll, n_tokens=n) for t, ll, n in TEXTS]


def corpus(kind: str) -> float:
    metric = build_metric(kind, {})
    assert metric.kind == "corpus"
    return metric.combine(np.sum([metric.stats(s) for s in inputs()], axis=0))


def test_unit_counting_as_lm_eval() -> None:
    assert count_words("hello world") == 2
    assert (
        count_words("hello  world\n") == 3
    )  # re.split(r"\s+") leaves a trailing empty piece, as lm-eval counts
    assert count_words("") == 1
    assert count_bytes("Zürich") == 7
    assert count_bytes("東京") == 6


def test_corpus_values() -> None:
    total_ll = sum(ll for _, ll, _ in TEXTS)
    tokens = sum(n for _, _, n in TEXTS)
    words = sum(len(re.split(r"\s+", t)) for t, _, _ in TEXTS)
    nbytes = sum(len(t.encode("utf-8")) for t, _, _ in TEXTS)
    assert corpus("cross_entropy") == pytest.approx(-total_ll / tokens, rel=1e-12)
    assert corpus("perplexity") == pytest.approx(math.exp(-total_ll / tokens), rel=1e-12)
    assert corpus("word_perplexity") == pytest.approx(math.exp(-total_ll / words), rel=1e-12)
    assert corpus("byte_perplexity") == pytest.approx(math.exp(-total_ll / nbytes), rel=1e-12)
    assert corpus("bits_per_byte") == pytest.approx(-total_ll / nbytes / math.log(2), rel=1e-12)
    assert corpus("bits_per_byte") == pytest.approx(math.log2(corpus("byte_perplexity")), rel=1e-12)
    # corpus aggregation is not the mean of per-text perplexities
    per_text = np.mean([math.exp(-ll / n) for _, ll, n in TEXTS])
    assert abs(corpus("perplexity") - per_text) > 1.0


def test_hand_value_and_edges() -> None:
    metric = build_metric("perplexity", {})
    row = metric.stats(MetricInput(text="ab", loglik=-2 * math.log(4), n_tokens=2))
    assert metric.combine(np.asarray(row)) == pytest.approx(4.0)
    assert metric.stats(MetricInput(text="ab", loglik=None, n_tokens=2)) is None
    assert metric.stats(MetricInput(text="ab", loglik=-1.0, n_tokens=None)) is None
    assert build_metric("word_perplexity", {}).stats(MetricInput(loglik=-1.0, n_tokens=1)) is None
    assert math.isnan(metric.combine(np.array([0.0, 0.0])))
    assert metric.combine(np.array([-1e6, 1.0])) == math.inf
    with pytest.raises(MetricError, match="<= 0"):
        metric.stats(MetricInput(text="ab", loglik=0.5, n_tokens=2))
