"""Tests for SQuAD-style exact match / token F1, contains and regex: hand values, SQuAD re-statement."""

from __future__ import annotations

import re
import string
from collections import Counter

import pytest

from evaldsl.metrics import MetricError, build_metric
from evaldsl.metrics.base import MetricInput
from evaldsl.metrics.text import normalize_answer

# (prediction, acceptable answers): realistic short-answer QA outputs, including near misses.
QA = [
    ("Denver Broncos", ("Denver Broncos", "Broncos")),
    ("The Denver Broncos won Super Bowl 50.", ("Denver Broncos",)),
    (
        "Santa Clara, California",
        ("Santa Clara, California", "Levi's Stadium", "Levi's Stadium in Santa Clara"),
    ),
    ("in the year 1889", ("1889",)),
    ("Gustave Eiffel's company", ("Gustave Eiffel", "Eiffel's engineering company")),
    ("an apple a day", ("The apple",)),
    ("Marie Curie", ("Marie Skłodowska-Curie", "Curie")),
    ("It was built between 1887 and 1889", ("from 1887 to 1889",)),
    ("Mount Everest", ("Everest",)),
    ("the Pacific Ocean", ("Pacific",)),
    ("Photosynthesis converts light energy into chemical energy", ("chemical energy", "glucose")),
    ("William Shakespeare wrote Hamlet around 1600", ("Shakespeare",)),
    ("Canberra", ("Canberra",)),
    ("Sydney", ("Canberra",)),
    ("H2O", ("water", "H₂O")),
    ("Zürich, Switzerland", ("zürich",)),
    ("1,000,000", ("one million", "1000000")),
    ("the the the", ("the cat",)),
    ("Apollo 11 landed on the Moon in July 1969.", ("July 20, 1969", "1969")),
    ("Leonardo da Vinci painted the Mona Lisa", ("Leonardo da Vinci", "da Vinci")),
]


# --- an independent re-statement of the official SQuAD v1.1 formulas ---------------------------------------
def squad_normalize(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def squad_f1_parts(prediction: str, truth: str) -> tuple[float, float, float]:
    p, t = squad_normalize(prediction).split(), squad_normalize(truth).split()
    same = sum((Counter(p) & Counter(t)).values())
    if same == 0:
        return 0.0, 0.0, 0.0
    precision, recall = same / len(p), same / len(t)
    return precision, recall, 2 * precision * recall / (precision + recall)


def score(kind: str, prediction: str, refs: tuple[str, ...], **params: object) -> float | None:
    return build_metric(kind, params).score(MetricInput(prediction=prediction, references=refs))


@pytest.mark.parametrize(("prediction", "refs"), QA)
def test_parity_with_squad_formulas(prediction: str, refs: tuple[str, ...]) -> None:
    assert score("exact_match", prediction, refs) == max(
        float(squad_normalize(prediction) == squad_normalize(r)) for r in refs
    )
    for i, kind in enumerate(("precision", "recall", "f1")):
        expected = max(squad_f1_parts(prediction, r)[i] for r in refs)
        assert score(kind, prediction, refs) == pytest.approx(expected, abs=1e-12)


def test_hand_computed_values() -> None:
    assert normalize_answer("  The  Eiffel-Tower!! ") == "eiffeltower"
    assert normalize_answer("An apple, a day; the end") == "apple day end"
    assert score("exact_match", "The Eiffel Tower!", ("eiffel tower",)) == 1.0
    # [in, year, 1889] vs [1889]: P = 1/3, R = 1, F1 = 2 * (1/3) / (4/3) = 0.5
    assert score("precision", "in the year 1889", ("1889",)) == pytest.approx(1 / 3)
    assert score("recall", "in the year 1889", ("1889",)) == 1.0
    assert score("f1", "in the year 1889", ("1889",)) == pytest.approx(0.5)
    # max over references: the second reference matches exactly
    assert score("f1", "Broncos", ("Denver Broncos", "broncos")) == 1.0
    assert score("f1", "Broncos", ("Denver Broncos",)) == pytest.approx(2 * 1 * 0.5 / 1.5)
    # repeated tokens count by multiplicity: [cat, cat, dog] vs [cat, dog, dog] -> 2 common
    assert score("f1", "cat cat dog", ("cat dog dog",)) == pytest.approx(2 / 3)


def test_normalize_false_compares_raw_strings() -> None:
    assert score("exact_match", "Paris", ("paris",)) == 1.0
    assert score("exact_match", "Paris", ("paris",), normalize=False) == 0.0
    assert score("exact_match", "Paris", ("Paris",), normalize=False) == 1.0
    # raw whitespace tokens: "Paris." != "Paris"; "the" is kept
    assert score("f1", "the city Paris.", ("the Paris",), normalize=False) == pytest.approx(
        2 * (1 / 3) * 0.5 / (5 / 6)
    )
    assert score("f1", "Paris.", ("Paris",), normalize=False) == 0.0


def test_edge_cases() -> None:
    # empty prediction and empty reference: EM 1 (both normalise to ""), F1 0 as in the SQuAD script
    assert score("exact_match", "", ("",)) == 1.0
    assert score("f1", "", ("",)) == 0.0
    assert score("f1", "", ("Paris",)) == 0.0
    # punctuation-only and article-only predictions normalise to nothing
    assert score("exact_match", "?!...", ("Paris",)) == 0.0
    assert score("f1", "?!...", ("Paris",)) == 0.0
    assert score("exact_match", "The", ("a",)) == 1.0
    # unicode: lowercasing is unicode-aware, non-ASCII punctuation is not removed (as in SQuAD)
    assert score("exact_match", "ZÜRICH", ("zürich",)) == 1.0
    assert score("exact_match", "«Paris»", ("Paris",)) == 0.0
    # no references -> cannot be scored
    for kind in ("exact_match", "f1", "precision", "recall", "contains"):
        assert score(kind, "Paris", ()) is None


def test_contains() -> None:
    assert score("contains", "I think the answer is Paris, France.", ("paris",)) == 1.0
    assert score("contains", "It is in Santa Clara, California", ("santa clara",)) == 1.0
    assert score("contains", "Lyon", ("Paris", "Marseille")) == 0.0
    # whole tokens only: "cat" does not occur in "concatenate"
    assert score("contains", "concatenate", ("cat",)) == 0.0
    # references that normalise to "" would match anything: ignored; none left -> None
    assert score("contains", "anything", ("The", "!")) is None
    assert score("contains", "", ("Paris",)) == 0.0
    # raw mode: plain substring
    assert score("contains", "concatenate", ("cat",), normalize=False) == 1.0
    assert score("contains", "PARIS", ("Paris",), normalize=False) == 0.0


def test_regex() -> None:
    metric = build_metric("regex", {"pattern": r"(?i)\bno\b"}, name="has_no")
    assert metric.name == "has_no"
    assert metric.score(MetricInput(prediction="No, it is not.")) == 1.0
    assert metric.score(MetricInput(prediction="Nothing happens")) == 0.0
    assert metric.score(MetricInput(prediction="")) == 0.0
    assert build_metric("regex", {"pattern": r"^\d+$"}).score(MetricInput(prediction="1889")) == 1.0
    with pytest.raises(MetricError, match="invalid regular expression"):
        build_metric("regex", {"pattern": "(unclosed"})
    with pytest.raises(MetricError, match="non-empty"):
        build_metric("regex", {"pattern": ""})
