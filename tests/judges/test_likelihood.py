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
    spec.write_text(spec.read_text().replace('api_base = "http://127.0.0.1:9/v1" }',
                                             'api_base = "http://127.0.0.1:9/v1", logprobs = true }'))
    assert not [d for d in api.check(spec).diagnostics if d.severity == "error"]


def test_an_api_judge_reads_its_verdict_from_token_logprobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fakeserver import FakeOpenAIServer

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")

    def top(body: dict[str, Any]) -> dict[str, float]:  # sure of "4" on row 0's answer, torn on the others
        text = json.dumps(body["messages"])
        if "answer 0" in text:
            return {"4": math.log(0.9), " 5": math.log(0.05), "3": math.log(0.03)}
        return {"2": math.log(0.5), "3": math.log(0.3), "Sure": math.log(0.1)}

    with FakeOpenAIServer(logprobs=top) as server:
        rater = (f'model rater {{ provider = "litellm", id = "openai/judge", api_base = "{server.api_base}", '
                 "logprobs = true, max_retries = 0 }")  # fmt: skip
        tmp_path.mkdir(parents=True, exist_ok=True)
        (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:2]))
        (tmp_path / "j.eval").write_text(SPEC.format(verdict='verdict = "likelihood"', kind="scale = [1, 5]").replace(
            'model rater { provider = "mock", response = "I would rather not say." }', rater))
        result = CliRunner().invoke(app, ["run", str(tmp_path / "j.eval"), "--format", "json",
                                          "--store", str(tmp_path / "store")])  # fmt: skip
        assert result.exit_code == 0, result.stdout + result.stderr
        bodies = list(server.bodies)
    m = json.loads(result.stdout)["results"][0]["metrics"]["graded"]
    assert all(b["logprobs"] is True and b["top_logprobs"] == 20 and b["max_tokens"] == 1 for b in bodies)
    # row 0: "1" and "2" are not among the top tokens: they get the lowest returned log-probability (0.03)
    p0 = [0.03, 0.03, 0.03, 0.9, 0.05]
    p1 = [0.1, 0.5, 0.3, 0.1, 0.1]
    expected = [sum(p * k for p, k in zip(ps, range(1, 6), strict=True)) / sum(ps) for ps in (p0, p1)]
    assert m["n"] == 2 and m["unscored"] == 0
    assert m["value"] == pytest.approx(sum(expected) / 2)
    assert m["outcomes"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}
