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


def statements(text: str) -> list[tuple[int, int]]:
    """(offset, line) of each top-level statement start: line 1, then every name in column 1 at bracket depth 0."""
    starts = [(0, 1)]
    depth = 0
    line = 1
    last = 0
    for m in _SCAN.finditer(text):
        token = m.group()
        first = token[0]
        if first == "\n":
            line += text.count("\n", last, m.end())
            last = m.end()
            if depth == 0:
                starts.append((m.end(), line))
        elif first in "{[(":
            depth += 1
        elif first in "}])":
            depth = max(depth - 1, 0)
    return starts


def shifted(value: T, lines: int) -> T:
    """A copy of an AST value (node, span, tuple, diagnostic) moved down by `lines` lines."""
    if lines == 0:
        return value
    return _shift(value, lines)  # type: ignore[no-any-return]


def _shift(value: Any, lines: int) -> Any:
    if isinstance(value, Span):
        return value.model_copy(update={"line": value.line + lines, "end_line": value.end_line + lines})
    if isinstance(value, BaseModel):
        moved = {k: _shift(v, lines) for k, v in value.__dict__.items() if isinstance(v, (BaseModel, tuple))}
        return value.model_copy(update=moved)
    if isinstance(value, tuple):
        return tuple([_shift(v, lines) for v in value])
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
        starts = statements(text)
        result = _use(memory.texts, text, self._parse(path, text, starts, memory))
        memory.trim(2 * len(starts) + 64)
        return result

    def tolerant(self, path: Path, text: str) -> ast.Module:
        """The module of `text` with the statements that do not parse left out (blank lines in their place)."""
        module, _ = self(path, text)
        if module is not None:
            return module
        memory = self._files[str(path)]
        starts = statements(text)
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
