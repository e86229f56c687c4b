"""Tests for bootstrap estimates, paired deltas and McNemar: determinism, edges, coverage, exact values."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from evaldsl.stats.bootstrap import Estimate, corpus_estimate, mcnemar_p, mean_estimate, paired_delta, sign_flip_p


def ratio(summed: np.ndarray) -> float:
    return float(summed[0] / summed[1])


def test_mean_estimate_deterministic_and_seeded() -> None:
    values = np.random.default_rng(0).random(500).tolist()
    first = mean_estimate(values, seed=7)
    assert first == mean_estimate(values, seed=7)
    assert first != mean_estimate(values, seed=8)
    assert first.value == pytest.approx(float(np.mean(values)), abs=1e-15)
    assert first.ci_low < first.value < first.ci_high and first.n == 500
    wider = mean_estimate(values, seed=7, level=0.99)
    assert wider.ci_low < first.ci_low and wider.ci_high > first.ci_high


def test_edge_sizes() -> None:
    empty = mean_estimate([])
    assert empty.n == 0 and all(math.isnan(x) for x in (empty.value, empty.ci_low, empty.ci_high))
    assert mean_estimate([0.25]) == Estimate(0.25, 0.25, 0.25, 1)
    constant = mean_estimate([1.0] * 50)
    assert constant == Estimate(1.0, 1.0, 1.0, 50)
    no_rows = corpus_estimate(np.zeros((0, 2)), ratio)
    assert no_rows.n == 0 and math.isnan(no_rows.value)
    assert corpus_estimate(np.array([[3.0, 4.0]]), ratio) == Estimate(0.75, 0.75, 0.75, 1)
    with pytest.raises(ValueError):
        mean_estimate([1.0, float("nan")])
    with pytest.raises(ValueError):
        mean_estimate([1.0, 2.0], level=1.5)
    with pytest.raises(ValueError):
        corpus_estimate(np.array([1.0, 2.0]), ratio)


def test_true_mean_inside_ci_on_large_sample() -> None:
    draws = np.random.default_rng(42).normal(0.3, 1.0, size=20_000)
    est = mean_estimate(draws, seed=1)
    assert est.ci_low < 0.3 < est.ci_high
    # half-width close to the normal-theory 1.96 * sd / sqrt(n)
    assert (est.ci_high - est.ci_low) / 2 == pytest.approx(1.96 / math.sqrt(20_000), rel=0.1)


def test_coverage_of_95_percent_interval() -> None:
    rng = np.random.default_rng(2024)
    hits = 0
    trials = 200
    for t in range(trials):
        est = mean_estimate(rng.binomial(1, 0.7, size=200).astype(float), seed=t, n_boot=500)
        hits += est.ci_low <= 0.7 <= est.ci_high
    assert 0.88 <= hits / trials <= 0.99


def test_corpus_estimate_matches_mean_for_a_mean() -> None:
    values = np.random.default_rng(3).random(300)
    stats = np.column_stack([values, np.ones_like(values)])
    corpus = corpus_estimate(stats, ratio, seed=5, n_boot=400)
    mean = mean_estimate(values, seed=5, n_boot=400)
    assert corpus.n == mean.n == 300
    for a, b in ((corpus.value, mean.value), (corpus.ci_low, mean.ci_low), (corpus.ci_high, mean.ci_high)):
        assert a == pytest.approx(b, abs=1e-12)
    assert corpus == corpus_estimate(stats, ratio, seed=5, n_boot=400)


def test_corpus_ratio_is_not_mean_of_ratios() -> None:
    stats = np.array([[1.0, 1.0], [0.0, 9.0]])
    assert corpus_estimate(stats, ratio).value == pytest.approx(0.1)


def test_paired_delta() -> None:
    a = np.random.default_rng(9).random(400)
    same_delta, p_same = paired_delta(a, a)
    assert same_delta == Estimate(0.0, 0.0, 0.0, 400) and p_same == 1.0
    b = a + 0.05 + np.random.default_rng(10).normal(0, 0.05, size=400)
    delta, p = paired_delta(a, b, seed=1)
    assert delta.value == pytest.approx(float(np.mean(b - a)))
    assert delta.ci_low > 0 and p < 0.01
    assert (delta, p) == paired_delta(a, b, seed=1)
    noise = a + np.random.default_rng(11).normal(0, 0.05, size=400)
    assert paired_delta(a, noise, seed=1)[1] > 0.05
    with pytest.raises(ValueError, match="length"):
        paired_delta([1.0, 2.0], [1.0])


def test_sign_flip_exact_p_values() -> None:
    # five equal positive differences: only the all-plus and all-minus flips are as extreme -> 2/32
    assert sign_flip_p(np.ones(5)) == pytest.approx(2 / 32)
    diffs = np.array([0.3, -0.1, 0.4, 0.2, 0.0, 0.25])
    nonzero = diffs[diffs != 0]
    observed = abs(nonzero.sum())
    flips = [abs(np.dot(s, nonzero)) >= observed - 1e-12 for s in itertools.product((1, -1), repeat=5)]
    assert sign_flip_p(diffs) == pytest.approx(sum(flips) / 32)
    # Monte Carlo branch agrees with the exact value for a larger sample
    big = np.random.default_rng(4).normal(0.1, 1.0, size=60)
    mc = sign_flip_p(big, n_perm=20_000)
    assert 0.0 < mc <= 1.0 and mc == sign_flip_p(big, n_perm=20_000)


def test_mcnemar_exact_values() -> None:
    # 0 vs 5 discordant pairs: 2 * (1/2)^5
    assert mcnemar_p([0] * 5 + [1] * 3, [1] * 5 + [1] * 3) == pytest.approx(0.0625)
    assert mcnemar_p([1, 0, 1], [1, 0, 1]) == 1.0
    # b = 2, c = 8: 2 * (C(10,0) + C(10,1) + C(10,2)) / 2^10
    a = [1, 1] + [0] * 8 + [1] * 5
    b = [0, 0] + [1] * 8 + [1] * 5
    assert mcnemar_p(a, b) == pytest.approx(2 * (1 + 10 + 45) / 1024)
    assert mcnemar_p(b, a) == mcnemar_p(a, b)
    with pytest.raises(ValueError, match="0/1"):
        mcnemar_p([0.5], [1])


def test_mcnemar_agrees_with_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(8)
    for _ in range(20):
        n = int(rng.integers(5, 400))
        a = rng.binomial(1, 0.6, size=n)
        b = rng.binomial(1, 0.5, size=n)
        k, m = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
        expected = stats.binomtest(min(k, m), k + m, 0.5).pvalue if k + m else 1.0
        assert mcnemar_p(a, b) == pytest.approx(expected, rel=1e-9)
    # large discordant counts stay exact and fast
    big_a = [1] * 3000 + [0] * 3200
    big_b = [0] * 3000 + [1] * 3200
    assert mcnemar_p(big_a, big_b) == pytest.approx(stats.binomtest(3000, 6200, 0.5).pvalue, rel=1e-9)
