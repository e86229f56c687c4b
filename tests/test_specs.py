"""Every shipped spec (specs/*.eval) and standard-library module (stdlib/*.eval) → `evaldsl check` exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.eval"))
STDLIB = sorted((ROOT / "stdlib").glob("*.eval"))
ALL = SPECS + STDLIB


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def test_there_is_something_to_check() -> None:
    assert (ROOT / "specs" / "language.eval") in SPECS


@pytest.mark.parametrize("spec", ALL, ids=[_id(p) for p in ALL])
def test_spec_checks_clean(spec: Path) -> None:
    result = CliRunner().invoke(app, ["check", str(spec)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "error[" not in result.output
    assert f"{spec}: ok" in result.stdout


def test_all_specs_check_clean_in_one_process() -> None:
    """The real entry point (`python -m evaldsl`), all files in one call, from an unrelated folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "evaldsl", "check", *map(str, ALL)], capture_output=True,
                          text=True, env=env, cwd=ROOT / "tests", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count(": ok (") == len(ALL)
    assert "Traceback" not in proc.stderr
