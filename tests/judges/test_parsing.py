"""Verdict parsing: a corpus of real-world judge replies in, expected scores/labels/winners or errors out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaldsl.judges.config import JudgeConfig, JudgeError
from evaldsl.judges.verdicts import PairVerdict, Verdict, parse_pairwise, parse_single

CONFIGS = {
    "scale5": JudgeConfig(name="correctness", model="gpt", rubric="Is it correct?"),
    "scale10": JudgeConfig(name="quality", model="gpt", rubric="Rate it.", scale=(1, 10)),
    "abc": JudgeConfig(
        name="simpleqa", model="gpt", rubric="Grade it.", choices={"A": 1.0, "B": 0.0, "C": 0.0}
    ),
    "words": JudgeConfig(
        name="grader",
        model="gpt",
        rubric="Grade it.",
        choices={"correct": 1.0, "incorrect": 0.0, "partially correct": 0.5},
    ),
    "pair": JudgeConfig(name="pref", model="gpt", rubric="Which is better?", mode="pairwise"),
}
CORPUS = [
    json.loads(line)
    for line in (Path(__file__).parent / "replies.jsonl").read_text(encoding="utf-8").splitlines()
    if line.strip()
]


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 40
    assert len({case["id"] for case in CORPUS}) == len(CORPUS)
    kinds = {case["config"] for case in CORPUS}
    assert kinds == set(CONFIGS)
    assert sum("error" in case["expect"] for case in CORPUS) >= 10


@pytest.mark.parametrize("case", CORPUS, ids=[c["id"] for c in CORPUS])
def test_corpus_reply(case: dict[str, Any]) -> None:
    cfg = CONFIGS[case["config"]]
    expect = case["expect"]
    if cfg.mode == "pairwise":
        pv = parse_pairwise(cfg, case["reply"])
        if "error" in expect:
            assert pv.winner is None and pv.score is None
            assert pv.error == expect["error"]
        else:
            assert pv.error is None, pv.error
            assert pv.winner == expect["winner"]
        return
    v = parse_single(cfg, case["reply"])
    if "error" in expect:
        assert v.score is None and v.label is None, v
        assert v.error == expect["error"]
    elif "label" in expect:
        assert v.error is None, v.error
        assert v.label == expect["label"]
        assert cfg.choices is not None and v.score == cfg.choices[expect["label"]]
    else:
        assert v.error is None, v.error
        assert v.score == expect["score"]
        assert v.label is None


def test_reasoning_is_kept() -> None:
    cfg = CONFIGS["scale5"]
    v = parse_single(cfg, '{"reasoning": "Accurate and concise.", "score": 4}')
    assert v.reasoning == "Accurate and concise."
    v = parse_single(cfg, "The response names the wrong river.\n\n**Score:** 1")
    assert v.reasoning == "The response names the wrong river."
    v = parse_single(cfg, '<think>Compare with the reference.</think>{"score": 2}')
    assert v.score == 2 and v.reasoning == "Compare with the reference."


def test_failures_are_never_low_scores() -> None:
    cfg = CONFIGS["scale5"]
    for reply in ("", "no idea", "Score: 9", "Score: N/A", '{"score": "high"}'):
        v = parse_single(cfg, reply)
        assert v.score is None and v.error, reply
        assert not v.scored


def test_non_numeric_json_score_is_reported() -> None:
    v = parse_single(CONFIGS["scale5"], '{"reasoning": "fine", "score": "excellent"}')
    assert v.score is None and v.error == "score 'excellent' is not a number"


def test_a_reply_changing_its_mind_is_ambiguous_but_repeating_itself_is_not() -> None:
    cfg = CONFIGS["scale5"]
    v = parse_single(cfg, 'Score: 2 seemed right.\n```json\n{"reasoning": "on reflection", "score": 4}\n```')
    assert v.score is None and v.error == "ambiguous reply: 2 different verdicts (2.0, 4.0)"
    v = parse_single(cfg, 'Score: 4, because...\n```json\n{"reasoning": "all correct", "score": 4}\n```')
    assert v.score == 4


def test_weak_tail_does_not_override_a_keyword_verdict() -> None:
    cfg = CONFIGS["scale5"]
    assert parse_single(cfg, "Rating: 5\n\nIt named 2/5 of the causes, all correctly").score == 5
    assert parse_single(cfg, "Rating: 2\n\nIt named 4/5.").score == 2
    assert parse_single(cfg, "It named the causes well, 4/5.").score == 4


def test_label_matching_is_case_insensitive_and_canonical() -> None:
    cfg = CONFIGS["words"]
    assert parse_single(cfg, '{"verdict": "PARTIALLY CORRECT"}').label == "partially correct"
    assert parse_single(cfg, "Verdict: Incorrect.").label == "incorrect"


def test_wrong_mode_is_a_clear_error() -> None:
    with pytest.raises(JudgeError, match="pairwise"):
        parse_single(CONFIGS["pair"], "Score: 4")
    with pytest.raises(JudgeError, match="single-mode"):
        parse_pairwise(CONFIGS["scale5"], "[[A]]")


def test_verdict_types() -> None:
    assert Verdict(4.0).scored and not Verdict(None, error="x").scored
    assert PairVerdict("A").score == 1.0 and PairVerdict("tie").score == 0.5 and PairVerdict("B").score == 0.0
    assert PairVerdict(None, error="x").score is None


def test_long_adversarial_reply_parses_quickly() -> None:
    cfg = CONFIGS["scale5"]
    reply = "{" * 2000 + '"reasoning": "x' + " score: " * 2000 + "\nScore: 3"
    assert parse_single(cfg, reply).score == 3


def test_non_finite_json_numbers_are_unscored() -> None:
    assert parse_single(CONFIGS["scale5"], '{"score": NaN}').error == "score nan is not a finite number"
    assert parse_single(CONFIGS["scale5"], '{"score": Infinity}').score is None
    assert parse_single(CONFIGS["abc"], '{"verdict": NaN}').error == "label 'nan' not in A/B/C"


def test_closing_bold_phrase_is_not_an_unknown_label() -> None:
    assert parse_single(CONFIGS["abc"], "The answer is fine.\n\n**Thank you!**").error == "no verdict found"
    assert parse_single(CONFIGS["abc"], "**D**").error == "label 'D' not in A/B/C"
    assert parse_pairwise(CONFIGS["pair"], "Both fine.\n\n**Thank you!**").error == "no verdict found"


def test_deeply_nested_json_is_harmless() -> None:
    reply = '{"a":' * 3000 + "1" + "}" * 3000 + "\nScore: 2"
    assert parse_single(CONFIGS["scale5"], reply).score == 2
    nested = '{"a": {"b": {"c": {"d": {"score": 5}}}}, "score_note": "x"}\nScore: 3'
    assert parse_single(CONFIGS["scale5"], nested).score == 3  # verdicts deeper than 3 levels are not read
