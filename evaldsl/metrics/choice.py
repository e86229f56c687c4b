"""Multiple-choice metrics: per-choice log-likelihoods + 0/1 labels -> accuracy, accuracy_norm, mc1, mc2; and
for a single scored continuation (lm-evaluation-harness `loglikelihood` tasks such as LAMBADA) greedy_match and
target_perplexity."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from evaldsl.metrics.base import MetricError, MetricInput
from evaldsl.metrics.perplexity import per_unit


def _checked(s: MetricInput, name: str) -> tuple[list[float], list[int]] | None:
    """The sample's log-likelihoods and labels, or None when it cannot be scored (nothing scored, NaN, or no
    true choice). Inconsistent data (lengths, labels other than 0/1) is a MetricError."""
    lls = [float(x) for x in s.choice_logliks]
    labels = list(s.labels)
    if len(lls) != len(labels):
        raise MetricError(
            f"metric {name!r}: {len(lls)} choice log-likelihoods but {len(labels)} labels for one sample"
        )
    if any(label not in (0, 1) for label in labels):
        raise MetricError(f"metric {name!r}: choice labels must be 0 or 1, got {labels}")
    if not lls or any(math.isnan(x) for x in lls) or 1 not in labels:
        return None
    return lls, labels


def _argmax(values: list[float]) -> int:
    """Index of the largest value; the first one on ties (as numpy's argmax)."""
    best = 0
    for i, value in enumerate(values):
        if value > values[best]:
            best = i
    return best


@dataclass(frozen=True)
class Accuracy:
    """`accuracy`: 1 if the highest-log-likelihood choice (first on ties) has label 1 (lm-eval `acc`)."""

    name: str = "accuracy"
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        checked = _checked(s, self.name)
        if checked is None:
            return None
        lls, labels = checked
        return float(labels[_argmax(lls)] == 1)


@dataclass(frozen=True)
class AccuracyNorm:
    """`accuracy_norm`: like `accuracy` on loglik / number of characters of the choice text.

    This matches lm-evaluation-harness `acc_norm`, which divides by `len(choice)` for the choice strings of
    `doc_to_choice` - without the target delimiter (the leading " " is added only to the scored continuation).
    `MetricInput.choices` holds exactly those texts. A sample with an empty choice text cannot be scored.
    """

    name: str = "accuracy_norm"
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        checked = _checked(s, self.name)
        if checked is None:
            return None
        lls, labels = checked
        if len(s.choices) != len(lls):
            raise MetricError(
                f"metric {self.name!r}: {len(s.choices)} choice texts but {len(lls)} log-likelihoods"
            )
        if any(len(choice) == 0 for choice in s.choices):
            return None
        normed = [ll / float(len(choice)) for ll, choice in zip(lls, s.choices, strict=True)]
        return float(labels[_argmax(normed)] == 1)


@dataclass(frozen=True)
class MC1:
    """`mc1` (TruthfulQA): 1 if the argmax is the first label-1 choice (the best answer, listed first)."""

    name: str = "mc1"
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        checked = _checked(s, self.name)
        if checked is None:
            return None
        lls, labels = checked
        return float(_argmax(lls) == labels.index(1))


@dataclass(frozen=True)
class MC2:
    """`mc2` (TruthfulQA): total normalised probability of the label-1 choices, p_i = exp(ll_i) / sum exp(ll),
    computed stably (log-sum-exp). All choices at -inf cannot be scored."""

    name: str = "mc2"
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        checked = _checked(s, self.name)
        if checked is None:
            return None
        lls, labels = checked
        top = max(lls)
        if top == -math.inf:
            return None
        if top == math.inf:
            raise MetricError(f"metric {self.name!r}: a log-likelihood of +inf is not a probability")
        weights = [math.exp(ll - top) for ll in lls]
        true_mass = math.fsum(w for w, label in zip(weights, labels, strict=True) if label == 1)
        return true_mass / math.fsum(weights)


@dataclass(frozen=True)
class GreedyMatch:
    """`greedy_match`: 1 if greedy decoding after the context gives the true choice token for token, else 0
    (lm-evaluation-harness `acc` of `loglikelihood` tasks, its `is_greedy`). Scored on the first label-1 choice;
    a provider that does not report greediness leaves the sample unscored."""

    name: str = "greedy_match"
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        checked = _checked(s, self.name)
        if checked is None or len(s.choice_greedy) != len(checked[0]):
            return None
        return float(s.choice_greedy[checked[1].index(1)])


@dataclass(frozen=True)
class TargetPerplexity:
    """`target_perplexity`: exp(-mean over samples of the first true choice's summed log-likelihood), the
    perplexity lm-evaluation-harness reports for `loglikelihood` tasks (per continuation, not per token)."""

    name: str = "target_perplexity"
    kind: Literal["corpus"] = field(default="corpus", init=False)

    def stats(self, s: MetricInput) -> list[float] | None:
        checked = _checked(s, self.name)
        if checked is None:
            return None
        lls, labels = checked
        loglik = lls[labels.index(1)]
        if loglik > 0:
            raise MetricError(f"metric {self.name!r}: log-likelihood must be <= 0, got {loglik}")
        return [loglik, 1.0]

    def combine(self, summed: np.ndarray) -> float:
        return per_unit(summed, "exp")  # one unit per sample: exp(-mean loglik)
