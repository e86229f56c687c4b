"""Definitions and references of each file, read from its syntax tree, and name resolution across imports and
into templates: what navigation and hover stand on."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..compile import ast
from ..compile.resolve import import_target
from ..diagnostics import Span
from .documents import Documents
from .schema import REFERENCES

ANY_KIND = ("dataset", "model", "prompt", "metric", "judge")
_DEFINED = {"dataset", "model", "prompt", "metric", "judge", "eval"}


@dataclass(frozen=True)
class Occurrence:
    """A name in the text. `role`: def (a definition's name), ref (a reference to one), attr (an attribute's
    name), family (a metric family or aggregate), import (an import's path), keyword (a statement keyword).

    `kinds`: def — its kind; ref — the kinds it may name (`param` for template parameters). `scope`: the template
    whose body holds it. `owner`: for a keyword argument of a template call, the template; for an attribute,
    the block kind.
    """

    role: str
    name: str
    span: Span
    kinds: tuple[str, ...] = ()
    scope: str | None = None
    owner: str | None = None
    target: Path | None = None  # import: the file it loads

    def contains(self, line: int, column: int) -> bool:
        s = self.span
        return (s.line, s.column) <= (line, column) <= (s.end_line, s.end_column) and s.line == s.end_line


def occurrences(module: ast.Module, here: Path) -> list[Occurrence]:
    """Every occurrence in a file, in text order."""
    out: list[Occurrence] = []
    for entry in module.entries:
        out.extend(_entry(entry, None, here, set(), set()))
    return out


def _entry(entry: ast.Entry, scope: str | None, here: Path, params: set[str], local: set[str]) -> Iterator[Occurrence]:
    if isinstance(entry, ast.Import):
        yield Occurrence("import", entry.path, entry.span, target=import_target(entry.path, here.parent))
    elif isinstance(entry, ast.TemplateDef):
        yield Occurrence("keyword", entry.keyword, entry.keyword_span)
        yield Occurrence("def", entry.name, entry.name_span, ("template",))
        names = {p.name for p in entry.params}
        inner = {e.name for e in entry.body if isinstance(e, (ast.Block, ast.Assign)) and e.name}
        for p in entry.params:
            yield Occurrence("def", p.name, _word(p.span, p.name), ("param",), scope=entry.name)
            if p.default is not None:
                yield from _refs(p.default, ANY_KIND, scope, set(), set())
        for e in entry.body:
            yield from _entry(e, entry.name, here, names, inner)
    elif isinstance(entry, ast.Block):
        yield Occurrence("keyword", entry.keyword, entry.keyword_span)
        if entry.name is not None and entry.name_span is not None and entry.keyword in _DEFINED:
            yield Occurrence("def", entry.name, entry.name_span, (entry.keyword,), scope=scope)
        yield from _body(entry.keyword, entry.body, scope, params, local)
    elif isinstance(entry, ast.Assign):
        yield Occurrence("keyword", entry.keyword, entry.keyword_span)
        if entry.keyword in _DEFINED:
            yield Occurrence("def", entry.name, entry.name_span, (entry.keyword,), scope=scope)
        value = entry.value
        if entry.keyword == "metric" and isinstance(value, (ast.Call, ast.Ref)):
            span = value.func_span if isinstance(value, ast.Call) else value.span
            name = value.func if isinstance(value, ast.Call) else value.name
            yield Occurrence("family", name, span, ("metric",))
        elif entry.keyword == "eval" and isinstance(value, ast.Call):
            yield Occurrence("ref", value.func, value.func_span, ("template",), scope=None)
            for kw in value.kwargs:
                yield Occurrence("ref", kw.name, _word(kw.span, kw.name), ("param",), owner=value.func)
                yield from _refs(kw.value, ANY_KIND, scope, params, local)
            for arg in value.args:
                yield from _refs(arg, ANY_KIND, scope, params, local)
        else:
            yield from _refs(value, ANY_KIND, scope, params, local)
    elif isinstance(entry, ast.Attribute):
        yield from _refs(entry.value, ANY_KIND, scope, params, local)


def _body(
    kind: str, body: tuple[ast.Entry, ...], scope: str | None, params: set[str], local: set[str]
) -> Iterator[Occurrence]:
    for e in body:
        if isinstance(e, ast.Attribute):
            yield Occurrence("attr", e.name, e.name_span, owner=kind, scope=scope)
            kinds = REFERENCES.get((kind, e.name))
            yield from _refs(e.value, kinds or (), scope, params, local)
        elif isinstance(e, ast.Block):
            yield Occurrence("keyword", e.keyword, e.keyword_span)
            yield from _body(e.keyword, e.body, scope, params, local)
        elif isinstance(e, ast.Assign):
            yield Occurrence("keyword", e.keyword, e.keyword_span)
            yield from _refs(e.value, (), scope, params, local)
        elif isinstance(e, ast.Assert):
            left = e.left
            if isinstance(left, ast.Call):
                yield Occurrence("family", left.func, left.func_span, ("aggregate",))
                for arg in left.args:
                    yield from _refs(arg, ("metric", "judge"), scope, params, local)


def _refs(
    value: ast.Value, kinds: tuple[str, ...], scope: str | None, params: set[str], local: set[str]
) -> Iterator[Occurrence]:
    """References inside a value: names of the given kinds, and template parameters wherever they stand."""
    if isinstance(value, ast.Ref):
        if value.parts[0] in params and len(value.parts) == 1:
            yield Occurrence("ref", value.name, value.span, ("param",), scope=scope)
        elif kinds:
            yield Occurrence("ref", value.name, value.span, kinds, scope=scope if value.parts[0] in local else None)
    elif isinstance(value, ast.ListV):
        for item in value.items:
            yield from _refs(item, kinds, scope, params, local)
    elif isinstance(value, ast.MapV):
        for entry in value.entries:
            yield from _refs(entry.value, (), scope, params, local)
    elif isinstance(value, ast.Call):
        for arg in value.args:
            yield from _refs(arg, (), scope, params, local)
        for kw in value.kwargs:
            yield from _refs(kw.value, (), scope, params, local)


def _word(span: Span, name: str) -> Span:
    """The span of the name at the start of `span` (a parameter or keyword argument)."""
    return Span(
        file=span.file, line=span.line, column=span.column, end_line=span.line, end_column=span.column + len(name)
    )


@dataclass(frozen=True)
class Definition:
    """Where a name is defined: its file and occurrence."""

    path: Path
    occurrence: Occurrence

    @property
    def kind(self) -> str:
        return self.occurrence.kinds[0]

    @property
    def name(self) -> str:
        return self.occurrence.name


class Index:
    """Occurrences per file (memoised per parsed module) and resolution of references to definitions."""

    def __init__(self, docs: Documents):
        self.docs = docs
        self._memo: dict[Path, tuple[ast.Module, list[Occurrence]]] = {}

    def of(self, path: Path) -> list[Occurrence]:
        module = self.docs.module(path)
        if module is None:
            return []
        known = self._memo.get(path)
        if known is not None and known[0] is module:
            return known[1]
        found = occurrences(module, path)
        self._memo[path] = (module, found)
        return found

    def at(self, path: Path, line: int, column: int) -> Occurrence | None:
        """The occurrence under a 1-based line and column."""
        for occ in self.of(path):
            if occ.contains(line, column):
                return occ
        return None

    def closure(self, path: Path) -> list[Path]:
        """A file and everything it imports, transitively (each once, the file first)."""
        seen: dict[Path, None] = {}
        todo = [path]
        while todo:
            file = todo.pop(0)
            if file in seen:
                continue
            seen[file] = None
            todo.extend(o.target for o in self.of(file) if o.role == "import" and o.target is not None)
        return list(seen)

    def definitions(self, path: Path, kinds: tuple[str, ...] = (), *, scoped: bool = False) -> list[Definition]:
        """Top-level definitions in a file and its imports (of the given kinds; template bodies when `scoped`)."""
        out = []
        for file in self.closure(path):
            for occ in self.of(file):
                if occ.role == "def" and (scoped or occ.scope is None) and (not kinds or occ.kinds[0] in kinds):
                    out.append(Definition(file, occ))
        return out

    def resolve(self, path: Path, occ: Occurrence) -> Definition | None:
        """The definition a reference (or a definition's own name) stands for."""
        if occ.role == "def":
            return Definition(path, occ)
        if occ.role != "ref":
            return None
        if occ.kinds == ("param",):
            template = occ.owner or occ.scope
            found = self._template(path, template) if template else None
            if found is None:
                return None
            return self._local(found.path, found.name, occ.name, ("param",))
        head, *rest = occ.name.split(".")
        if occ.scope is not None:  # a definition local to the template being defined
            local = self._local(path, occ.scope, occ.name, occ.kinds)
            if local is not None:
                return local
        if rest:
            return self._instance_member(path, head, rest[-1], occ.kinds)
        for kind in occ.kinds:
            for d in self.definitions(path, (kind,)):
                if d.name == occ.name:
                    return d
        return None

    def _template(self, path: Path, name: str) -> Definition | None:
        return next((d for d in self.definitions(path, ("template",)) if d.name == name), None)

    def _local(self, path: Path, template: str, name: str, kinds: tuple[str, ...]) -> Definition | None:
        for occ in self.of(path):
            if occ.role == "def" and occ.scope == template and occ.name == name and occ.kinds[0] in kinds:
                return Definition(path, occ)
        return None

    def _instance_member(self, path: Path, instance: str, member: str, kinds: tuple[str, ...]) -> Definition | None:
        """`tqa.mc2`: the definition `mc2` inside the template that `eval tqa = truthfulqa(...)` instantiates."""
        for file in self.closure(path):
            found = self.of(file)
            for i, occ in enumerate(found):
                if occ.role == "def" and occ.kinds == ("eval",) and occ.name == instance and occ.scope is None:
                    call = next((o for o in found[i + 1 : i + 2] if o.kinds == ("template",)), None)
                    template = self._template(file, call.name) if call is not None else None
                    if template is None:
                        return Definition(file, occ)
                    local = self._local(template.path, template.name, member, kinds or ANY_KIND)
                    return local or Definition(file, occ)
        return None

    def references(self, target: Definition, files: list[Path]) -> list[tuple[Path, Occurrence]]:
        """Every reference to `target` in the given files (those that cannot see it are skipped)."""
        out = []
        for file in files:
            if target.path not in self.closure(file):
                continue
            for occ in self.of(file):
                if occ.role == "ref" and occ.name.split(".")[-1] == target.name and self.resolve(file, occ) == target:
                    out.append((file, occ))
        return out
