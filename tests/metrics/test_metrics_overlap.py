"""Parity of bleu/chrf (summed per-sample statistics vs sacrebleu corpus scores) and rouge (rouge-score)."""

from __future__ import annotations

import numpy as np
import pytest
import sacrebleu
from rouge_score import rouge_scorer

from evaldsl.metrics import MetricError, build_metric
from evaldsl.metrics.base import MetricInput
from evaldsl.stats.bootstrap import corpus_estimate

# German -> English news-style translations: system output and 1-3 human references per segment.
MT: list[tuple[str, tuple[str, ...]]] = [
    (
        "The government announced new measures against inflation on Tuesday.",
        (
            "On Tuesday the government announced new measures to fight inflation.",
            "The government unveiled new anti-inflation measures on Tuesday.",
        ),
    ),
    (
        "The train to Munich was delayed by two hours because of the storm.",
        ("Because of the storm, the train to Munich was two hours late.",),
    ),
    (
        "Scientists have discovered a new species of frog in the rainforest.",
        (
            "Researchers discovered a new frog species in the rainforest.",
            "A new species of frog has been discovered by scientists in the rain forest.",
            "Scientists found a previously unknown frog species in the jungle.",
        ),
    ),
    ("The museum is closed on Mondays.", ("The museum is closed on Mondays.",)),
    (
        "He said that he would not stand for re-election.",
        ("He said he would not run for re-election.", "He announced he would not seek re-election."),
    ),
    (
        "Prices for heating oil rose by 12 percent compared to last year.",
        ("Heating oil prices rose 12% year on year.",),
    ),
    (
        "The match ended 2:1 for the home team.",
        ("The game ended 2-1 to the home side.", "The home team won the match 2-1."),
    ),
    (
        "Many residents complain about the noise from the construction site.",
        ("Many residents are complaining about noise from the building site.",),
    ),
    (
        "The new bridge is expected to open in spring 2026.",
        (
            "The new bridge should open in the spring of 2026.",
            "The new bridge is due to open in spring 2026.",
        ),
    ),
    ("Zürich's city council approved the budget.", ("The Zürich city council approved the budget.",)),
    ("", ("The meeting was postponed.",)),
    ("Das ist nicht übersetzt.", ("This was not translated.",)),
    (
        "The company wants to create 500 new jobs by the end of the year.",
        (
            "The firm plans to create 500 new jobs by year-end.",
            "By the end of the year the company wants to have created 500 new jobs.",
        ),
    ),
    ("Children under six travel free of charge.", ("Children under the age of six travel for free.",)),
]


def _inputs() -> list[MetricInput]:
    return [MetricInput(prediction=p, references=r) for p, r in MT]


def _streams() -> tuple[list[str], list[list[str | None]]]:
    """sacrebleu's layout: one stream per reference slot, None where a segment has fewer references."""
    hyps = [p for p, _ in MT]
    width = max(len(r) for _, r in MT)
    streams = [[r[j] if j < len(r) else None for _, r in MT] for j in range(width)]
    return hyps, streams


def _corpus(kind: str, params: dict[str, object] | None = None) -> float:
    metric = build_metric(kind, params or {})
    rows = [metric.stats(s) for s in _inputs()]
    assert all(row is not None and len(row) == len(rows[0]) for row in rows)
    return metric.combine(np.asarray(rows, dtype=float).sum(axis=0))


def test_bleu_parity_multi_reference() -> None:
    hyps, streams = _streams()
    expected = sacrebleu.corpus_bleu(hyps, streams).score
    assert 5 < expected < 95
    assert _corpus("bleu") == pytest.approx(expected, abs=1e-9)


def test_bleu_parity_single_reference_and_options() -> None:
    hyps = [p for p, _ in MT]
    first = [[r[0] for _, r in MT]]
    metric = build_metric("bleu", {})
    rows = [metric.stats(MetricInput(prediction=p, references=(r[0],))) for p, r in MT]
    assert metric.combine(np.sum(rows, axis=0)) == pytest.approx(
        sacrebleu.corpus_bleu(hyps, first).score, abs=1e-9
    )
    hyps, streams = _streams()
    expected = sacrebleu.corpus_bleu(hyps, streams, tokenize="intl", lowercase=True).score
    assert _corpus("bleu", {"tokenize": "intl", "lowercase": True}) == pytest.approx(expected, abs=1e-9)


