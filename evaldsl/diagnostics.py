"""Diagnostics: one type for every compile-time finding, rendered compiler-style with a caret and a hint."""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
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


MAX_SUGGESTION_POOL = 100  # names compared per 'did you mean' (each comparison is a difflib ratio)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelt name, or None when nothing is close.

    Among many candidates (a spec of thousands of definitions, each unknown name a search) only a shortlist is
    compared: names of a close length with the same first and last letter (a typo inside the name), and the
    names nearest in sorted order (a typo at its end). The cost of a hint stays bounded, so thousands of
    unknown names cannot make a check quadratic."""
    pool = sorted(set(candidates))
    if len(pool) > MAX_SUGGESTION_POOL:
        half = MAX_SUGGESTION_POOL // 2
        at = bisect.bisect_left(pool, name)
        near = pool[max(0, at - half) : at + half]
        ends = [c for c in pool if c[:1] == name[:1] and c[-1:] == name[-1:] and abs(len(c) - len(name)) <= 2]
        pool = sorted({*near, *ends[:MAX_SUGGESTION_POOL]})
    matches = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    if d.span is None:
        return ("", 0, 0, d.code)
    return (d.span.file, d.span.line, d.span.column, d.code)


class SourceLines:
    """Lines of the sources diagnostics point into, indexed once per file (a file with many diagnostics is not
    split again for each). Only sources the compiler loaded are shown, and `.eval` files read on demand: the
    content of any other file never reaches a diagnostic."""

    def __init__(self, sources: Mapping[str, str] | None = None):
        self._sources = dict(sources or {})
        self._starts: dict[str, list[int]] = {}

    def _text(self, file: str) -> str | None:
        text = self._sources.get(file)
        if text is None and file.endswith(EVAL_SUFFIX):
            try:
                text = Path(file).read_bytes().decode("utf-8", errors="replace")
            except OSError:
                text = None
            self._sources[file] = text  # type: ignore[assignment]  # remembered, also when unreadable
        return text

    def window(self, file: str, line: int, start: int, end: int) -> tuple[str, int, int] | None:
        """Part of line `line` around the 0-based columns [start, end): (text, its first column, line length),
        at most EXCERPT_WIDTH characters; None when the file or line is unknown."""
        text = self._text(file)
        if text is None:
            return None
        starts = self._starts.get(file)
        if starts is None:
            starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]
            self._starts[file] = starts
        if not 1 <= line <= len(starts) or (line == len(starts) and starts[-1] == len(text) and line > 1):
            return None
        begin = starts[line - 1]
        finish = starts[line] if line < len(starts) else len(text)
        while finish > begin and text[finish - 1] in "\r\n":
            finish -= 1
        length = finish - begin
        first = 0 if length <= EXCERPT_WIDTH else max(0, min(start - EXCERPT_WIDTH // 3, length - EXCERPT_WIDTH))
        return text[begin + first : begin + min(length, first + EXCERPT_WIDTH)], first, length


_NEWLINE = re.compile(r"\r\n|\r|\n")
EVAL_SUFFIX = ".eval"
EXCERPT_WIDTH = 120  # characters of a source line shown around the caret
MAX_TEXT = 300  # characters of a message or hint shown (a 1 MB token stays out of the terminal)
MAX_PER_CODE = 20  # diagnostics shown per code; the rest are counted in one line


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\N{HORIZONTAL ELLIPSIS}"


def _display_path(file: str) -> str:
    try:
        rel = Path(file).resolve().relative_to(Path.cwd().resolve())
        return str(rel)
    except (ValueError, OSError):
        return file


def render(d: Diagnostic, sources: Mapping[str, str] | SourceLines | None = None) -> str:
    """`path:LINE:COL: error[E123]: message`, the source line, a caret underline, notes and a hint."""
    lines = sources if isinstance(sources, SourceLines) else SourceLines(sources)
    out: list[str] = []
    if d.span is None:
        out.append(f"{d.severity}[{d.code}]: {_clip(d.message)}")
    else:
        s = d.span
        out.append(f"{_display_path(s.file)}:{s.line}:{s.column}: {d.severity}[{d.code}]: {_clip(d.message)}")
        out.extend(_excerpt(s, lines))
    for note, where in d.related:
        out.append(f"  note: {_clip(note)} at {_display_path(where.file)}:{where.line}:{where.column}")
        out.extend(_excerpt(where, lines))
    if d.hint:
        out.append(f"  hint: {_clip(d.hint)}")
    return "\n".join(out)


def _excerpt(s: Span, lines: SourceLines) -> list[str]:
    start = max(s.column - 1, 0)
    found = lines.window(s.file, s.line, start, s.end_column - 1)
    if found is None:
        return []
    shown, first, length = found
    # One printable character per source character, so the caret stays under the right column.
    shown = "".join(" " if c == "\t" else c if c.isprintable() else "\N{REPLACEMENT CHARACTER}" for c in shown)
    end = s.end_column - 1 if s.end_line == s.line else len(shown.rstrip()) + first
    end = min(end, first + len(shown))
    caret = min(max(start - first, 0), len(shown))
    width = max(1, end - first - caret) if end - first > caret else 1
    left = "\N{HORIZONTAL ELLIPSIS}" if first > 0 else ""
    right = "\N{HORIZONTAL ELLIPSIS}" if first + len(shown) < length else ""
    gutter = f"{s.line:>4} | "
    pad = " " * (len(gutter) - 2) + "| " + " " * len(left)
    return [gutter + left + shown + right, pad + " " * caret + "^" + "~" * (width - 1)]


def render_all(
    diagnostics: Iterable[Diagnostic],
    sources: Mapping[str, str] | None = None,
    *,
    max_per_code: int = MAX_PER_CODE,
) -> str:
    """Every diagnostic rendered, in order; past `max_per_code` of one code, a line counts the rest."""
    items = sorted(diagnostics, key=sort_key)
    lines = SourceLines(sources)
    shown: list[str] = []
    seen: Counter[str] = Counter()
    for d in items:
        seen[d.code] += 1
        if seen[d.code] <= max_per_code:
            shown.append(render(d, lines))
    hidden = [(code, n - max_per_code) for code, n in sorted(seen.items()) if n > max_per_code]
    if hidden:
        shown.append("\n".join(f"\N{HORIZONTAL ELLIPSIS} and {n:,} more [{code}] not shown" for code, n in hidden))
    errors = sum(d.is_error for d in items)
    warnings = len(items) - errors
    summary = f"{errors:,} error{'s' if errors != 1 else ''}"
    if warnings:
        summary += f", {warnings:,} warning{'s' if warnings != 1 else ''}"
    return "\n\n".join(shown) + f"\n\n{summary}" if items else ""
