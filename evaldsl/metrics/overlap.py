"""N-gram overlap: prediction + references -> sacrebleu BLEU/chrF statistics or rouge-score F-measure."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sacrebleu.metrics import BLEU, CHRF

from evaldsl.metrics.base import MetricError, MetricInput

# sacrebleu tokenizers needing no extra package and no download (spm/flores fetch a model; mecab: MeCab).
BLEU_TOKENIZERS = frozenset({"13a", "intl", "zh", "char", "none"})
_ROUGE_TYPE = re.compile(r"rouge[1-9]|rougeL|rougeLsum")


def _segment_stats(metric: BLEU | CHRF, prediction: str, references: tuple[str, ...]) -> list[float]:
    """sacrebleu's own per-segment statistics for one hypothesis against its own references."""
    rows = metric._extract_corpus_statistics([prediction], [[ref] for ref in references])
    return [float(x) for x in rows[0]]


def _as_counts(summed: np.ndarray, width: int, name: str) -> list[int]:
    values = np.asarray(summed, dtype=float).ravel()
    if values.shape != (width,):
        raise ValueError(f"metric {name!r}: expected {width} summed statistics, got shape {values.shape}")
    return [int(round(x)) for x in values]


@dataclass(frozen=True)
class Bleu:
    """`bleu`: sacrebleu corpus BLEU (0-100) from summed per-sample statistics. Defaults are sacrebleu's
    (13a tokenizer, exp smoothing, case-sensitive); each sample is scored with its own references."""

    name: str = "bleu"
    tokenize: str = "13a"
    lowercase: bool = False
    kind: Literal["corpus"] = field(default="corpus", init=False)
    _bleu: BLEU = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.tokenize not in BLEU_TOKENIZERS:
            raise MetricError(
                f"metric {self.name!r}: unknown BLEU tokenizer {self.tokenize!r}; "
                f"choose one of {', '.join(sorted(BLEU_TOKENIZERS))}"
            )
        object.__setattr__(self, "_bleu", BLEU(tokenize=self.tokenize, lowercase=self.lowercase))

    @property
    def width(self) -> int:
        return 2 + 2 * self._bleu.max_ngram_order

    def stats(self, s: MetricInput) -> list[float] | None:
        if s.prediction is None or not s.references:
            return None
        return _segment_stats(self._bleu, s.prediction, s.references)

    def combine(self, summed: np.ndarray) -> float:
        return float(self._bleu._compute_score_from_stats(_as_counts(summed, self.width, self.name)).score)


@dataclass(frozen=True)
class Chrf:
    """`chrf`: sacrebleu corpus chrF (0-100; chrF++ with word_order=2) from summed per-sample statistics."""

    name: str = "chrf"
    word_order: int = 0
    lowercase: bool = False
    kind: Literal["corpus"] = field(default="corpus", init=False)
    _chrf: CHRF = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.word_order <= 2:
            raise MetricError(
                f"metric {self.name!r}: chrf word_order must be 0, 1 or 2, got {self.word_order}"
            )
        object.__setattr__(self, "_chrf", CHRF(word_order=self.word_order, lowercase=self.lowercase))

    @property
    def width(self) -> int:
        return 3 * (self._chrf.char_order + self._chrf.word_order)

    def stats(self, s: MetricInput) -> list[float] | None:
        if s.prediction is None or not s.references:
            return None
        return _segment_stats(self._chrf, s.prediction, s.references)

    def combine(self, summed: np.ndarray) -> float:
        return float(self._chrf._compute_score_from_stats(_as_counts(summed, self.width, self.name)).score)


def make_rouge_scorer(rouge_type: str, stemmer: bool, metric_name: str) -> Any:
    """A rouge-score `RougeScorer` for one ROUGE type, or MetricError for an unknown type."""
    if not isinstance(rouge_type, str) or not _ROUGE_TYPE.fullmatch(rouge_type):
        raise MetricError(
            f"metric {metric_name!r}: unknown ROUGE type {rouge_type!r}; "
            "use rouge1 ... rouge9, rougeL or rougeLsum"
        )
    from rouge_score import rouge_scorer  # imported on first use: it pulls in nltk (~2 s)

    return rouge_scorer.RougeScorer([rouge_type], use_stemmer=stemmer)


@dataclass(frozen=True)
class Rouge:
    """`rouge1`/`rouge2`/`rougeL`/`rougeLsum`: rouge-score F-measure (0-1), max over references. rougeLsum
    treats newlines as sentence breaks, as rouge-score does. The default rouge-score tokenizer keeps only
    ASCII letters and digits (lowercased), so text without any scores 0."""

    name: str = "rougeL"
    rouge_type: str = "rougeL"
    stemmer: bool = False
    kind: Literal["sample"] = field(default="sample", init=False)
    _scorer: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_scorer", make_rouge_scorer(self.rouge_type, self.stemmer, self.name))

    def score(self, s: MetricInput) -> float | None:
        if s.prediction is None or not s.references:
            return None
        return max(
            float(self._scorer.score(ref, s.prediction)[self.rouge_type].fmeasure) for ref in s.references
        )
