"""The command sequence of docs/ci.md, through the real entry point, in a temporary git repository with two
commits: main runs everything and exports its baseline; a pull request that breaks one model runs only the
affected evals in a fresh store, compares them with the baseline and fails on the regression."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.ci.conftest import ROWS, SPEC
from tests.ci.test_affected import commit_all, git

ROOT = Path(__file__).resolve().parents[2]


def evaldsl(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "EVALDSL_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "evaldsl", *args], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_pull_request_workflow(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "evals").mkdir(parents=True)
    (repo / "evals" / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    spec_text = SPEC.replace("  limit   = 4\n}", "}")  # quiz on all 20 rows its `where` keeps
    (repo / "evals" / "main.eval").write_text(spec_text)
    git(repo, "init", "-q")
    git(repo, "checkout", "-q", "-b", "main")
    commit_all(repo, "evals")
    spec = "evals/main.eval"

    # main: check, run everything, keep the baseline
    main_home = tmp_path / "main-store"
    assert evaldsl(repo, main_home, "check", spec, "--strict").returncode == 0
    base = evaldsl(repo, main_home, "run", spec, "--max-cost", "20", "-f", "markdown")
    assert base.returncode == 0, base.stderr
    assert base.stdout.startswith("✅ **evaldsl run**")
    exported = evaldsl(repo, main_home, "export", "latest", "--bundle", str(tmp_path / "baseline.json"))
    assert exported.returncode == 0, exported.stderr

    # a pull request that breaks model a
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "evals" / "main.eval").write_text(spec_text.replace('response = "{{ answer }}"', 'response = "nope"'))
    commit_all(repo, "a shorter reply")
    pr_home = tmp_path / "pr-store"  # an ephemeral runner: nothing cached, the baseline is a file
    affected = evaldsl(repo, pr_home, "affected", spec, "--since", "main", "-f", "markdown")
    assert affected.returncode == 0
    assert "| quiz | changed | model a changed |" in affected.stdout
    assert "| mine.run | changed | model a changed |" in affected.stdout
    plan = evaldsl(repo, pr_home, "plan", spec, "-f", "markdown")
    # 20 + 20 replies, 2 × 20 × 3 votes, 20 × 2 votes × 2 orders, and 3 for mine.run
    assert plan.returncode == 0 and plan.stdout.startswith("**evaldsl plan**: 243 fresh calls of 243")
    assert evaldsl(repo, pr_home, "affected", spec, "--since", "main", "-f", "json").stdout.strip() != "[]"
    run = evaldsl(repo, pr_home, "run", spec, "--affected-since", "main", "--max-cost", "5", "-f", "markdown")
    assert run.returncode == 0, run.stderr
    diff = evaldsl(repo, pr_home, "diff", "--baseline", str(tmp_path / "baseline.json"), "-f", "markdown",
                   "--fail-on-regression")  # fmt: skip
    assert diff.returncode == 1, diff.stderr
    assert diff.stdout.startswith("❌ **evaldsl diff** baseline")
    rows = [line for line in diff.stdout.splitlines() if line.startswith("| ") and not line.startswith("| eval")]
    assert rows[0].startswith("| quiz | a | exact_match | 1.000 | 0.000") and rows[0].endswith("▼ worse |")
    # the same drop on mine.run's 3 samples is not significant: honest, and what W363 warns about
    assert any(r.startswith("| mine.run | a | exact_match | 1.000 | 0.000") and "| -1.000" in r
               and r.endswith("n.s. |") for r in rows)  # fmt: skip
    assert all("Traceback" not in p.stderr for p in (affected, plan, run, diff))

    # nothing changed since the pull request's own commit: nothing to run
    again = evaldsl(repo, pr_home, "run", spec, "--affected-since", "HEAD", "-f", "markdown")
    assert again.returncode == 0 and again.stdout == "" and "nothing to run" in again.stderr
