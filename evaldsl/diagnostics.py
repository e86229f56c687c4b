"""Diagnostics: one type for every compile-time finding, rendered compiler-style with a caret and a hint."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["error", "warning"]


class Span(BaseModel):
    """A region of a source file: 1-based line and column, end exclusive."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @classmethod
    def point(cls, file: str, line: int, column: int, width: int = 1) -> Span:
        return cls(file=file, line=line, column=column, end_line=line, end_column=column + width)


class Diagnostic(BaseModel):
    """A finding with a stable code (E1xx syntax, E2xx resolution, E3xx checks, W... warnings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    severity: Severity = "error"
    message: str
    span: Span | None = None
    hint: str | None = None
    related: tuple[tuple[str, Span], ...] = ()  # (note, where): e.g. the first definition of a duplicate

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


class CompileError(Exception):
    """Raised by the api when compilation produced errors; carries every diagnostic."""

    def __init__(self, diagnostics: list[Diagnostic]):
        super().__init__(f"{sum(d.is_error for d in diagnostics)} error(s)")
        self.diagnostics = diagnostics


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None when nothing is close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    if d.span is None:
        return ("", 0, 0, d.code)
    return (d.span.file, d.span.line, d.span.column, d.code)


def _source_line(sources: Mapping[str, str], span: Span) -> str | None:
    text = sources.get(span.file)
    if text is None:
        try:
            text = Path(span.file).read_bytes().decode("utf-8", errors="replace")
        except OSError:
            return None
    lines = text.splitlines()
    if 1 <= span.line <= len(lines):
        return lines[span.line - 1]
    return None


def _display_path(file: str) -> str:
    try:
        rel = Path(file).resolve().relative_to(Path.cwd().resolve())
        return str(rel)
    except (ValueError, OSError):
        return file


def render(d: Diagnostic, sources: Mapping[str, str] | None = None) -> str:
    """`path:LINE:COL: error[E123]: message`, the source line, a caret underline, notes and a hint."""
    sources = sources or {}
    out: list[str] = []
    if d.span is None:
        out.append(f"{d.severity}[{d.code}]: {d.message}")
    else:
        s = d.span
        out.append(f"{_display_path(s.file)}:{s.line}:{s.column}: {d.severity}[{d.code}]: {d.message}")
        out.extend(_excerpt(s, sources))
    for note, where in d.related:
        out.append(f"  note: {note} at {_display_path(where.file)}:{where.line}:{where.column}")
        out.extend(_excerpt(where, sources))
    if d.hint:
        out.append(f"  hint: {d.hint}")
    return "\n".join(out)


def _excerpt(s: Span, sources: Mapping[str, str]) -> list[str]:
    line = _source_line(sources, s)
    if line is None:
        return []
    # One printable character per source character, so the caret stays under the right column.
    line = "".join(" " if c == "\t" else c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in line)
    gutter = f"{s.line:>4} | "
    start = max(s.column - 1, 0)
    end = s.end_column - 1 if s.end_line == s.line else len(line.rstrip())
    width = max(1, min(end, len(line)) - start) if end > start else 1
    return [gutter + line, " " * (len(gutter) - 2) + "| " + " " * start + "^" + "~" * (width - 1)]


def render_all(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    items = sorted(diagnostics, key=sort_key)
    body = "\n\n".join(render(d, sources) for d in items)
    errors = sum(d.is_error for d in items)
    warnings = len(items) - errors
    summary = f"{errors} error{'s' if errors != 1 else ''}"
    if warnings:
        summary += f", {warnings} warning{'s' if warnings != 1 else ''}"
    return f"{body}\n\n{summary}" if items else ""
