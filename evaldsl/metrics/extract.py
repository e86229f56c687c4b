"""`extract_match`: exact match after extracting the answer from the output by a regex, as
lm-evaluation-harness scores generation tasks such as GSM8K (a `regex` filter, `take_first`, then `exact_match`
with `regexes_to_ignore`, `ignore_case`, `ignore_punctuation`)."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Literal

from evaldsl.metrics.base import MetricError, MetricInput

INVALID = "[invalid]"  # what an output without a match becomes (it then matches no reference)
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def extract(text: str, pattern: str, select: int = 0) -> str:
    """The `select`-th match of `pattern` in `text` (0 the first, -1 the last): its first non-empty group when the
    pattern has groups, else the whole match; stripped. `[invalid]` when nothing matches."""
    found = re.findall(pattern, text)
    if not found:
        return INVALID
    try:
        match = found[select]
    except IndexError:
        match = found[0]
    if isinstance(match, tuple):
        match = next((m for m in match if m), "")
    return str(match).strip()


def clean(text: str, ignore: tuple[str, ...], ignore_case: bool, ignore_punctuation: bool) -> str:
    """Each regex of `ignore` removed in turn, then case and punctuation dropped where asked."""
    for expression in ignore:
        text = re.sub(expression, "", text)
    if ignore_case:
        text = text.lower()
    if ignore_punctuation:
        text = text.translate(_PUNCTUATION)
    return text


@dataclass(frozen=True)
class ExtractMatch:
    """1 when the extracted answer equals a reference after cleaning (both sides cleaned alike), else 0."""

    name: str = "extract_match"
    pattern: str | None = None
    select: int = 0
    ignore: tuple[str, ...] = ()
    ignore_case: bool = False
    ignore_punctuation: bool = False
    kind: Literal["sample"] = field(default="sample", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ignore", tuple(self.ignore))
        if not all(isinstance(x, str) for x in self.ignore):
            raise MetricError(f"metric {self.name!r}: `ignore` must be a list of regex strings")
        for expression in (*(() if self.pattern is None else (self.pattern,)), *self.ignore):
            try:
                re.compile(expression)
            except re.error as exc:
                raise MetricError(f"metric {self.name!r}: bad regex {expression!r} ({exc})") from None

    def answer(self, prediction: str) -> str:
        return prediction if self.pattern is None else extract(prediction, self.pattern, self.select)

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None or not s.references:
            return None
        mine = clean(self.answer(s.prediction), self.ignore, self.ignore_case, self.ignore_punctuation)
        refs = [clean(r, self.ignore, self.ignore_case, self.ignore_punctuation) for r in s.references]
        return float(mine in refs)
