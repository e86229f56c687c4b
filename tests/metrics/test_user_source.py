"""python("module:function") resolved by reading source only: found as the run finds it, never imported."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from evaldsl.metrics.user import load_function
from evaldsl.metrics.user_source import inspect_target

# Importing this module would leave a marker file and exit the interpreter: a check must do neither.
SIDE_EFFECTS = """
import pathlib, sys
pathlib.Path(__file__).with_name("IMPORTED").write_text("imported")
sys.exit("user code ran")


def score(prediction, references, row):
    return 1.0
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_module_is_parsed_not_imported(tmp_path: Path) -> None:
    write(tmp_path, "side_effects.py", SIDE_EFFECTS)
    finding = inspect_target("side_effects:score", tmp_path)
    assert finding.verdict == "ok" and finding.path == tmp_path / "side_effects.py"
    assert not (tmp_path / "IMPORTED").exists()
    assert "side_effects" not in sys.modules  # (third-party modules may have it in a longer name)


@pytest.mark.parametrize(
    ("source", "target", "words", "hint"),
    [
        ("def score(p, r, row): pass\n", "nothere:score", "module `nothere` not found", None),
        ("def score(p, r, row): pass\n", "m:scor", "has no function `scor`", "did you mean `score`?"),
        ("def score(p, r): pass\n", "m:score", "takes 2 positional arguments", None),
        ("def score(p, r, row, extra): pass\n", "m:score", "needs 4 positional arguments", None),
        ("def score(p, r, row, *, k): pass\n", "m:score", "needs keyword-only argument k", None),
        ("async def score(p, r, row): pass\n", "m:score", "is `async`", None),
        ("class score:\n    pass\n", "m:score", "is a class", None),
        ("def score(p, r, row)\n    pass\n", "m:score", "m.py has a syntax error at line 1", None),
        ("x = 1\n", "not a target", 'must look like "module:function"', None),
    ],
)
def test_problems_are_errors(tmp_path: Path, source: str, target: str, words: str, hint: str | None) -> None:
    write(tmp_path, "m.py", source)
    finding = inspect_target(target, tmp_path)
    assert finding.verdict == "error" and words in finding.message
    if hint is not None:
        assert finding.hint == hint


@pytest.mark.parametrize(
    "source",
    [
        "def score(prediction, references, row):\n    return 1.0\n",
        "def score(*args):\n    return 1.0\n",
        "def score(p, r, row=None, k=1, *, scale=2):\n    return 1.0\n",
        "score = lambda p, r, row: 1.0\n",
        "try:\n    from fast import score\nexcept ImportError:\n    def score(p, r, row):\n        return 0.0\n",
        "import functools\n@functools.lru_cache\ndef score(p, r, row):\n    return 1.0\n",
    ],
)
def test_fitting_functions_pass(tmp_path: Path, source: str) -> None:
    write(tmp_path, "m.py", source)
    assert inspect_target("m:score", tmp_path).verdict == "ok"


def test_the_spec_folder_comes_before_the_python_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec_dir, elsewhere = tmp_path / "spec", tmp_path / "elsewhere"
    write(spec_dir, "shared.py", "def score(p, r, row):\n    return 1.0\n")
    write(elsewhere, "shared.py", "def other(p, r, row):\n    return 1.0\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    assert inspect_target("shared:score", spec_dir).path == spec_dir / "shared.py"
    # Without the spec's own module the one on the path is found, read and checked just the same.
    finding = inspect_target("shared:score", tmp_path)
    assert finding.verdict == "error" and finding.path == elsewhere / "shared.py"
    assert finding.hint == "it defines: other"


def test_a_package_module_on_the_path_is_found_without_importing_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, "pkg_side/__init__.py", SIDE_EFFECTS)
    write(tmp_path, "pkg_side/metrics.py", "def score(p, r, row):\n    return 1.0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    finding = inspect_target("pkg_side.metrics:score", tmp_path / "elsewhere")
    assert finding.verdict == "ok" and finding.path == tmp_path / "pkg_side" / "metrics.py"
    assert not (tmp_path / "pkg_side" / "IMPORTED").exists()


def test_compiled_and_dynamic_modules_cannot_be_verified(tmp_path: Path) -> None:
    assert inspect_target("math:sqrt", tmp_path).verdict == "unverifiable"
    write(tmp_path, "dyn.py", "def __getattr__(name):\n    raise AttributeError(name)\n")
    assert inspect_target("dyn:score", tmp_path).verdict == "unverifiable"


def test_what_the_check_accepts_the_run_loads(tmp_path: Path) -> None:
    """The static answer agrees with the run's import for the spec folder's module."""
    write(tmp_path, "agree.py", "def score(prediction, references, row):\n    return 0.5\n")
    assert inspect_target("agree:score", tmp_path).verdict == "ok"
    function = load_function("agree:score", tmp_path)
    assert function("a", ["a"], {}) == 0.5
