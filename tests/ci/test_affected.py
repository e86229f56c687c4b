"""`evaldsl affected --since REV` and `run --affected-since REV` on real git history made by the test."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from evaldsl.cli.app import app


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                          *args], cwd=repo, capture_output=True, text=True, check=True)  # fmt: skip
    return out.stdout.strip()


def commit_all(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def affected(project: Path, since: str) -> dict[str, dict]:
    result = CliRunner().invoke(app, ["affected", str(project / "spec.eval"), "--since", since, "-f", "json",
                                      "--all"])  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    return {a["eval"]: a for a in json.loads(result.stdout)}


def edit(project: Path, old: str, new: str) -> None:
    text = (project / "spec.eval").read_text()
    assert old in text
    (project / "spec.eval").write_text(text.replace(old, new))


def test_reasons_for_each_kind_of_change(project: Path) -> None:
    git(project, "init", "-q")
    first = commit_all(project, "first")
    assert {k: v["status"] for k, v in affected(project, "HEAD").items()} == {"quiz": "unchanged",
                                                                               "mine.run": "unchanged"}
    edit(project, 'prompt  = "{{ question }}"', 'prompt  = "Question: {{ question }}"')
    got = affected(project, "HEAD")
    assert got["quiz"]["status"] == "changed" and got["quiz"]["reasons"] == ["prompt or sample fields changed"]
    assert got["mine.run"]["status"] == "unchanged"
    second = commit_all(project, "prompt")
    edit(project, "metrics = [exact_match]", "metrics = [exact_match, f1]")
    edit(project, 'model b { provider = "mock", response = "not sure at all" }',
         'model b { provider = "mock", response = "not sure" }')  # fmt: skip
    got = affected(project, "HEAD")
    assert got["mine.run"]["reasons"] == ["metric f1 added"]
    assert got["quiz"]["reasons"] == ["model b changed"]
    assert affected(project, first)["quiz"]["reasons"] == ["prompt or sample fields changed", "model b changed"]
    commit_all(project, "metric and model")
    with (project / "qa.jsonl").open("a") as f:
        f.write(json.dumps({"n": 100, "question": "question number 100", "answer": "ans100"}) + "\n")
    got = affected(project, "HEAD")
    assert got["quiz"]["reasons"] == got["mine.run"]["reasons"] == ["dataset qa rows changed"]
    edit(project, "judge single { model = grader, rubric = \"Is it right?\", votes = 3 }",
         "judge single { model = grader, rubric = \"Is it right?\", votes = 5 }")  # fmt: skip
    assert affected(project, "HEAD")["quiz"]["reasons"] == ["dataset qa rows changed", "judge single changed"]
    edit(project, "eval mine = small_qa", "eval other = small_qa")
    got = affected(project, second)
    assert got["mine.run"]["status"] == "removed" and got["other.run"]["status"] == "new"


def test_run_affected_since_runs_only_the_affected_evals(project: Path) -> None:
    git(project, "init", "-q")
    (project / ".gitignore").write_text("st/\n")
    commit_all(project, "first")
    runner = CliRunner()
    args = ["run", str(project / "spec.eval"), "--store", str(project / "st"), "-f", "json", "--affected-since", "HEAD"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and result.stdout == ""
    assert "no eval is affected since HEAD: nothing to run" in result.stderr
    edit(project, 'prompt  = "Q: {{ question }}"', 'prompt  = "Question: {{ question }}"')
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert [r["eval"] for r in json.loads(result.stdout)["results"]] == ["mine.run"]
    assert "affected since HEAD: mine.run" in result.stderr


def test_errors_are_one_line(project: Path) -> None:
    result = CliRunner().invoke(app, ["affected", str(project / "spec.eval"), "--since", "HEAD"])
    assert result.exit_code == 2 and "is not in a git repository" in result.stderr
    git(project, "init", "-q")
    commit_all(project, "first")
    result = CliRunner().invoke(app, ["affected", str(project / "spec.eval"), "--since", "no-such-branch"])
    assert result.exit_code == 2 and result.stderr.strip().startswith("error: no git revision 'no-such-branch'")
    (project / "new.eval").write_text((project / "spec.eval").read_text())
    got = affected_of(project / "new.eval")
    assert {a["status"] for a in got} == {"new"} and "the spec is not in HEAD" in got[0]["reasons"][0]


def affected_of(spec: Path) -> list[dict]:
    result = CliRunner().invoke(app, ["affected", str(spec), "--since", "HEAD", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_plan_affected_since(project: Path) -> None:
    git(project, "init", "-q")
    commit_all(project, "first")
    edit(project, 'prompt  = "Q: {{ question }}"', 'prompt  = "Question: {{ question }}"')
    result = CliRunner().invoke(app, ["plan", str(project / "spec.eval"), "--store", str(project / "st"), "-f",
                                      "json", "--affected-since", "HEAD"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert [(ln["eval"], ln["calls"]) for ln in json.loads(result.stdout)["lines"]] == [("mine.run", 3)]
