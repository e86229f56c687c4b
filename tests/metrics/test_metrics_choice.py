"""Tests for accuracy, accuracy_norm, mc1, mc2 against hand values and lm-eval's numpy formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from evaldsl.metrics import MetricError, build_metric
from evaldsl.metrics.base import MetricInput


def sample(lls: list[float], labels: list[int], choices: list[str] | None = None) -> MetricInput:
    texts = choices if choices is not None else [f"choice {i}" for i in range(len(lls))]
    return MetricInput(choices=tuple(texts), choice_logliks=tuple(lls), labels=tuple(labels))


def score(kind: str, s: MetricInput) -> float | None:
    return build_metric(kind, {}).score(s)


def test_accuracy_and_ties() -> None:
    assert score("accuracy", sample([-3.0, -1.0, -2.0], [0, 1, 0])) == 1.0
    assert score("accuracy", sample([-3.0, -1.0, -2.0], [1, 0, 1])) == 0.0
    # ties resolve to the first maximum, like numpy.argmax
    assert score("accuracy", sample([-1.0, -1.0], [1, 0])) == 1.0
    assert score("accuracy", sample([-1.0, -1.0], [0, 1])) == 0.0


def test_accuracy_norm_uses_character_length_of_choice_text() -> None:
    # raw: " Paris" (-4.0) beats " the capital city of France" (-6.0); per character the long one wins
    s = sample([-4.0, -6.0], [0, 1], ["Paris", "the capital city of France"])
    assert score("accuracy", s) == 0.0
    assert score("accuracy_norm", s) == 1.0
    # lm-eval: np.argmax(lls / np.array([float(len(c)) for c in choices])) in gold
    rng = np.random.default_rng(5)
    for _ in range(200):
        k = int(rng.integers(2, 6))
        choices = ["x" * int(n) for n in rng.integers(1, 40, size=k)]
        lls = (-rng.random(k) * 30).tolist()
        gold = int(rng.integers(0, k))
        labels = [int(i == gold) for i in range(k)]
        expected = float(np.argmax(np.array(lls) / np.array([float(len(c)) for c in choices])) == gold)
        assert score("accuracy_norm", sample(lls, labels, choices)) == expected
    assert score("accuracy_norm", sample([-1.0, -2.0], [1, 0], ["", "b"])) is None
    with pytest.raises(MetricError, match="choice texts"):
        score("accuracy_norm", sample([-1.0, -2.0], [1, 0], ["a"]))


def test_mc1_requires_the_first_true_choice() -> None:
    assert score("mc1", sample([-1.0, -2.0, -3.0], [1, 1, 0])) == 1.0
    # a true choice wins, but not the best answer (first label-1): mc1 = 0, accuracy = 1
    s = sample([-2.0, -1.0, -3.0], [1, 1, 0])
    assert score("mc1", s) == 0.0 and score("accuracy", s) == 1.0
    assert score("mc1", sample([-2.0, -1.0], [1, 0])) == 0.0


def test_mc2_matches_lm_eval_and_is_stable() -> None:
    lls = [-2.3, -0.7, -5.1, -1.9, -3.3]
    labels = [1, 1, 0, 0, 0]
    p = np.exp(np.array(lls))
    expected = float(sum(p[:2]) / (sum(p[:2]) + sum(p[2:])))
    assert score("mc2", sample(lls, labels)) == pytest.approx(expected, abs=1e-12)
    # two equally likely choices, one true -> 0.5; log-likelihoods far below exp's range stay exact
    assert score("mc2", sample([-2000.0, -2000.0], [1, 0])) == pytest.approx(0.5)
    with np.errstate(invalid="ignore"):
        naive = np.exp([-2000.0, -2000.0])
        assert math.isnan(naive[0] / naive.sum())
    assert score("mc2", sample([-1.0, -math.inf], [0, 1])) == 0.0
    assert score("mc2", sample([-math.inf, -math.inf], [0, 1])) is None
    # true choices need not come first
    assert score("mc2", sample([-0.5, -0.5, -0.5, -0.5], [0, 1, 0, 1])) == pytest.approx(0.5)


def test_unscorable_and_bad_data() -> None:
    for kind in ("accuracy", "accuracy_norm", "mc1", "mc2"):
        assert score(kind, sample([], [])) is None
        assert score(kind, sample([-1.0, -2.0], [0, 0])) is None  # no true choice
        assert score(kind, sample([float("nan"), -2.0], [1, 0])) is None
        with pytest.raises(MetricError, match="labels"):
            score(kind, sample([-1.0, -2.0], [1]))
        with pytest.raises(MetricError, match="0 or 1"):
            score(kind, sample([-1.0, -2.0], [2, 0]))


def test_greedy_match_reads_the_true_choices_greediness() -> None:
    one = MetricInput(choices=(" dog",), choice_logliks=(-2.5,), choice_greedy=(True,), labels=(1,))
    assert score("greedy_match", one) == 1.0
    assert score("greedy_match", MetricInput(choices=(" dog",), choice_logliks=(-2.5,), choice_greedy=(False,),
                                             labels=(1,))) == 0.0  # fmt: skip
    several = MetricInput(choices=("a", "b", "c"), choice_logliks=(-1.0, -2.0, -3.0),
                          choice_greedy=(True, False, False), labels=(0, 1, 1))  # fmt: skip
    assert score("greedy_match", several) == 0.0  # the first true choice decides
    assert score("greedy_match", sample([-2.5], [1])) is None  # a provider that does not say is unscored
    assert score("greedy_match", sample([-2.5], [0])) is None


def test_target_perplexity_is_lm_evals_loglikelihood_perplexity() -> None:
    metric = build_metric("target_perplexity", {})
    lls = [-2.0, -0.5, -7.25, -3.0]
    rows = [metric.stats(MetricInput(choices=("x",), choice_logliks=(ll,), labels=(1,))) for ll in lls]
    # lm-evaluation-harness: `perplexity` items are each document's loglik; the aggregate is exp(-mean(items)).
    assert metric.combine(np.sum(np.asarray(rows), axis=0)) == pytest.approx(math.exp(-np.mean(lls)), rel=1e-12)
    assert metric.stats(sample([-9.0, -1.0], [0, 1])) == [-1.0, 1.0]  # the true choice's loglik
    assert metric.stats(sample([-1.0], [0])) is None
    with pytest.raises(MetricError, match="<= 0"):
        metric.stats(sample([0.5], [1]))
    assert build_metric("target_perplexity", {}).combine(np.asarray([-1e6, 1.0])) == math.inf
