"""JUnit XML of run outcomes and the JSONL sample record: parse them back and check what they say."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from evaldsl.report.export import ExportError, prompt_text, sample_record_jsonl, write_junit
from evaldsl.results import AssertOutcome, EvalModelResult, MetricSummary, RunResult


def _cases(path: Path) -> tuple[ET.Element, dict[tuple[str, str], ET.Element]]:
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert root.tag == "testsuites" and suite is not None
    return root, {(tc.get("classname", ""), tc.get("name", "")): tc for tc in suite.iter("testcase")}


def test_junit_from_a_real_run(make_run, tmp_path: Path) -> None:
    outcome = make_run()
    path = tmp_path / "junit.xml"
    write_junit(outcome, path)
    root, cases = _cases(path)
    assert set(cases) == {("evaldsl.qa", "good"), ("evaldsl.qa", "worse")}
    good, worse = cases[("evaldsl.qa", "good")], cases[("evaldsl.qa", "worse")]
    assert good.find("failure") is None and good.find("error") is None
    failures = worse.findall("failure")
    assert len(failures) == 1 and "mean(exact_match) >= 0.9" in failures[0].get("message", "")
    error = worse.find("error")
    assert error is not None and error.get("message") == "1 of 60 samples failed (tolerated: 0.05)"
    assert "'bad' is undefined" in (error.text or "") and (error.text or "").startswith("1× model:")
    assert "exact_match = 1.000" in (good.findtext("system-out") or "")
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "1")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["run_id"] == outcome.run_id and props["status"] == "partial"


ODD = '<&"odd">'


def test_junit_failed_run_and_empty_eval(tmp_path: Path) -> None:
    em = MetricSummary(value=0.25, ci_low=0.0, ci_high=0.5, n=3)
    outcome = RunResult(
        run_id="r1", spec="s.eval", status="failed", message="model m: cannot connect",
        results=(EvalModelResult("e", "m", n=0, errors=0, truncated=0, metrics={}),
                 EvalModelResult("e", ODD, n=3, errors=0, truncated=0, metrics={"em": em})),
        asserts=(AssertOutcome("e", ODD, "mean(em) > 0.5", 0.25, "fail"),
                 AssertOutcome("e", ODD, "mean(em) < 2", None, "error", "`em` scored no sample")),
    )
    path = tmp_path / "j.xml"
    write_junit(outcome, path)
    root, cases = _cases(path)
    empty = cases[("evaldsl.e", "m")].find("error")
    assert empty is not None and empty.get("type") == "no_samples"
    odd = cases[("evaldsl.e", ODD)]
    assert [f.get("message") for f in odd.findall("failure")] == ["assert mean(em) > 0.5 failed: value 0.250"]
    assert [e.get("message") for e in odd.findall("error")] == [
        "assert mean(em) < 2 could not be judged (`em` scored no sample): value —"]
    run = cases[("evaldsl", "run")].find("error")
    assert run is not None and run.get("message") == "model m: cannot connect" and run.get("type") == "failed"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "3")


def test_junit_unwritable(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="cannot write the JUnit report"):
        write_junit(RunResult(run_id=None, spec="s.eval", status="completed"), tmp_path / "no" / "such" / "dir.xml")


def test_sample_record_jsonl_is_strict_single_line_json() -> None:
    row = {"eval": "qa", "model": "m", "index": 0, "output": "line one\nline two \u2028 \u2029 \x85 \x0b é",
           "scores": {"f1": math.nan, "em": 1.0, "ppl": math.inf},
           "prompt": ({"role": "user", "content": "q"},)}
    line = sample_record_jsonl(row)
    assert len(line.splitlines()) == 1 and "NaN" not in line and "Infinity" not in line
    back = json.loads(line)
    assert back["scores"] == {"f1": None, "em": 1.0, "ppl": None}
    assert back["output"] == row["output"] and back["prompt"] == [{"role": "user", "content": "q"}]


def test_prompt_text() -> None:
    assert prompt_text([{"role": "user", "content": "hi"}]) == "hi"
    assert prompt_text([{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]) == (
        "system: be brief\n\nuser: hi")
