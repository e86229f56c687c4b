"""Navigation: go to definition, find references and rename across imports (into the standard library for
reading, never for renaming), the document outline and workspace symbols."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from lsprotocol import types

from ..compile import ast
from ..diagnostics import Span
from ..resources import stdlib_dir
from .convert import Positions, uri
from .index import Definition, Index, Occurrence

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_SYMBOL_KINDS = {
    "dataset": types.SymbolKind.Struct,
    "model": types.SymbolKind.Class,
    "prompt": types.SymbolKind.String,
    "metric": types.SymbolKind.Function,
    "judge": types.SymbolKind.Event,
    "eval": types.SymbolKind.Method,
    "template": types.SymbolKind.Module,
    "param": types.SymbolKind.Variable,
}

PositionsOf = Callable[[str], Positions | None]


class RenameRefused(Exception):
    """A rename that cannot be done; the message says why."""


def _location(span: Span, positions: PositionsOf) -> types.Location | None:
    found = positions(span.file)
    return None if found is None else types.Location(uri=uri(span.file), range=found.range(span))


def definition(index: Index, path: Path, line: int, column: int, positions: PositionsOf) -> list[types.Location]:
    occ = index.at(path, line, column)
    if occ is None:
        return []
    if occ.role == "import":
        if occ.target is None:
            return []
        start = types.Position(line=0, character=0)
        return [types.Location(uri=uri(occ.target), range=types.Range(start=start, end=start))]
    target = index.resolve(path, occ)
    if target is None:
        return []
    found = _location(target.occurrence.span, positions)
    return [found] if found is not None else []


def _target(index: Index, path: Path, line: int, column: int) -> Definition | None:
    occ = index.at(path, line, column)
    return index.resolve(path, occ) if occ is not None else None


def references(
    index: Index, path: Path, line: int, column: int, files: list[Path], positions: PositionsOf, declaration: bool
) -> list[types.Location]:
    target = _target(index, path, line, column)
    if target is None:
        return []
    spans = [occ.span for _, occ in _uses(index, target, files)]
    if declaration:
        spans.insert(0, target.occurrence.span)
    return [loc for loc in (_location(s, positions) for s in spans) if loc is not None]


def _uses(index: Index, target: Definition, files: list[Path]) -> list[tuple[Path, Occurrence]]:
    """References to a definition in the files that can see it (a template parameter's: in its template's body
    and the keyword arguments of its instances)."""
    return index.references(target, files)


def prepare_rename(index: Index, path: Path, line: int, column: int, positions: PositionsOf) -> types.Range:
    """The range of the name to rename; raises RenameRefused for what cannot be renamed."""
    occ = index.at(path, line, column)
    target = index.resolve(path, occ) if occ is not None else None
    if occ is None or target is None:
        raise RenameRefused("nothing to rename here: put the cursor on a definition or a reference to one")
    _refuse_stdlib(target)
    here = positions(str(path))
    assert here is not None
    span = occ.span
    if "." in occ.name:  # `tqa.mc2`: only the part that names the target
        span = Span(
            file=span.file,
            line=span.line,
            column=span.end_column - len(target.name),
            end_line=span.line,
            end_column=span.end_column,
        )
    return here.range(span)


def _refuse_stdlib(target: Definition) -> None:
    try:
        target.path.resolve().relative_to(stdlib_dir().resolve())
    except ValueError:
        return
    raise RenameRefused(
        f"`{target.name}` is defined in the standard library (std/{target.path.stem}), which cannot be renamed"
    )


def rename(
    index: Index, path: Path, line: int, column: int, new_name: str, files: list[Path], positions: PositionsOf
) -> types.WorkspaceEdit:
    """Every occurrence of a definition's name, renamed, in every file that can see it."""
    occ = index.at(path, line, column)
    target = index.resolve(path, occ) if occ is not None else None
    if target is None:
        raise RenameRefused("nothing to rename here: put the cursor on a definition or a reference to one")
    _refuse_stdlib(target)
    if not _NAME.match(new_name) or new_name in ("import", "assert", "true", "false"):
        raise RenameRefused(f"`{new_name}` is not a valid name (letters, digits and `_`, not starting with a digit)")
    changes: dict[str, list[types.TextEdit]] = {}
    spans = [target.occurrence.span] + [o.span for _, o in _uses(index, target, files)]
    for span in spans:
        found = positions(span.file)
        if found is None:
            continue
        # A dotted reference (`tqa.mc2`) renames only its last part.
        start = span.end_column - len(target.name)
        part = Span(file=span.file, line=span.line, column=start, end_line=span.end_line, end_column=span.end_column)
        edit = types.TextEdit(range=found.range(part), new_text=new_name)
        changes.setdefault(uri(span.file), []).append(edit)
    return types.WorkspaceEdit(changes=changes)


# ---- symbols ----
def document_symbols(module: ast.Module, positions: Positions) -> list[types.DocumentSymbol]:
    out = []
    for entry in module.entries:
        symbol = _symbol(entry, positions)
        if symbol is not None:
            out.append(symbol)
    return out


def _symbol(entry: ast.Entry, positions: Positions) -> types.DocumentSymbol | None:
    if isinstance(entry, ast.TemplateDef):
        params = [
            types.DocumentSymbol(
                name=p.name,
                kind=types.SymbolKind.Variable,
                range=positions.range(p.span),
                selection_range=positions.range(p.span),
                detail="parameter",
            )
            for p in entry.params
        ]
        inner = [s for s in (_symbol(e, positions) for e in entry.body) if s is not None]
        return types.DocumentSymbol(
            name=entry.name,
            kind=types.SymbolKind.Module,
            detail="template",
            range=positions.range(entry.span),
            selection_range=positions.range(entry.name_span),
            children=params + inner,
        )
    if isinstance(entry, (ast.Block, ast.Assign)) and entry.name is not None and entry.keyword in _SYMBOL_KINDS:
        assert entry.name_span is not None
        children = []
        if isinstance(entry, ast.Block):
            for e in entry.body:
                if isinstance(e, ast.Attribute):
                    children.append(
                        types.DocumentSymbol(
                            name=e.name,
                            kind=types.SymbolKind.Property,
                            range=positions.range(e.span),
                            selection_range=positions.range(e.name_span),
                        )
                    )
        detail = entry.keyword
        if isinstance(entry, ast.Assign) and isinstance(entry.value, ast.Call):
            detail = f"{entry.keyword} = {entry.value.func}(...)"
        return types.DocumentSymbol(
            name=entry.name,
            kind=_SYMBOL_KINDS[entry.keyword],
            detail=detail,
            range=positions.range(entry.span),
            selection_range=positions.range(entry.name_span),
            children=children or None,
        )
    return None


def workspace_symbols(
    index: Index, files: list[Path], query: str, positions: PositionsOf
) -> list[types.WorkspaceSymbol]:
    """Definitions in every file of the workspace (and the stdlib) whose name contains the query's letters in
    order (case-insensitive)."""
    pattern = re.compile(".*?".join(re.escape(c) for c in query.lower()))
    out = []
    for file in files:
        for occ in index.of(file):
            if occ.role != "def" or occ.kinds == ("param",) or not pattern.search(occ.name.lower()):
                continue
            location = _location(occ.span, positions)
            if location is None:
                continue
            out.append(
                types.WorkspaceSymbol(
                    name=occ.name,
                    kind=_SYMBOL_KINDS.get(occ.kinds[0], types.SymbolKind.Variable),
                    location=location,
                    container_name=occ.scope or file.name,
                )
            )
    return out
