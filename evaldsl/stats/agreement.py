"""Agreement between raters (a judge and human labels, or two judges): Cohen's kappa, Krippendorff's alpha."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Sequence
from typing import Any, Literal, Protocol

__all__ = ["AgreementError", "agreement", "cohen_kappa", "krippendorff_alpha"]


class AgreementError(ValueError):
    """Ratings that cannot be compared (unequal lengths, non-numeric ratings for a weighted statistic)."""


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def cohen_kappa(
    a: Sequence[Hashable | None],
    b: Sequence[Hashable | None],
    weights: Literal["linear", "quadratic"] | None = None,
) -> float:
    """Cohen's kappa of two raters over the items both rated (None = missing); NaN when undefined.

    `weights` gives weighted kappa over the sorted categories (numeric ratings only).
    """
    if len(a) != len(b):
        raise AgreementError(f"cohen_kappa needs two equally long rating lists ({len(a)} vs {len(b)})")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if not _missing(x) and not _missing(y)]
    if not pairs:
        return float("nan")
    cats: list[Any] = list(dict.fromkeys(v for p in pairs for v in p))
    if weights is not None:
        if not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in cats):
            raise AgreementError("weighted kappa needs numeric ratings")
        cats.sort()
    index = {c: i for i, c in enumerate(cats)}
    k, n = len(cats), len(pairs)

    def w(i: int, j: int) -> float:
        if weights is None:
            return float(i != j)
        d = abs(i - j) / (k - 1)
        return d if weights == "linear" else d * d

    observed = Counter((index[x], index[y]) for x, y in pairs)
    row = Counter(index[x] for x, _ in pairs)
    col = Counter(index[y] for _, y in pairs)
    disagree_obs = sum(w(i, j) * c for (i, j), c in observed.items()) / n
    disagree_exp = sum(w(i, j) * row[i] * col[j] for i in range(k) for j in range(k)) / (n * n)
    if disagree_exp == 0:
        return float("nan")  # one category only: agreement cannot be told from chance
    return 1.0 - disagree_obs / disagree_exp


def krippendorff_alpha(
    values_by_rater: Sequence[Sequence[Any]],
    level: Literal["nominal", "ordinal", "interval", "ratio"] = "interval",
) -> float:
    """Krippendorff's alpha for a raters x units table (None = missing); units with < 2 values are skipped.

    NaN when undefined (no pairable values, or no variation at all).
    """
    if level not in ("nominal", "ordinal", "interval", "ratio"):
        raise AgreementError(f"unknown level {level!r} (nominal, ordinal, interval or ratio)")
    lengths = {len(r) for r in values_by_rater}
    if len(lengths) > 1:
        raise AgreementError(f"krippendorff_alpha needs one value (or None) per unit for every rater: {lengths}")
    units = [Counter(v for v in column if not _missing(v)) for column in zip(*values_by_rater, strict=True)]
    coincidence: Counter[tuple[Any, Any]] = Counter()
    for counts in units:
        m = sum(counts.values())
        if m < 2:
            continue
        for c, nc in counts.items():
            for k, nk in counts.items():
                coincidence[(c, k)] += nc * (nk - (c == k)) / (m - 1)
    totals: Counter[Any] = Counter()
    for (c, _), o in coincidence.items():
        totals[c] += o
    n = sum(totals.values())
    if n == 0:
        return float("nan")
    values = list(totals)
    if level != "nominal":
        if level != "ordinal" and not all(isinstance(v, (int, float)) for v in values):
            raise AgreementError(f"{level} alpha needs numeric values")
        values.sort()
    rank = {v: i for i, v in enumerate(values)}
    cumulative = [0.0]
    for v in values:
        cumulative.append(cumulative[-1] + totals[v])

    def delta2(c: Any, k: Any) -> float:
        if level == "nominal":
            return float(c != k)
        if level == "interval":
            return float(c - k) ** 2
        if level == "ratio":
            return ((c - k) / (c + k)) ** 2 if c + k else 0.0
        lo, hi = sorted((rank[c], rank[k]))
        return (cumulative[hi + 1] - cumulative[lo] - (totals[c] + totals[k]) / 2) ** 2

    observed = sum(o * delta2(c, k) for (c, k), o in coincidence.items())
    expected = sum(totals[c] * totals[k] * delta2(c, k) for c in values for k in values)
    if expected == 0:
        return float("nan")
    return 1.0 - (n - 1) * observed / expected


class Rated(Protocol):
    """A verdict as agreement statistics see it: `value` is its label/score/winner, None when unscored."""

    @property
    def value(self) -> Any: ...


def agreement(judged: Sequence[Rated | None], human: Sequence[Rated | None], *, scale: bool) -> dict[str, float | int]:
    """Judge-human agreement over the samples where both are scored: n, raw agreement, Cohen's kappa
    (quadratic-weighted when the ratings are points of a `scale`) and Krippendorff's alpha (interval on a
    scale, nominal for labels and pairwise winners)."""
    if len(judged) != len(human):
        raise AgreementError(f"agreement needs one human label per verdict ({len(judged)} vs {len(human)})")
    a = [None if v is None else v.value for v in judged]
    b = [None if v is None else v.value for v in human]
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    return {
        "n": len(pairs),
        "agreement": sum(x == y for x, y in pairs) / len(pairs) if pairs else float("nan"),
        "kappa": cohen_kappa(a, b, weights="quadratic" if scale else None),
        "alpha": krippendorff_alpha([a, b], level="interval" if scale else "nominal"),
    }
