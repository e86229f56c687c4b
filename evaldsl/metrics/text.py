"""String metrics: a prediction and its references -> SQuAD EM / token F1, contains, regex scores."""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import regex

from evaldsl.metrics.base import MetricError, MetricInput

REGEX_SECONDS = 1.0
"""Most time one `regex(...)` search may take on one output."""

_DROP_PUNCTUATION = str.maketrans("", "", string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")

TokenMeasure = Literal["f1", "precision", "recall"]


def normalize_answer(text: str) -> str:
    """SQuAD v1.1 answer normalisation: lowercase, drop ASCII punctuation, drop the articles a/an/the as whole
    words, collapse whitespace (in that order)."""
    return _normalized(text) if len(text) <= _KEPT_UP_TO else _normalize(text)


_KEPT_UP_TO = 1024  # characters: short texts' normalisations are kept (the metrics of an eval normalise the same
# prediction and references one after another); long ones are not, so the memory stays small


@lru_cache(maxsize=4096)
def _normalized(text: str) -> str:
    return _normalize(text)


def _normalize(text: str) -> str:
    no_punct = text.lower().translate(_DROP_PUNCTUATION)
    no_articles = _ARTICLES.sub(" ", no_punct)
    return " ".join(no_articles.split())


def _tokens(text: str, normalize: bool) -> list[str]:
    return normalize_answer(text).split() if normalize else text.split()


def token_overlap(prediction: str, reference: str, measure: TokenMeasure, *, normalize: bool = True) -> float:
    """Token precision / recall / F1 of one prediction against one reference, as the SQuAD script defines them
    (bag-of-tokens overlap; no common token, including both sides empty, gives 0)."""
    pred_tokens = _tokens(prediction, normalize)
    ref_tokens = _tokens(reference, normalize)
    overlap = sum((Counter(pred_tokens) & Counter(ref_tokens)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(pred_tokens)
    recall = overlap / len(ref_tokens)
    if measure == "precision":
        return precision
    if measure == "recall":
        return recall
    return 2 * precision * recall / (precision + recall)


def exact(prediction: str, reference: str, *, normalize: bool = True) -> float:
    """1.0 when the (normalised) strings are equal, else 0.0."""
    if normalize:
        return float(normalize_answer(prediction) == normalize_answer(reference))
    return float(prediction == reference)


@dataclass(frozen=True)
class ExactMatch:
    """`exact_match`: max over references of SQuAD exact match (raw string equality with normalize=false)."""

    name: str = "exact_match"
    normalize: bool = True
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None or not s.references:
            return None
        return max(exact(s.prediction, ref, normalize=self.normalize) for ref in s.references)


@dataclass(frozen=True)
class TokenOverlap:
    """`f1` / `precision` / `recall`: max over references of the SQuAD token measure."""

    name: str = "f1"
    measure: TokenMeasure = "f1"
    normalize: bool = True
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None or not s.references:
            return None
        return max(
            token_overlap(s.prediction, ref, self.measure, normalize=self.normalize) for ref in s.references
        )


@dataclass(frozen=True)
class Contains:
    """`contains`: 1 if some normalised reference occurs in the normalised prediction as a whole-token run.

    Matching is on token boundaries ("cat" is not found in "concatenate"). References that normalise to the
    empty string would match anything and are ignored; a sample left with none cannot be scored (None).
    With normalize=false the raw strings are compared by plain substring search.
    """

    name: str = "contains"
    normalize: bool = True
    kind: Literal["sample"] = field(default="sample", init=False)

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None:
            return None
        if not self.normalize:
            refs = [ref for ref in s.references if ref]
            return float(any(ref in s.prediction for ref in refs)) if refs else None
        refs = [norm for norm in (normalize_answer(ref) for ref in s.references) if norm]
        if not refs:
            return None
        padded = f" {normalize_answer(s.prediction)} "
        return float(any(f" {ref} " in padded for ref in refs))


@dataclass(frozen=True)
class Regex:
    """`regex(pattern = "...")`: 1 if the pattern is found in the prediction, else 0. Patterns use Python's `re`
    syntax and run on the `regex` engine with a time limit per search, so a pattern that backtracks
    catastrophically on some output makes that sample an error instead of hanging the run."""

    name: str = "regex"
    pattern: str = ""
    kind: Literal["sample"] = field(default="sample", init=False)
    _compiled: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.pattern:
            raise MetricError(f"metric {self.name!r}: regex needs a non-empty `pattern`")
        try:
            re.compile(self.pattern)  # the documented syntax is Python's
            compiled = regex.compile(self.pattern)
        except (re.error, regex.error) as exc:
            raise MetricError(
                f"metric {self.name!r}: invalid regular expression {self.pattern!r}: {exc}"
            ) from exc
        object.__setattr__(self, "_compiled", compiled)

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None:
            return None
        try:
            return float(self._compiled.search(s.prediction, timeout=REGEX_SECONDS) is not None)
        except TimeoutError:
            raise MetricError(
                f"metric {self.name!r}: the pattern took longer than {REGEX_SECONDS:g} s on this output "
                "(catastrophic backtracking: simplify nested repeats such as (a+)+)"
            ) from None
