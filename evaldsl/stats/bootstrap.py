"""Seeded statistics: per-sample scores or corpus statistics -> estimates with bootstrap CIs, paired tests."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

# Bound the size of one resampling block (rows x samples) so large evals do not allocate gigabytes.
_BLOCK_CELLS = 4_000_000
# Up to this many non-zero paired differences, the sign-flip test enumerates all 2^n flips (exact p-value).
_EXACT_FLIP_MAX = 12


@dataclass(frozen=True)
class Estimate:
    """A point value with a percentile-bootstrap confidence interval over n samples."""

    value: float
    ci_low: float
    ci_high: float
    n: int


def _check(n_boot: int, level: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")


def _index_blocks(rng: np.random.Generator, n: int, n_boot: int) -> Iterator[np.ndarray]:
    """Bootstrap index matrices (rows = resamples, each n indices drawn with replacement), in blocks."""
    rows = max(1, _BLOCK_CELLS // n)
    for start in range(0, n_boot, rows):
        yield rng.integers(0, n, size=(min(rows, n_boot - start), n))


def _interval(replicates: np.ndarray, level: float) -> tuple[float, float]:
    alpha = (1.0 - level) / 2.0
    finite = replicates[~np.isnan(replicates)]
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(low), float(high)


def mean_estimate(
    values: Sequence[float] | np.ndarray, *, seed: int = 0, n_boot: int = 1000, level: float = 0.95
) -> Estimate:
    """Mean of `values` with a percentile-bootstrap CI (numpy default_rng(seed); deterministic).
    n = 0 gives NaN everywhere; n = 1 gives a zero-width CI at the value."""
    _check(n_boot, level)
    data = np.asarray(values, dtype=float).ravel()
    n = int(data.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    if np.isnan(data).any():
        raise ValueError("mean_estimate: values contain NaN (pass only scored samples)")
    value = float(data.mean())
    if n == 1:
        return Estimate(value, value, value, 1)
    rng = np.random.default_rng(seed)
    means = np.concatenate([data[idx].mean(axis=1) for idx in _index_blocks(rng, n, n_boot)])
    low, high = _interval(means, level)
    return Estimate(value, low, high, n)


def corpus_estimate(
    stats: np.ndarray,
    combine: Callable[[np.ndarray], float],
    *,
    seed: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
) -> Estimate:
    """combine(column sums of `stats`) with a percentile-bootstrap CI: each replicate resamples the rows
    (samples) with replacement, sums them (counts matrix @ stats) and combines. Same draws as mean_estimate
    for the same n and seed."""
    _check(n_boot, level)
    matrix = np.asarray(stats, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"corpus_estimate: stats must be 2-D (samples x statistics), got {matrix.shape}")
    n = int(matrix.shape[0])
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    value = float(combine(matrix.sum(axis=0)))
    if n == 1:
        return Estimate(value, value, value, 1)
    rng = np.random.default_rng(seed)
    replicates: list[float] = []
    for idx in _index_blocks(rng, n, n_boot):
        rows = idx.shape[0]
        offsets = (np.arange(rows) * n)[:, None]
        counts = np.bincount((idx + offsets).ravel(), minlength=rows * n).reshape(rows, n)
        sums = counts.astype(float) @ matrix
        replicates.extend(float(combine(row)) for row in sums)
    low, high = _interval(np.asarray(replicates, dtype=float), level)
    return Estimate(value, low, high, n)


def _paired(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> np.ndarray:
    left = np.asarray(a, dtype=float).ravel()
    right = np.asarray(b, dtype=float).ravel()
    if left.shape != right.shape:
        raise ValueError(f"paired samples differ in length: {left.size} vs {right.size}")
    if np.isnan(left).any() or np.isnan(right).any():
        raise ValueError("paired samples contain NaN (pair only samples scored in both runs)")
    return right - left


def sign_flip_p(diffs: np.ndarray, *, seed: int = 0, n_perm: int = 1000) -> float:
    """Two-sided p-value of the paired sign-flip (permutation) test of mean(diffs) = 0.

    Exact (all 2^k flips) when at most 12 differences are non-zero; otherwise Monte Carlo with n_perm random
    flips, p = (1 + #{|flipped mean| >= |observed|}) / (n_perm + 1)."""
    nonzero = diffs[diffs != 0]
    k = int(nonzero.size)
    if k == 0:
        return 1.0
    observed = abs(float(nonzero.sum()))
    tolerance = 1e-12 * max(1.0, float(np.abs(nonzero).sum()))
    if k <= _EXACT_FLIP_MAX:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=k)))
        extreme = int(np.count_nonzero(np.abs(signs @ nonzero) >= observed - tolerance))
        return extreme / signs.shape[0]
    rng = np.random.default_rng(seed)
    extreme = 0
    rows = max(1, _BLOCK_CELLS // k)
    for start in range(0, n_perm, rows):
        block = rng.choice(np.array([-1.0, 1.0]), size=(min(rows, n_perm - start), k))
        extreme += int(np.count_nonzero(np.abs(block @ nonzero) >= observed - tolerance))
    return (1 + extreme) / (n_perm + 1)


def paired_delta(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    seed: int = 0,
    n_boot: int = 1000,
    level: float = 0.95,
) -> tuple[Estimate, float]:
    """Run-vs-run difference b - a on the same samples (in the same order): the mean difference with a
    bootstrap CI over samples, and the two-sided p-value of a paired sign-flip test."""
    diffs = _paired(a, b)
    estimate = mean_estimate(diffs, seed=seed, n_boot=n_boot, level=level)
    p_value = sign_flip_p(diffs, seed=seed, n_perm=n_boot) if diffs.size else math.nan
    return estimate, p_value


def mcnemar_p(a01: Sequence[float] | np.ndarray, b01: Sequence[float] | np.ndarray) -> float:
    """Exact (binomial) two-sided McNemar p-value for paired 0/1 outcomes: with b = #(a=1, b=0) and
    c = #(a=0, b=1), p = min(1, 2 * P[Binomial(b + c, 1/2) <= min(b, c)]), in exact integer arithmetic."""
    left = np.asarray(a01, dtype=float).ravel()
    right = np.asarray(b01, dtype=float).ravel()
    if left.shape != right.shape:
        raise ValueError(f"paired samples differ in length: {left.size} vs {right.size}")
    if not (np.isin(left, (0.0, 1.0)).all() and np.isin(right, (0.0, 1.0)).all()):
        raise ValueError("mcnemar_p needs 0/1 outcomes")
    only_a = int(np.count_nonzero((left == 1) & (right == 0)))
    only_b = int(np.count_nonzero((left == 0) & (right == 1)))
    total = only_a + only_b
    if total == 0:
        return 1.0
    smaller = min(only_a, only_b)
    term = 1  # C(total, 0)
    tail = 1
    for k in range(smaller):
        term = term * (total - k) // (k + 1)  # C(total, k + 1), exact
        tail += term
    return min(1.0, (2 * tail) / (1 << total))
