"""The project → a wheel installed into a fresh venv: grammar and stdlib come from inside the installed
package, and `python -m evaldsl check` works from an unrelated folder on a spec importing `std/general`."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow

SPEC = '''import "std/general"

dataset trivia {
  rows = [
    { question = "What is the chemical symbol for gold?", answer = "Au" },
    { question = "What planet is known as the Red Planet?", answer = "Mars" },
  ]
}

model dry {
  provider = "mock"
  response = "{{ answer }}"
}

eval qa = general(models = [dry], data = trivia, limit = 2)
'''

PROBE = """
import json, evaldsl, evaldsl.resources as r
print(json.dumps({"package": evaldsl.__file__, "grammar": str(r.grammar_path()),
                  "stdlib": str(r.stdlib_dir()), "grammar_ok": r.grammar_path().is_file(),
                  "stdlib_files": sorted(p.name for p in r.stdlib_dir().glob("*.eval"))}))
"""


def _run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_INDEX_URL")}
    env["PIP_NO_INDEX"] = "1"  # never reach a package index
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode in (0, 2), f"{' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _dependency_dirs() -> list[str]:
    """Where the interpreter running the tests finds the dependencies: its own site-packages (a venv's,
    not the base interpreter's) — never the project checkout itself."""
    dirs = [*site.getsitepackages(), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    seen: list[str] = []
    for d in dirs:
        if Path(d).is_dir() and d not in seen and Path(d).resolve() != ROOT:
            seen.append(d)
    return seen


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the built wheel installed; the dependencies come from the test interpreter's
    own site-packages through a `.pth` file (so this works from a venv, where `--system-site-packages`
    would see the base interpreter instead). Lines of a `.pth` file are appended to `sys.path` without
    their own `.pth` files being processed, so the editable install of the checkout stays invisible."""
    pytest.importorskip("hatchling", reason="building the wheel offline needs hatchling installed")
    base = tmp_path_factory.mktemp("packaging")
    dist = base / "dist"
    _run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w",
          str(dist)], cwd=base)
    wheels = list(dist.glob("evaldsl-*.whl"))
    assert len(wheels) == 1, wheels
    venv = base / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    _run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheels[0])], cwd=base)
    purelib = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=base)
    Path(purelib.stdout.strip(), "test_dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    return venv


def test_resources_point_inside_the_installed_package(installed: Path, tmp_path: Path) -> None:
    proc = _run([str(installed / "bin" / "python"), "-c", PROBE], cwd=tmp_path)
    info = json.loads(proc.stdout)
    package_dir = Path(info["package"]).parent
    assert installed in package_dir.parents, f"evaldsl imported from {package_dir}, not the venv"
    assert ROOT not in package_dir.parents and package_dir.parent != ROOT
    assert Path(info["grammar"]).is_relative_to(package_dir) and info["grammar_ok"]
    assert Path(info["stdlib"]).is_relative_to(package_dir)
    assert "general.eval" in info["stdlib_files"]


def test_installed_cli_checks_a_spec_importing_the_stdlib(installed: Path, tmp_path: Path) -> None:
    spec = tmp_path / "uses_std.eval"
    spec.write_text(SPEC, encoding="utf-8")
    bin_dir = installed / "bin"
    for command in ([str(bin_dir / "python"), "-m", "evaldsl"], [str(bin_dir / "evaldsl")]):
        proc = _run([*command, "check", spec.name], cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "uses_std.eval: ok (1 eval)" in proc.stdout
        graph = _run([*command, "graph", "--format", "json", spec.name], cwd=tmp_path)
        assert [e["name"] for e in json.loads(graph.stdout)["evals"]] == ["qa.qa"]


def test_installed_cli_reports_errors_with_exit_code_2(installed: Path, tmp_path: Path) -> None:
    spec = tmp_path / "broken.eval"
    spec.write_text(SPEC.replace('import "std/general"', 'import "std/generall"'), encoding="utf-8")
    proc = _run([str(installed / "bin" / "python"), "-m", "evaldsl", "check", spec.name], cwd=tmp_path)
    assert proc.returncode == 2
    assert "error[E201]: no standard library module `std/generall`" in proc.stderr
    assert "did you mean `std/general`?" in proc.stderr
    assert "Traceback" not in proc.stderr
