"""Per-statement parse cache: a file is split at its top-level statements and each is parsed once per text, so
an edit reparses only the statement it touches. Results equal `load_module`'s, diagnostics included."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from ..compile import ast
from ..compile.resolve import load_module
from ..diagnostics import Diagnostic, Span

# Strings, expressions and comments (as the grammar's lexer reads them, unterminated ones to where they stop),
# brackets, and line starts. A statement starts at a name in column 1 outside any bracket.
_SCAN = re.compile(
    r'"""[\s\S]*?(?:"""|\Z)'  # long string
    r'|"(?:\\.|[^"\\\n])*"?'  # string (an unterminated one ends at the line's end)
    r"|`[^`]*`?"  # backtick expression
    r"|#[^\n]*"  # comment
    r"|[{\[(]|[}\])]"
    r"|\n(?=[A-Za-z_])"
)

T = TypeVar("T")


Starts = list[tuple[int, int]]


def statements(text: str, before: tuple[str, Starts] | None = None) -> Starts:
    """(offset, line) of each top-level statement start: line 1, then every name in column 1 at bracket depth 0.

    With `before` (an earlier text and its starts), only the part from the statement before the first change
    to the first unchanged statement after it is scanned again.
    """
    if before is None:
        return _scan(text, 0, 1, None)
    old, old_starts = before
    same = _common_prefix(old, text)
    resume = max((i for i, (offset, _) in enumerate(old_starts) if offset < same), default=0)
    tail = _common_suffix(old, text, same)
    sync = {offset: (i, line) for i, (offset, line) in enumerate(old_starts) if offset >= len(old) - tail}
    offset, line = old_starts[resume]
    found = _scan(text, offset, line, (len(text) - len(old), sync))
    if found and found[-1][0] < 0:  # met an unchanged statement start: the rest is as before, shifted
        _, index = found.pop()
        shift = len(text) - len(old)
        lines = found[-1][1] - old_starts[index][1]
        found += [(o + shift, n + lines) for o, n in old_starts[index + 1 :]]
    return old_starts[:resume] + found


def _scan(text: str, offset: int, line: int, resync: tuple[int, dict[int, tuple[int, int]]] | None) -> Starts:
    """Statement starts from `offset` (a start, at `line`). With `resync` (the length change and the old starts of
    the unchanged end), stop at the first start that was one before, marking it with (-1, its old index)."""
    starts = [(offset, line)]
    depth = 0
    last = offset
    for m in _SCAN.finditer(text, offset):
        first = m.group()[0]
        if first == "\n":
            line += text.count("\n", last, m.end())
            last = m.end()
            if depth == 0:
                starts.append((m.end(), line))
                if resync is not None and m.end() - resync[0] in resync[1]:
                    starts.append((-1, resync[1][m.end() - resync[0]][0]))
                    return starts
        elif first in "{[(":
            depth += 1
        elif first in "}])":
            depth = max(depth - 1, 0)
    return starts


def _common_prefix(a: str, b: str) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # the longest equal prefix, by halving (each comparison runs in C)
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, prefix: int) -> int:
    lo, hi = 0, min(len(a), len(b)) - prefix
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def shifted(value: T, lines: int) -> T:
    """A copy of an AST value (node, span, tuple, diagnostic) moved down by `lines` lines."""
    if lines == 0:
        return value
    return _shift(value, lines)  # type: ignore[no-any-return]


def _shift(value: Any, lines: int) -> Any:
    if isinstance(value, Span):
        return value.model_copy(update={"line": value.line + lines, "end_line": value.end_line + lines})
    if isinstance(value, BaseModel):
        moved = {k: _shift(v, lines) for k, v in value.__dict__.items() if isinstance(v, (BaseModel, tuple, list))}
        return value.model_copy(update=moved)
    if isinstance(value, (tuple, list)):
        return type(value)(_shift(v, lines) for v in value)
    return value


@dataclass
class _Parsed:
    """One statement parsed at line 1: its entries and value errors, or None when it does not parse alone."""

    entries: tuple[ast.Entry, ...] | None
    errors: list[Diagnostic]


Placed = tuple[tuple[ast.Entry, ...], list[Diagnostic]]


@dataclass
class _FileMemory:
    """What one file's recent parses left: statements by text (parsed at line 1) and by (text, line)."""

    alone: dict[str, _Parsed] = field(default_factory=dict)
    placed: dict[tuple[str, int], Placed] = field(default_factory=dict)
    texts: dict[str, tuple[ast.Module | None, list[Diagnostic]]] = field(default_factory=dict)  # whole files
    split: tuple[str, Starts] | None = None  # the last text split into statements

    def trim(self, keep: int) -> None:
        """Forget the least recently used entries beyond `keep` (dicts keep use order: see `_use`)."""
        tables: tuple[tuple[dict[Any, Any], int], ...] = ((self.alone, keep), (self.placed, keep), (self.texts, 4))
        for table, limit in tables:
            for key in list(table)[: max(len(table) - limit, 0)]:
                del table[key]


def _use(table: dict[Any, T], key: Any, value: T) -> T:
    table.pop(key, None)
    table[key] = value
    return value


@dataclass
class ParseCache:
    """`load_module` with memory: statements seen before (at any line) are not parsed again."""

    _files: dict[str, _FileMemory] = field(default_factory=dict)

    def __call__(self, path: Path, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
        """The same result as `load_module(path, text)`."""
        file = str(path)
        memory = self._files.setdefault(file, _FileMemory())
        known = memory.texts.get(text)
        if known is not None:
            return _use(memory.texts, text, known)
        starts = self._statements(text, memory)
        result = _use(memory.texts, text, self._parse(path, text, starts, memory))
        memory.trim(2 * len(starts) + 64)
        return result

    @staticmethod
    def _statements(text: str, memory: _FileMemory) -> Starts:
        if memory.split is not None and memory.split[0] == text:
            return memory.split[1]
        starts = statements(text, memory.split)
        memory.split = (text, starts)
        return starts

    def tolerant(self, path: Path, text: str) -> ast.Module:
        """The module of `text` with the statements that do not parse left out (blank lines in their place)."""
        module, _ = self(path, text)
        if module is not None:
            return module
        memory = self._files[str(path)]
        starts = self._statements(text, memory)
        kept: list[str] = []
        for i, (offset, _line) in enumerate(starts):
            chunk = text[offset : starts[i + 1][0] if i + 1 < len(starts) else len(text)]
            parsed = _use(memory.alone, chunk, memory.alone.get(chunk) or _parse_alone(path, chunk))
            kept.append(chunk if parsed.entries is not None else "\n" * chunk.count("\n"))
        module, _ = self(path, "".join(kept))
        file = str(path)
        return module or ast.Module(span=Span.point(file, 1, 1), path=file, entries=())

    def _parse(
        self, path: Path, text: str, starts: list[tuple[int, int]], memory: _FileMemory
    ) -> tuple[ast.Module | None, list[Diagnostic]]:
        file = str(path)
        entries: list[ast.Entry] = []
        errors: list[Diagnostic] = []
        for i, (offset, line) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            chunk = text[offset:end]
            parsed = _use(memory.alone, chunk, memory.alone.get(chunk) or _parse_alone(path, chunk))
            if parsed.entries is None:
                # This statement does not parse on its own: the file's first error is here (or the statement
                # continues into the next one). Parse from here on, at the right line, as the file would be.
                return _parse_rest(path, text, offset, line, entries, errors)
            key = (chunk, line)
            at = memory.placed.get(key) or (shifted(parsed.entries, line - 1), shifted(parsed.errors, line - 1))
            _use(memory.placed, key, at)
            entries.extend(at[0])
            errors.extend(at[1])
        return ast.Module(span=Span.point(file, 1, 1), path=file, entries=tuple(entries)), errors


def _parse_alone(path: Path, chunk: str) -> _Parsed:
    module, errors = load_module(path, chunk)
    if module is None:
        return _Parsed(None, [])
    return _Parsed(module.entries, errors)


def _parse_rest(
    path: Path, text: str, offset: int, line: int, entries: list[ast.Entry], errors: list[Diagnostic]
) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse the text from `offset` (at its `line`) to the end; the statements before it parsed cleanly."""
    module, rest_errors = load_module(path, "\n" * (line - 1) + text[offset:])
    if module is None:
        return None, rest_errors
    file = str(path)
    return (
        ast.Module(span=Span.point(file, 1, 1), path=file, entries=(*entries, *module.entries)),
        errors + rest_errors,
    )
