"""Code actions and formatting: a quick fix for every "did you mean `x`?" diagnostic, and format document
through `evaldsl fmt`'s formatter."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

from lsprotocol import types

from ..compile.fmt import format_source
from ..diagnostics import CompileError
from .convert import SOURCE, Positions

_QUOTED = re.compile(r"`([^`]+)`|\"([^\"\n]+)\"")


def quick_fixes(
    doc_uri: str, text: str, diagnostics: list[types.Diagnostic], positions: Positions
) -> list[types.CodeAction]:
    """One preferred quick fix per did-you-mean diagnostic: the misspelt name replaced by the suggestion."""
    actions = []
    for d in diagnostics:
        if d.source != SOURCE or not isinstance(d.data, dict) or not isinstance(d.data.get("fix"), str):
            continue
        fix = d.data["fix"]
        start, end = positions.offset(d.range.start), positions.offset(d.range.end)
        message = d.message.split("\nhint:", 1)[0]
        spans = replacements(text, start, end, message, fix)
        if not spans:
            continue
        edits = [types.TextEdit(range=positions.span_range(a, b), new_text=fix) for a, b in spans]
        actions.append(
            types.CodeAction(
                title=f"Replace with `{fix}`",
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[d],
                edit=types.WorkspaceEdit(changes={doc_uri: edits}),
                is_preferred=True,
            )
        )
    return actions


def replacements(text: str, start: int, end: int, message: str, fix: str) -> list[tuple[int, int]]:
    """Where the misspelt name is: the name the message quotes that is closest to the fix, found as a whole
    word in the diagnostic's span (or, failing that, further on its line: a metric's parameter, say)."""
    quoted = [a or b for a, b in _QUOTED.findall(message)]
    words = dict.fromkeys(w for q in quoted for w in (q, q.rsplit(".", 1)[-1]) if w != fix)
    line_end = text.find("\n", end)
    for region_end in (end, len(text) if line_end < 0 else line_end):
        region = text[start:region_end]
        present = [w for w in words if _whole(w).search(region)]
        if present:
            best = max(present, key=lambda w: (difflib.SequenceMatcher(None, w, fix).ratio(), len(w)))
            found = [(start + m.start(), start + m.end()) for m in _whole(best).finditer(region)]
            return found if region_end == end else found[:1]
    return []


def _whole(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<![A-Za-z0-9_])" + re.escape(word) + r"(?![A-Za-z0-9_])")


def format_document(path: Path, text: str, positions: Positions) -> list[types.TextEdit]:
    """One edit that replaces the document with its formatted text (`evaldsl fmt`'s layout); none when it is
    formatted already or does not parse."""
    try:
        formatted = format_source(text, str(path))
    except CompileError:
        return []
    if formatted == text:
        return []
    return [types.TextEdit(range=positions.span_range(0, len(text)), new_text=formatted)]
