"""Node-level memoization: an unchanged re-run recomputes no metric and asks no judge (same results); editing
one metric recomputes only it; --no-cache recomputes everything; different outputs never reuse a result."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from evaldsl.cli.app import app


def run(project: Path, *args: str) -> tuple[dict[str, Any], dict[str, Any]]:
    store = str(project / "st")
    result = CliRunner().invoke(app, ["run", str(project / "spec.eval"), "--store", store, "-f", "json", *args])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    shown = CliRunner().invoke(app, ["show", data["run_id"], "--store", store, "-f", "json"])
    return data, json.loads(shown.stdout)["summary"]


def metrics(data: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(r["eval"], r["model"]): r["metrics"] for r in data["results"]}


def edit(project: Path, old: str, new: str) -> None:
    text = (project / "spec.eval").read_text()
    assert old in text
    (project / "spec.eval").write_text(text.replace(old, new))


def test_unchanged_rerun_recomputes_nothing(project: Path) -> None:
    # nodes: quiz × a: exact_match, single, pair; quiz × b: exact_match, single; mine.run × a: exact_match
    first, summary = run(project)
    assert (summary["memo_hits"], summary["memo_computed"]) == (0, 6)
    again, summary = run(project)
    assert (summary["memo_hits"], summary["memo_computed"]) == (6, 0)
    assert again["model_calls"] == 0 and metrics(again) == metrics(first)
    _, summary = run(project, "--no-cache")
    assert (summary["memo_hits"], summary["memo_computed"]) == (0, 6)


def test_editing_one_metric_recomputes_only_it(project: Path) -> None:
    run(project)
    edit(project, "metrics = [exact_match]", "metrics = [exact_match, f1]")  # mine.run gets f1
    data, summary = run(project)
    assert (summary["memo_hits"], summary["memo_computed"]) == (6, 1)
    assert metrics(data)[("mine.run", "a")]["f1"]["value"] == 1.0
    edit(project, "votes = 3 }", "votes = 2 }")  # the single judge, on both models
    _, summary = run(project)
    assert (summary["memo_hits"], summary["memo_computed"]) == (5, 2)


def test_other_outputs_never_reuse_a_result(project: Path) -> None:
    run(project)
    edit(project, 'model b { provider = "mock", response = "not sure at all" }',
         'model b { provider = "mock", response = "{{ answer }}" }')  # fmt: skip
    data, summary = run(project)
    # b's metric and judge, and the pairwise judge that reads b, are computed again
    assert (summary["memo_hits"], summary["memo_computed"]) == (3, 3)
    assert metrics(data)[("quiz", "b")]["exact_match"]["value"] == 1.0
