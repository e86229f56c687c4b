"""`evaldsl runs`, `show`, `export` and `report` through Typer's CliRunner on runs of mock models."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.report.conftest import XSS

WIDE = {"COLUMNS": "220"}


def _invoke(app: typer.Typer, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={**WIDE, **(env or {})})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_runs_lists_newest_first_with_headlines(make_run, app: typer.Typer, store_dir: Path) -> None:
    first = make_run(judge=False)
    second = make_run(models="good", judge=False, name="other")
    code, out = _invoke(app, "runs", "--store", str(store_dir))
    assert code == 0, out
    assert out.index(second.run_id) < out.index(first.run_id)
    assert "qa·good exact_match=1.000" in out and "1 × 2" in out and "other.eval" in out
    assert "1 assert(s) failed" in out  # the first run's `worse` model fails mean(exact_match) >= 0.9
    code, out = _invoke(app, "runs", "--store", str(store_dir), "--format", "json", "--limit", "1")
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [second.run_id]
    assert rows[0]["n_samples"] == 60 and rows[0]["models"] == ["good"] and rows[0]["status"] == "completed"
    assert rows[0]["headline"] == [{"eval": "qa", "model": "good", "metric": "exact_match", "value": 1.0}]


def test_store_defaults_and_missing_store(tmp_path: Path, app: typer.Typer, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EVALDSL_HOME", raising=False)
    code, out = _invoke(app, "runs")
    assert code == 2 and "no evaldsl store found" in out and "EVALDSL_HOME" in out
    assert not (tmp_path / ".evaldsl").exists()  # looking never creates a store
    code, out = _invoke(app, "show", "latest", env={"EVALDSL_HOME": str(tmp_path / "elsewhere")})
    assert code == 2 and "elsewhere" in out


def test_show_prints_the_table_asserts_and_errors(make_run, app: typer.Typer, store_dir: Path) -> None:
    outcome = make_run()
    code, out = _invoke(app, "show", outcome.run_id[:12], "--store", str(store_dir))
    assert code == 0, out
    assert f"run {outcome.run_id}" in out
    assert "exact_match" in out and "correctness" in out and "95% CI" in out
    assert "FAIL qa · worse: mean(exact_match) >= 0.9" in out and "PASS qa · good" in out
    assert "error qa · worse: 1× model:" in out and "'bad' is undefined" in out and "sample 5" in out
    code, out = _invoke(app, "show", "latest", "--store", str(store_dir), "--format", "json")
    data = json.loads(out)
    assert data["run_id"] == outcome.run_id and data["results"] == [r.to_json() for r in outcome.results]
    assert data["asserts"] == [a.to_json() for a in outcome.asserts] and data["status"] == "partial"


@pytest.mark.parametrize("ref", ["nope", "latest~5"])
def test_unknown_runs_are_clear_errors(make_run, app: typer.Typer, store_dir: Path, ref: str) -> None:
    make_run(judge=False)
    code, out = _invoke(app, "show", ref, "--store", str(store_dir))
    assert code == 2 and out.startswith("error: ") and "Traceback" not in out


def test_export_csv(make_run, app: typer.Typer, store_dir: Path, tmp_path: Path) -> None:
    outcome = make_run()
    code, out = _invoke(app, "export", "latest", "--format", "csv", "--store", str(store_dir))
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 120
    header = list(rows[0])
    assert header[:4] == ["run_id", "eval", "model", "index"]
    assert {"score:exact_match", "score:f1", "score:bleu", "score:correctness", "extra"} <= set(header)
    worse = {int(r["index"]): r for r in rows if r["model"] == "worse"}
    assert worse[0]["output"] == "wrong" and worse[0]["score:exact_match"] == "0.0"
    assert worse[7]["output"] == XSS  # exported as it is: CSV is data, not a page
    assert worse[5]["error"].startswith("mock response template failed") and worse[5]["score:f1"] == ""
    assert worse[3]["score:bleu"] == ""  # corpus metric: no per-sample score
    assert worse[0]["prompt"] == "Q: What is 0 + 0?" and json.loads(worse[0]["references"]) == ["0"]
    assert worse[0]["run_id"] == outcome.run_id
    judges = json.loads(worse[0]["extra"])["judges"]
    assert judges["correctness"]["verdict"]["score"] == 4
    target = tmp_path / "out.csv"
    code, _ = _invoke(app, "export", outcome.run_id, "-f", "csv", "-o", str(target), "--store",
                      str(store_dir))
    assert code == 0 and target.read_text(encoding="utf-8") == out


def test_export_jsonl(make_run, app: typer.Typer, store_dir: Path) -> None:
    make_run(judge=False)
    code, out = _invoke(app, "export", "--format", "jsonl", "--store", str(store_dir))
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 120
    records = [json.loads(line) for line in lines]
    good = [r for r in records if r["model"] == "good"]
    assert [r["index"] for r in good] == list(range(60))
    assert good[2]["output"] == "4" and good[2]["scores"]["exact_match"] == 1.0
    assert good[2]["prompt"] == [{"role": "user", "content": "Q: What is 2 + 2?"}]


def test_export_to_an_unwritable_place(make_run, app: typer.Typer, store_dir: Path, tmp_path: Path) -> None:
    make_run(judge=False)
    code, out = _invoke(app, "export", "-o", str(tmp_path / "missing" / "x.csv"), "--store", str(store_dir))
    assert code == 2 and "cannot write" in out


def test_report_command(make_run, app: typer.Typer, store_dir: Path, tmp_path: Path) -> None:
    make_run(judge=False)
    make_run(models="good", judge=False, name="other")
    target = tmp_path / "report.html"
    code, out = _invoke(app, "report", "latest~1", "latest", "--html", str(target), "--store", str(store_dir))
    assert code == 0, out
    assert f"wrote {target}" in out and "180 sample rows of 2 run(s)" in out
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "A · worse" in page and "B · good" in page
    code, out = _invoke(app, "report", "latest", "--html", str(tmp_path), "--store", str(store_dir))
    assert code == 2 and "is a directory" in out
    code, out = _invoke(app, "report", "latest", "--store", str(store_dir))
    assert code == 2 and "--html" in out
