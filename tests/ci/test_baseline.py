"""Portable baselines: `export RUN --bundle FILE`, `diff --baseline FILE [RUN]` in another store, `import FILE`;
Markdown summaries of run and diff."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evaldsl.cli.app import app
from evaldsl.report.bundle import BUNDLE_FORMAT


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def run(project: Path, store: Path, *args: str) -> dict:
    code, out, err = cli("run", str(project / "spec.eval"), "--store", str(store), "-f", "json", *args)
    assert code in (0, 1), err
    return json.loads(out)


def no_limit(project: Path) -> None:
    """quiz on all 20 rows its `where` keeps."""
    (project / "spec.eval").write_text((project / "spec.eval").read_text().replace("  limit   = 4\n}", "}"))


def break_model_a(project: Path) -> None:
    spec = (project / "spec.eval").read_text().replace('model a { provider = "mock", response = "{{ answer }}" }',
                                                       'model a { provider = "mock", response = "nope" }')
    (project / "spec.eval").write_text(spec)


def test_bundle_is_self_describing(project: Path) -> None:
    data = run(project, project / "main-store", "--eval", "quiz")
    bundle = project / "baseline.json"
    code, _, err = cli("export", data["run_id"], "--bundle", str(bundle), "--store", str(project / "main-store"))
    assert code == 0, err
    content = json.loads(bundle.read_text())
    assert content["format"] == BUNDLE_FORMAT and content["bundle_version"] == 1
    assert content["results_version"] == data["results_version"]
    assert content["run"]["id"] == data["run_id"] and content["run"]["meta"]["graph_hash"]
    assert set(content["node_hashes"]) == {"quiz·a", "quiz·b"}
    assert content["node_hashes"]["quiz·a"] == data["results"][0]["hashes"]
    rows = content["samples"]["quiz"]["a"]
    assert len(rows) == 4 and all(v["scores"]["exact_match"] == 1.0 for v in rows.values())
    assert set(rows) == {r for r in content["samples"]["quiz"]["b"]}  # keyed by row identity


def test_diff_against_a_baseline_in_another_store(project: Path) -> None:
    no_limit(project)
    base = run(project, project / "main-store", "--eval", "quiz")
    bundle = project / "baseline.json"
    assert cli("export", base["run_id"], "--bundle", str(bundle), "--store", str(project / "main-store"))[0] == 0
    break_model_a(project)
    pr_store = project / "pr-store"  # an ephemeral runner: a fresh store that never saw the baseline
    run(project, pr_store, "--eval", "quiz")
    code, out, err = cli("diff", "--baseline", str(bundle), "--store", str(pr_store), "-f", "json",
                         "--fail-on-regression")  # fmt: skip
    assert code == 1, err
    data = json.loads(out)
    assert data["run_a"] == base["run_id"]
    em = {(r["eval"], r["model"], r["metric"]): r for r in data["metrics"]}
    assert em[("quiz", "a", "exact_match")]["delta"] == -1.0
    assert em[("quiz", "a", "exact_match")]["n_paired"] == 20
    assert em[("quiz", "a", "exact_match")]["direction"] == "worse"
    assert em[("quiz", "b", "exact_match")]["delta"] == 0.0
    assert {"eval": "quiz", "model": "a", "differs": ["model settings"]} in data["changes"]
    code, md, _ = cli("diff", "--baseline", str(bundle), "latest", "--store", str(pr_store), "-f", "markdown")
    assert code == 0
    lines = md.splitlines()
    assert lines[0].startswith("❌ **evaldsl diff** baseline `" + base["run_id"]) and "1 regression(s)" in lines[0]
    first_row = next(line for line in lines if line.startswith("| quiz"))
    assert first_row.startswith("| quiz | a | exact_match | 1.000 | 0.000") and "▼ worse" in first_row
    assert "<details>" in md and "model settings differ" in md


def test_import_adds_the_run_to_a_store(project: Path) -> None:
    base = run(project, project / "main-store", "--eval", "quiz")
    bundle = project / "baseline.json"
    cli("export", base["run_id"], "--bundle", str(bundle), "--store", str(project / "main-store"))
    code, out, err = cli("import", str(bundle), "--store", str(project / "other"))
    assert code == 0, err
    new_id = out.strip()
    code, out, _ = cli("show", new_id, "--store", str(project / "other"), "-f", "json")
    shown = json.loads(out)
    assert shown["meta"]["imported_from"] == base["run_id"]
    assert [r["metrics"]["exact_match"]["value"] for r in shown["results"]] == [1.0, 0.0]
    # the imported run diffs against the original with no change
    run(project, project / "other", "--eval", "quiz")
    code, out, _ = cli("diff", new_id, "latest", "--store", str(project / "other"), "-f", "json")
    assert code == 0 and all(r["delta"] == 0.0 for r in json.loads(out)["metrics"])


def test_bad_bundles_are_one_line_errors(project: Path) -> None:
    run(project, project / "st", "--eval", "quiz")
    (project / "x.json").write_text('{"format": "something else"}')
    code, _, err = cli("diff", "--baseline", str(project / "x.json"), "--store", str(project / "st"))
    assert code == 2 and err.strip() == f"error: {project / 'x.json'} is not an evaldsl run bundle (`evaldsl " \
        "export RUN --bundle FILE` writes one)"
    code, _, err = cli("import", str(project / "missing.json"), "--store", str(project / "st"))
    assert code == 2 and "cannot read" in err and "Traceback" not in err
    code, _, err = cli("diff", "--store", str(project / "st"))
    assert code == 2 and "diff needs a baseline" in err


def test_run_markdown_puts_failures_first(project: Path) -> None:
    gate = "  limit   = 4\n  assert mean(exact_match) >= 0.5\n}"
    spec = (project / "spec.eval").read_text().replace("  limit   = 4\n}", gate)
    (project / "spec.eval").write_text(spec)
    code, md, _ = cli("run", str(project / "spec.eval"), "--store", str(project / "st"), "--eval", "quiz",
                      "-f", "markdown")  # fmt: skip
    assert code == 1
    lines = md.splitlines()
    assert lines[0].startswith("❌ **evaldsl run**") and "1/2 asserts pass" in lines[0]
    rows = [line for line in lines if line.startswith("| quiz")]
    assert rows[0].startswith("| quiz | b | exact_match | 0.000") and rows[0].endswith("▼ assert |")
    assert "| quiz | a | exact_match | 1.000" in md
    assert "<details><summary>Asserts and errors</summary>" in md and "❌ `mean(exact_match) >= 0.5`" in md
