"""Power and range lints: W360–W362 at compile time (exact figures), `--strict` turns them into errors, and
`diff --fail-on-regression --min-effect` reports the minimum detectable effect (W363)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.cli.app import app
from evaldsl.compile.checks.gates import samples_needed, worst_half_width
from evaldsl.stats.power import minimum_detectable_effect


def codes(path: Path) -> list[str]:
    return [d.code for d in api.check(path).diagnostics]


def write(project: Path, gate: str) -> Path:
    spec = (project / "spec.eval").read_text().replace("  limit   = 4\n}", f"  limit   = 4\n  {gate}\n}}")
    (project / "spec.eval").write_text(spec)
    return project / "spec.eval"


def test_worst_case_half_width() -> None:
    assert worst_half_width(0, 1, 100) == pytest.approx(0.098, abs=1e-3)  # 1.96 · 0.5 / 10
    assert worst_half_width(0, 100, 100) == pytest.approx(9.8, abs=1e-2)
    assert samples_needed(0, 1, 0.05) == 385  # the classic ±5% at 95%
    assert minimum_detectable_effect(100, 0, 1) == pytest.approx(2.8016 / math.sqrt(2) / 10, rel=1e-4)


@pytest.mark.parametrize(
    ("gate", "expected"),
    [
        ("assert mean(exact_match) >= 0.9", ["W360"]),  # n = 4: ±0.49 reaches past 1
        ("assert mean(exact_match) >= 0.4", []),  # 0.4 + 0.49 < 1
        ("assert mean(exact_match) <= 0.4", ["W360"]),  # 0.4 - 0.49 < 0
        ("assert mean(exact_match) >= 1.5", ["W361"]),
        ("assert mean(exact_match) > 1", ["W361"]),
        ("assert mean(exact_match) >= 0", ["W361"]),  # always passes
        ("assert mean(single) >= 6", ["W361"]),  # a judge's scale [1, 5]
        ("assert mean(single) >= 2", []),  # 2 + 1.96 · 2 / 2 = 3.96 < 5
    ],
)
def test_gate_lints(project: Path, gate: str, expected: list[str]) -> None:
    assert [c for c in codes(write(project, gate)) if c.startswith("W36")] == expected


def test_where_only_lowers_n_so_the_warning_stays_true(project: Path) -> None:
    # `where` keeps 20 of 40 rows; without the eval's limit the check counts 40 rows (an upper bound on n)
    spec = (project / "spec.eval").read_text().replace("  limit   = 4\n}", "  assert mean(exact_match) >= 0.9\n}")
    (project / "spec.eval").write_text(spec)
    found = [d for d in api.check(project / "spec.eval").diagnostics if d.code == "W360"]
    assert len(found) == 1 and "at n = 40" in found[0].message and "±0.155" in found[0].message


def test_strict_makes_warnings_errors(project: Path) -> None:
    spec = write(project, "assert mean(exact_match) >= 0.9")
    assert CliRunner().invoke(app, ["check", str(spec)]).exit_code == 0
    result = CliRunner().invoke(app, ["check", str(spec), "--strict"])
    assert result.exit_code == 2 and "warning[W360]" in result.stderr and "warnings are errors" in result.stderr
    result = CliRunner().invoke(app, ["run", str(spec), "--strict", "--store", str(project / "st")])
    assert result.exit_code == 2 and "not running" in result.stderr and not (project / "st").exists()


def test_minimum_detectable_effect_of_a_regression_gate(project: Path) -> None:
    store = str(project / "st")
    for _ in range(2):
        args = ["run", str(project / "spec.eval"), "--store", store, "--eval", "quiz", "-f", "json"]
        assert CliRunner().invoke(app, args).exit_code == 0
    args = ["diff", "latest~1", "latest", "--store", store, "--fail-on-regression", "-f", "json"]
    result = CliRunner().invoke(app, [*args, "--min-effect", "0.1"])
    assert result.exit_code == 0 and json.loads(result.stdout)["regressions"] == 0
    mde = minimum_detectable_effect(4, 0, 1)
    assert f"warning[W363]: quiz · a · exact_match: 4 paired samples detect only changes of at least {mde:.3g}" \
        in result.stderr
    assert "quiz · a · single" in result.stderr  # a judge on its 1–5 scale
    result = CliRunner().invoke(app, [*args, "--min-effect", "5"])
    assert "W363" not in result.stderr
