"""Golden specs (tests/golden/{diagnostics,graphs}/*.eval) → their expected `evaldsl check` / `graph` output.

Run `python scripts/regen_golden.py` after changing a diagnostic, then review `git diff tests/golden` by eye;
`--check` only reports which files are out of date (exit 1 when any is). tests/test_golden.py uses the same
rendering functions, so what this script writes is exactly what the tests compare against.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "golden"
DIAGNOSTICS = GOLDEN / "diagnostics"
GRAPHS = GOLDEN / "graphs"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    """Run with `folder` as the working directory, so rendered paths are relative to it."""
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _machine_independent(text: str, folder: Path) -> str:
    """Absolute paths under the golden folder (in messages and hints) shown relative to it."""
    for prefix in {str(folder), str(folder.resolve())}:
        text = text.replace(prefix + os.sep, "").replace(prefix, ".")
    return text


def _invoke(args: list[str], folder: Path) -> tuple[str, int]:
    from typer.testing import CliRunner

    from evaldsl.cli.app import app

    with _inside(folder):
        result = CliRunner().invoke(app, args, catch_exceptions=False)
    return _machine_independent(result.output, folder), result.exit_code


def render_check(spec: Path) -> tuple[str, int]:
    """(`evaldsl check NAME.eval` output, run in the spec's folder, plus an exit code line; exit code)."""
    output, code = _invoke(["check", spec.name], spec.parent)
    return f"{output.rstrip()}\n[exit code {code}]\n", code


def render_graph(spec: Path) -> tuple[str, int]:
    """(what `evaldsl graph NAME.eval` prints, run from the spec's folder; exit code)."""
    output, code = _invoke(["graph", spec.name], spec.parent)
    return f"{output.rstrip()}\n", code


def diagnostic_cases() -> list[Path]:
    """Every golden diagnostics spec (a folder named NAME.eval included: it must be reported as a folder)."""
    return sorted(DIAGNOSTICS.glob("*.eval"))


def graph_cases() -> list[Path]:
    return sorted(GRAPHS.glob("*.eval"))


def expected_path(spec: Path) -> Path:
    suffix = ".errors.txt" if spec.parent == DIAGNOSTICS else ".graph.txt"
    return spec.with_name(spec.name.removesuffix(".eval") + suffix)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files; write nothing")
    args = parser.parse_args(argv)
    stale = 0
    for spec in diagnostic_cases() + graph_cases():
        text, _ = render_check(spec) if spec.parent == DIAGNOSTICS else render_graph(spec)
        target = expected_path(spec)
        old = target.read_text(encoding="utf-8") if target.exists() else None
        if old == text:
            continue
        stale += 1
        print(f"{'stale' if args.check else 'wrote'} {target.relative_to(ROOT)}")
        if not args.check:
            target.write_text(text, encoding="utf-8")
    known = {expected_path(s) for s in diagnostic_cases() + graph_cases()}
    for orphan in sorted(set(DIAGNOSTICS.glob("*.errors.txt")) | set(GRAPHS.glob("*.graph.txt"))):
        if orphan not in known:
            print(f"orphan (no .eval beside it): {orphan.relative_to(ROOT)}")
    print(f"{stale} file(s) {'stale' if args.check else 'rewritten'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
