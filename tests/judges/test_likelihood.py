"""Likelihood verdicts: every allowed verdict scored as the judge's reply; the probability-weighted score, the
likeliest verdict, the distribution, and no unscored samples — on the mock provider (deterministic pseudo
log-likelihoods, recomputed here from the stored prompts)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.cli.app import app
from evaldsl.judges.config import JudgeConfig, JudgeError
from evaldsl.judges.likelihood import options, uses_likelihood, verdict_from
from evaldsl.providers.mock import pseudo_loglik
from evaldsl.store.sqlite import Store

ROWS = [{"question": f"Question {i}?", "answer": f"answer {i}"} for i in range(6)]


def cfg(**kw: Any) -> JudgeConfig:
    return JudgeConfig(name="j", model="m", rubric="Grade it.", **kw)


def test_options_and_the_weighted_score() -> None:
    assert options(cfg(scale=(1, 3))) == [("1", 1.0), ("2", 2.0), ("3", 3.0)]
    assert options(cfg(scale=None, choices={"yes": 1.0, "no": 0.0})) == [("yes", 1.0), ("no", 0.0)]
    found = verdict_from(cfg(scale=(1, 3)), [math.log(0.2), math.log(0.2), math.log(0.6)])
    assert found.verdict.score == pytest.approx(0.2 * 1 + 0.2 * 2 + 0.6 * 3)
    assert found.distribution == pytest.approx({"1": 0.2, "2": 0.2, "3": 0.6})
    labelled = verdict_from(cfg(scale=None, choices={"yes": 1.0, "no": 0.0}), [-2.0, -0.5])
    assert labelled.verdict.label == "no" and labelled.verdict.score == pytest.approx(1 / (1 + math.exp(1.5)))
    assert verdict_from(cfg(scale=(1, 3)), [-1.0]).verdict.score is None  # a missing score is never guessed


def test_which_judges_use_likelihood() -> None:
    assert uses_likelihood(cfg(), "hf") and not uses_likelihood(cfg(), "litellm")
    assert not uses_likelihood(cfg(verdict="parsed"), "hf")
    assert uses_likelihood(cfg(verdict="likelihood"), "mock")
    with pytest.raises(JudgeError, match="single-mode"):
        cfg(mode="pairwise", scale=None, verdict="likelihood")
    with pytest.raises(JudgeError, match="verdict must be"):
        cfg(verdict="maybe")


SPEC = """
dataset qa {{ path = "qa.jsonl" }}
model answerer {{ provider = "mock", response = "{{{{ answer }}}}" }}
model rater {{ provider = "mock", response = "I would rather not say." }}
judge graded {{
  model   = rater
  rubric  = "Is the answer right?"
  {verdict}
  {kind}
}}
eval judged {{ dataset = qa, prompt = "{{{{ question }}}}", models = [answerer], metrics = [graded] }}
"""


def run(tmp_path: Path, verdict: str, kind: str = "scale = [1, 5]") -> dict[str, Any]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "j.eval").write_text(SPEC.format(verdict=verdict, kind=kind))
    result = CliRunner().invoke(app, ["run", str(tmp_path / "j.eval"), "--format", "json",
                                      "--store", str(tmp_path / "store")])  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def test_a_judge_that_would_not_answer_is_scored_by_likelihood(tmp_path: Path) -> None:
    parsed = run(tmp_path / "p", 'verdict = "parsed"')["results"][0]["metrics"]["graded"]
    assert parsed["n"] == 0 and parsed["unscored"] == 6  # the reply has no verdict in it
    data = run(tmp_path / "l", 'verdict = "likelihood"')
    m = data["results"][0]["metrics"]["graded"]
    assert m["n"] == 6 and m["unscored"] == 0 and m["unscored_rate"] == 0
    assert sum(m["outcomes"].values()) == 6 and set(m["outcomes"]) == {"1", "2", "3", "4", "5"}
    with Store(tmp_path / "l" / "store") as store:
        records = list(store.iter_samples(data["run_id"]))
    expected = []
    for record in records:
        judged = record.judges["graded"]
        (call,) = judged["calls"]
        context = "\n\n".join([m["content"] for m in call["prompt"]] + [""])
        assert call["prompt"][-1]["content"].endswith("Verdict: ")
        lls = [pseudo_loglik(context, str(k))[0] for k in range(1, 6)]
        assert [call["logliks"][str(k)] for k in range(1, 6)] == pytest.approx(lls)
        probs = [math.exp(x - max(lls)) for x in lls]
        score = sum(p * k for p, k in zip(probs, range(1, 6), strict=True)) / sum(probs)
        assert judged["verdict"]["score"] == pytest.approx(score)
        assert sum(judged["verdict"]["distribution"].values()) == pytest.approx(1.0)
        expected.append(score)
    assert m["value"] == pytest.approx(sum(expected) / len(expected))


def test_labelled_choices_and_the_cache(tmp_path: Path) -> None:
    first = run(tmp_path, 'verdict = "likelihood"', "choices = { yes = 1.0, no = 0.0 }")
    again = run(tmp_path, 'verdict = "likelihood"', "choices = { yes = 1.0, no = 0.0 }")
    m = first["results"][0]["metrics"]["graded"]
    assert 0.0 <= m["value"] <= 1.0 and set(m["outcomes"]) == {"yes", "no"}
    assert again["results"][0]["metrics"]["graded"]["value"] == m["value"]
    assert again["cache_hits"] >= 6


def test_likelihood_needs_a_model_that_scores(tmp_path: Path) -> None:
    (tmp_path / "qa.jsonl").write_text(json.dumps(ROWS[0]) + "\n")
    spec = tmp_path / "j.eval"
    spec.write_text(SPEC.format(verdict='verdict = "likelihood"', kind="scale = [1, 5]").replace(
        'model rater { provider = "mock", response = "I would rather not say." }',
        'model rater { provider = "litellm", id = "openai/x", api_base = "http://127.0.0.1:9/v1" }'))
    result = api.check(spec)
    assert [d.code for d in result.diagnostics if d.severity == "error"] == ["E341"]