def test_chrf_parity() -> None:
    hyps, streams = _streams()
    assert _corpus("chrf") == pytest.approx(sacrebleu.corpus_chrf(hyps, streams).score, abs=1e-9)
    chrf_pp = sacrebleu.corpus_chrf(hyps, streams, word_order=2).score
    assert _corpus("chrf", {"word_order": 2}) == pytest.approx(chrf_pp, abs=1e-9)


def test_single_sample_and_perfect_match() -> None:
    metric = build_metric("bleu", {})
    row = metric.stats(
        MetricInput(
            prediction="The museum is closed on Mondays.", references=("The museum is closed on Mondays.",)
        )
    )
    assert metric.combine(np.asarray(row)) == pytest.approx(100.0)
    empty = metric.stats(MetricInput(prediction="", references=("Something.",)))
    assert empty is not None and metric.combine(np.asarray(empty)) == 0.0
    assert metric.stats(MetricInput(prediction="x", references=())) is None
    assert build_metric("chrf", {}).stats(MetricInput(prediction="x", references=())) is None


def test_bleu_bootstrap_from_stats() -> None:
    metric = build_metric("bleu", {})
    stats = np.asarray([metric.stats(s) for s in _inputs()], dtype=float)
    est = corpus_estimate(stats, metric.combine, seed=3, n_boot=200)
    hyps, streams = _streams()
    assert est.value == pytest.approx(sacrebleu.corpus_bleu(hyps, streams).score, abs=1e-9)
    assert est.ci_low <= est.value <= est.ci_high
    assert est.ci_high - est.ci_low > 1.0


@pytest.mark.parametrize("rouge_type", ["rouge1", "rouge2", "rougeL", "rougeLsum"])
def test_rouge_parity(rouge_type: str) -> None:
    scorer = rouge_scorer.RougeScorer([rouge_type], use_stemmer=False)
    metric = build_metric(rouge_type, {})
    assert metric.kind == "sample"
    for pred, refs in MT:
        expected = max(scorer.score(r, pred)[rouge_type].fmeasure for r in refs)
        assert metric.score(MetricInput(prediction=pred, references=refs)) == pytest.approx(
            expected, abs=1e-12
        )


def test_rouge_hand_values_and_family() -> None:
    s = MetricInput(prediction="the cat sat", references=("the cat ran",))
    assert build_metric("rouge1", {}).score(s) == pytest.approx(2 / 3)
    assert build_metric("rouge2", {}).score(s) == pytest.approx(0.5)
    # stemming: "cats"/"cat", "running"/"run"
    s2 = MetricInput(prediction="cats running", references=("cat run",))
    assert build_metric("rouge", {"type": "rouge1"}).score(s2) == 0.0
    assert build_metric("rouge", {"type": "rouge1", "stemmer": True}).score(s2) == 1.0
    # rougeLsum uses newline-separated sentences (union LCS); rougeL sees one sequence
    multi = MetricInput(prediction="b c\na b", references=("a b\nb c",))
    lsum, plain = build_metric("rougeLsum", {}).score(multi), build_metric("rougeL", {}).score(multi)
    assert lsum == pytest.approx(1.0) and plain == pytest.approx(0.5)
    # empty prediction, non-ASCII text (dropped by rouge-score's tokenizer), no references
    assert build_metric("rougeL", {}).score(MetricInput(prediction="", references=("a b",))) == 0.0
    assert build_metric("rouge1", {}).score(MetricInput(prediction="東京", references=("東京",))) == 0.0
    assert build_metric("rouge1", {}).score(MetricInput(prediction="a", references=())) is None


def test_bad_parameters() -> None:
    with pytest.raises(MetricError, match="unknown ROUGE type"):
        build_metric("rouge", {"type": "rougeX"})
    with pytest.raises(MetricError, match="unknown BLEU tokenizer"):
        build_metric("bleu", {"tokenize": "spm"})
    with pytest.raises(MetricError, match="word_order"):
        build_metric("chrf", {"word_order": 5})
