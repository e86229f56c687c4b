"""Compiler spans and diagnostics → LSP ranges and diagnostics, and LSP positions → text offsets, counting
characters in the client's position encoding (UTF-16 unless it asked for another)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path
from pygls.workspace.position_codec import PositionCodec

from ..diagnostics import Diagnostic, Span

SOURCE = "evaldsl"
_DID_YOU_MEAN = re.compile(r"did you mean `([^`]+)`\?")


class Positions:
    """Line/character conversions for one text (lines split at `\\n`, as the compiler counts them)."""

    def __init__(self, text: str, codec: PositionCodec):
        self.text = text
        self.codec = codec
        self.lines = text.split("\n")
        self._starts: list[int] | None = None

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            starts, at = [], 0
            for line in self.lines:
                starts.append(at)
                at += len(line) + 1
            self._starts = starts
        return self._starts

    def _units(self, line: int, column: int) -> int:
        """Client code units of the first `column` characters of a 0-based line."""
        if not 0 <= line < len(self.lines):
            return 0
        prefix = self.lines[line][:column]
        return len(prefix) if prefix.isascii() else self.codec.client_num_units(prefix)

    def position(self, line: int, column: int) -> types.Position:
        """A 0-based line and character column → an LSP position."""
        return types.Position(line=line, character=self._units(line, column))

    def range(self, span: Span) -> types.Range:
        return types.Range(
            start=self.position(span.line - 1, span.column - 1),
            end=self.position(span.end_line - 1, span.end_column - 1),
        )

    def span_range(self, start: int, end: int) -> types.Range:
        """Offsets in the text → an LSP range."""
        return types.Range(start=self.at_offset(start), end=self.at_offset(end))

    def at_offset(self, offset: int) -> types.Position:
        starts = self._line_starts()
        line = max(0, _bisect(starts, offset))
        return self.position(line, offset - starts[line])

    def offset(self, position: types.Position) -> int:
        """An LSP position → an offset in the text (clamped to it)."""
        starts = self._line_starts()
        if position.line >= len(self.lines):
            return len(self.text)
        line = self.lines[position.line]
        if line.isascii():
            column = min(position.character, len(line))
        else:
            column = self.codec.position_from_client_units(self.lines, position).character
        return starts[position.line] + column


def _bisect(starts: list[int], offset: int) -> int:
    lo, hi = 0, len(starts)
    while lo < hi:
        mid = (lo + hi) // 2
        if starts[mid] <= offset:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def uri(path: Path | str) -> str:
    return from_fs_path(str(path)) or f"file://{path}"


def to_lsp(
    d: Diagnostic,
    here: Path,
    positions: Callable[[str], Positions | None],
    via: Callable[[str], Span | None],
) -> types.Diagnostic:
    """A compiler diagnostic as the editor shows it in `here`.

    The hint follows the message on its own line, as `evaldsl check` prints it; related locations become
    related information. A diagnostic located in another file (an imported one) is shown on the import that
    leads there (`via`), pointing at the real place.
    """
    related = [
        types.DiagnosticRelatedInformation(location=_location(where, positions), message=note)
        for note, where in d.related
        if positions(where.file) is not None
    ]
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    span = d.span
    fix = did_you_mean(d)
    if span is not None and span.file != str(here):
        if positions(span.file) is not None:
            real = types.DiagnosticRelatedInformation(location=_location(span, positions), message=d.message)
            related.insert(0, real)
        message = f"{Path(span.file).name}:{span.line}:{span.column}: {message}"
        span, fix = via(span.file), None
    mine = positions(str(here))
    where = mine.range(span) if span is not None and mine is not None else _START
    return types.Diagnostic(
        range=where,
        message=message,
        severity=types.DiagnosticSeverity.Error if d.is_error else types.DiagnosticSeverity.Warning,
        code=d.code,
        source=SOURCE,
        related_information=related or None,
        data={"fix": fix} if fix else None,
    )


_START = types.Range(start=types.Position(line=0, character=0), end=types.Position(line=0, character=0))


def _location(span: Span, positions: Callable[[str], Positions | None]) -> types.Location:
    found = positions(span.file)
    assert found is not None
    return types.Location(uri=uri(span.file), range=found.range(span))


def did_you_mean(d: Diagnostic) -> str | None:
    """The replacement a diagnostic's "did you mean `x`?" suggests (in its hint, else its message)."""
    for text in (d.hint or "", d.message):
        m = _DID_YOU_MEAN.search(text)
        if m:
            return m.group(1)
    return None
