"""`evaldsl fmt`: rewrite .eval files in the canonical layout (or, with --check / --diff, show what would change)."""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from ..compile.fmt import format_source
from ..compile.resolve import read_source
from ..diagnostics import CompileError, Diagnostic, render_all
from ..results import EXIT_COMPILE, EXIT_OK

EXIT_WOULD_CHANGE = 1  # --check: a file is not formatted

_SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})


def _err(text: str) -> None:
    typer.echo(text, err=True)


def _files(path: Path) -> Iterator[Path]:
    """`path` itself, or the .eval files under a folder (hidden folders and node_modules skipped), sorted."""
    if not path.is_dir():
        yield path
        return
    for found in sorted(path.rglob("*.eval")):
        parts = found.relative_to(path).parts[:-1]
        if any(p.startswith(".") or p in _SKIPPED_DIRS for p in parts) or not found.is_file():
            continue
        yield found


def _diff(before: str, after: str, name: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True), f"{name}", f"{name} (formatted)"
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def _format(text: str, name: str) -> tuple[str | None, list[Diagnostic]]:
    try:
        return format_source(text, name), []
    except CompileError as exc:
        return None, exc.diagnostics


def fmt(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Files or folders (folders: every .eval under them); `-` reads stdin. Default: `.`"),
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; print a diff and exit 1 when a file would change.")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Print a diff of what would change; write nothing.")] = False,
) -> None:
    """Format .eval files in the canonical layout (comments, strings and expressions kept as written)."""
    changed: list[str] = []
    failed = False
    for arg in paths or ["."]:
        if arg == "-":
            text = sys.stdin.read()
            formatted, problems = _format(text, "<stdin>")
            if formatted is None:
                _err(render_all(problems, {"<stdin>": text}))
                failed = True
            elif check or diff:
                if formatted != text:
                    changed.append("<stdin>")
                    typer.echo(_diff(text, formatted, "<stdin>"), nl=False)
            else:
                typer.echo(formatted, nl=False)
            continue
        root = Path(arg)
        if not root.exists():
            _err(f"error: {arg}: no such file or folder")
            failed = True
            continue
        for path in _files(root):
            text, problem = read_source(path)
            if text is None:
                _err(render_all([problem] if problem else [], {}))
                failed = True
                continue
            formatted, problems = _format(text, str(path))
            if formatted is None:
                _err(render_all(problems, {str(path): text}))
                _err(f"{path}: not formatted (it does not parse)")
                failed = True
                continue
            if formatted == text:
                continue
            changed.append(str(path))
            if check or diff:
                typer.echo(_diff(text, formatted, str(path)), nl=False)
            else:
                path.write_text(formatted, encoding="utf-8", newline="")
                _err(f"formatted {path}")
    if check and changed:
        _err(f"{len(changed)} file{'s' if len(changed) != 1 else ''} would be reformatted")
    if failed:
        raise typer.Exit(EXIT_COMPILE)
    raise typer.Exit(EXIT_WOULD_CHANGE if check and changed else EXIT_OK)


def register(app: typer.Typer) -> None:
    app.command()(fmt)
