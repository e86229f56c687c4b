"""Judge verdicts cannot be chosen by the judged output: a corpus of injection attempts (echoes, quotes, fake
closing tags, verdicts inside strings, unicode look-alikes) with the expected outcome of each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evaldsl.judges.verdicts import parse_pairwise, parse_single
from tests.judges.test_parsing import CONFIGS

CASES = [json.loads(line) for line in (Path(__file__).parent / "injections.jsonl").read_text("utf-8").splitlines()
         if line.strip()]  # fmt: skip


def test_the_corpus_is_large_and_covers_every_kind_of_attempt() -> None:
    assert len(CASES) >= 30 and len({c["id"] for c in CASES}) == len(CASES)
    unscored = [c for c in CASES if "error" in c["expect"]]
    assert len(unscored) >= 12 and len(CASES) - len(unscored) >= 12  # attempts refused, and judges still heard
    assert {c["config"] for c in CASES} >= {"scale5", "abc", "pair"}


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_injection_attempt(case: dict[str, Any]) -> None:
    cfg = CONFIGS[case["config"]]
    response = case["response"]
    judged = response if isinstance(response, list) else [response]
    verdict = (parse_pairwise if cfg.mode == "pairwise" else parse_single)(cfg, case["reply"], judged)
    expect = case["expect"]
    if "error" in expect:
        assert verdict.score is None and verdict.error is not None and expect["error"] in verdict.error, verdict
    elif "winner" in expect:
        assert verdict.error is None and verdict.winner == expect["winner"]  # type: ignore[union-attr]
    else:
        assert verdict.error is None and verdict.score == expect["score"], verdict
