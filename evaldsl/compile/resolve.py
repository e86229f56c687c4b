"""Modules → one flat program: imports loaded (cycles reported), templates expanded, names unique per kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..diagnostics import Diagnostic, Span, did_you_mean
from ..project import project_root
from ..resources import stdlib_dir
from . import ast
from .confine import MAX_SOURCE_BYTES, MAX_TOTAL_SOURCE_BYTES, allowed_roots, locate_import, read_source
from .substitute import NOT_CONSTANT, Substitution, constant
from .syntax import ParseFailure, parse_tree
from .to_ast import to_module

DEFINITION_KINDS = ("dataset", "model", "prompt", "metric", "judge", "eval", "template")
_BLOCK_KINDS = {"dataset", "model", "prompt", "judge", "eval"}
_ASSIGN_KINDS = {"model", "prompt", "metric", "eval"}
_MAX_TEMPLATE_DEPTH = 16
MAX_IMPORT_DEPTH = 64  # files in one chain of imports (each import is one level of recursion here)
_MAX_INSTANCES = 10_000  # template instantiations per program: nesting with fan-out grows exponentially

# Parses one file's text: `load_module`, or a caching equivalent (the language server's).
ModuleParser = Callable[[Path, str], tuple[ast.Module | None, list[Diagnostic]]]


@dataclass(frozen=True)
class Definition:
    """One named definition after expansion. `params` are template arguments visible to its Jinja strings."""

    kind: str
    name: str
    node: ast.Block | ast.Assign | ast.TemplateDef
    base_dir: Path
    params: Mapping[str, Any] = field(default_factory=dict)
    # Where each template argument was written (the argument's value; the instance call for a default).
    param_spans: Mapping[str, Span] = field(default_factory=dict)


@dataclass
class Program:
    """Every definition of a spec and its imports, keyed by kind then name."""

    root: Path
    definitions: dict[str, dict[str, Definition]] = field(default_factory=lambda: {k: {} for k in DEFINITION_KINDS})
    sources: dict[str, str] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)  # names of definitions with an unknown statement keyword

    def names(self, kind: str) -> list[str]:
        return list(self.definitions[kind])


def load_module(path: Path, text: str) -> tuple[ast.Module | None, list[Diagnostic]]:
    """Parse and transform one file's text."""
    try:
        tree = parse_tree(text, str(path))
    except ParseFailure as failure:
        return None, [failure.diagnostic]
    return to_module(tree, str(path))


class _Resolver:
    def __init__(
        self,
        root: Path,
        root_text: str | None,
        overlay: Mapping[Path, str],
        parse: ModuleParser,
        roots: tuple[Path, ...],
    ):
        self.program = Program(root=root)
        self._roots = roots
        self.diagnostics: list[Diagnostic] = []
        self._loaded: set[Path] = set()
        self._root_text = root_text
        self._overlay = overlay
        self._parse = parse
        self._expanding: list[str] = []  # templates being instantiated, outermost first
        self._instances = 0
        self._read = 0  # characters of source loaded so far (bounded by MAX_TOTAL_SOURCE_BYTES)

    # ---- imports ----
    def load(self, path: Path, chain: tuple[Path, ...], span: Span | None) -> None:
        path = path.resolve()
        if path in chain:
            cycle = " -> ".join(p.name for p in (*chain[chain.index(path) :], path))
            self.diagnostics.append(
                Diagnostic(
                    code="E202",
                    message=f"import cycle: {cycle}",
                    span=span,
                    hint="break the cycle by moving the shared definitions into a file both can import",
                )
            )
            return
        if path in self._loaded:
            return
        if len(chain) >= MAX_IMPORT_DEPTH:
            self.diagnostics.append(
                Diagnostic(
                    code="E004",
                    message=f"imports nested too deeply: {path.name} is imported through {len(chain)} files",
                    span=span,
                    hint=f"a chain of imports is at most {MAX_IMPORT_DEPTH} files long",
                )
            )
            return
        self._loaded.add(path)
        if not chain and self._root_text is not None:
            text: str | None = self._root_text
        elif path in self._overlay:
            text = self._overlay[path]
        else:
            room = min(MAX_SOURCE_BYTES, max(MAX_TOTAL_SOURCE_BYTES - self._read, 0))
            text, problem = read_source(path, span, room)
            if problem is not None:
                self.diagnostics.append(problem)
                return
        assert text is not None
        self._read += len(text)
        self.program.sources[str(path)] = text
        module, errors = self._parse(path, text)
        self.diagnostics.extend(errors)
        if module is None:
            return
        for entry in module.entries:
            if isinstance(entry, ast.Import):
                target = self._import_path(entry, path.parent)
                if target is not None:
                    self.load(target, (*chain, path), entry.span)
        for entry in module.entries:
            if not isinstance(entry, ast.Import):
                self.top_level(entry, path.parent, {}, None, 0)

    def _import_path(self, entry: ast.Import, here: Path) -> Path | None:
        raw = entry.path
        if not raw.startswith("std/"):
            found = locate_import(raw, here, self._roots, entry.span)  # refused by name, never opened
            if isinstance(found, Diagnostic):
                self.diagnostics.append(found)
                return None
            if found is not None:
                return found
        elif (target := import_target(raw, here)) is not None:
            return target
        if raw.startswith("std/"):
            available = sorted("std/" + p.stem for p in stdlib_dir().glob("*.eval"))
            self.diagnostics.append(
                Diagnostic(
                    code="E201",
                    message=f"no standard library module `{raw}`",
                    span=entry.span,
                    hint=did_you_mean(raw, available) or "available: " + ", ".join(available),
                )
            )
            return None
        self.diagnostics.append(
            Diagnostic(
                code="E201",
                message=f"imported file not found: {raw}",
                span=entry.span,
                hint=f"paths are relative to the importing file's folder ({here}); the standard library is `std/...`",
            )
        )
        return None

    # ---- definitions ----
    def top_level(
        self,
        entry: ast.Entry,
        base_dir: Path,
        params: Mapping[str, Any],
        prefix: str | None,
        depth: int,
        param_spans: Mapping[str, Span] | None = None,
    ) -> None:
        if isinstance(entry, ast.Attribute):
            self.diagnostics.append(
                Diagnostic(
                    code="E204",
                    message=f"attribute `{entry.name}` outside of any block",
                    span=entry.name_span,
                    hint="attributes belong inside a block such as `eval NAME { ... }`",
                )
            )
            return
        if isinstance(entry, ast.Assert):
            self.diagnostics.append(
                Diagnostic(
                    code="E204",
                    message="`assert` outside of an eval",
                    span=entry.span,
                    hint="put the assert inside the `eval` block it checks",
                )
            )
            return
        if isinstance(entry, ast.Import):
            self.diagnostics.append(
                Diagnostic(code="E204", message="`import` is only allowed at the top level of a file", span=entry.span)
            )
            return
        keyword, keyword_span = entry.keyword, entry.keyword_span
        if isinstance(entry, ast.TemplateDef):
            if keyword != "template":
                return self._unknown_keyword(keyword, keyword_span, {"template"}, entry.name)
            if prefix is not None:
                self.diagnostics.append(
                    Diagnostic(code="E204", message="templates cannot be defined inside a template", span=entry.span)
                )
                return
            self.define("template", entry.name, entry, entry.name_span, base_dir, params)
            return
        if isinstance(entry, ast.Block):
            if keyword not in _BLOCK_KINDS or entry.name is None:
                if keyword in _BLOCK_KINDS:
                    self.diagnostics.append(
                        Diagnostic(
                            code="E204",
                            message=f"`{keyword}` block without a name",
                            span=keyword_span,
                            hint=f"write `{keyword} NAME {{ ... }}`",
                        )
                    )
                    return
                return self._unknown_keyword(keyword, keyword_span, _BLOCK_KINDS | {"template"}, entry.name)
            name = entry.name if prefix is None else f"{prefix}.{entry.name}"
            assert entry.name_span is not None
            self.define(keyword, name, entry, entry.name_span, base_dir, params, param_spans)
            return
        assert isinstance(entry, ast.Assign)
        if keyword not in _ASSIGN_KINDS:
            return self._unknown_keyword(keyword, keyword_span, _ASSIGN_KINDS | {"dataset", "judge"}, entry.name)
        name = entry.name if prefix is None else f"{prefix}.{entry.name}"
        if keyword == "eval" and isinstance(entry.value, ast.Call):
            self.instantiate(name, entry, entry.value, depth)
            return
        self.define(keyword, name, entry, entry.name_span, base_dir, params, param_spans)

    def _unknown_keyword(self, keyword: str, span: Span, valid: set[str], name: str | None) -> None:
        if name is not None:
            self.program.dropped.add(name)
        self.diagnostics.append(
            Diagnostic(
                code="E203",
                message=f"unknown statement `{keyword}`",
                span=span,
                hint=did_you_mean(keyword, valid)
                or _prefix_match(keyword, valid)
                or "statements are: import, dataset, model, prompt, metric, judge, template, eval",
            )
        )

    def define(
        self,
        kind: str,
        name: str,
        node: ast.Block | ast.Assign | ast.TemplateDef,
        name_span: Span,
        base_dir: Path,
        params: Mapping[str, Any],
        param_spans: Mapping[str, Span] | None = None,
    ) -> None:
        existing = self.program.definitions[kind].get(name)
        if existing is not None:
            first = existing.node.name_span if existing.node.name_span is not None else existing.node.span
            self.diagnostics.append(
                Diagnostic(
                    code="E205",
                    message=f"duplicate {kind} `{name}`",
                    span=name_span,
                    hint=f"rename one of them: {kind} names must be unique across a file and its imports",
                    related=(("first defined", first),),
                )
            )
            return
        self.program.definitions[kind][name] = Definition(
            kind, name, node, base_dir, dict(params), dict(param_spans or {})
        )

    # ---- templates ----
    def instantiate(self, name: str, entry: ast.Assign, call: ast.Call, depth: int) -> None:
        template = self.program.definitions["template"].get(call.func)
        if template is None:
            self.diagnostics.append(
                Diagnostic(
                    code="E206",
                    message=f"unknown template `{call.func}`",
                    span=call.func_span,
                    hint=did_you_mean(call.func, self.program.names("template"))
                    or 'define it with `template NAME(...) { ... }` or import it (e.g. `import "std/general"`)',
                )
            )
            return
        if call.func in self._expanding:
            chain = " -> ".join([*self._expanding[self._expanding.index(call.func):], call.func])
            self.diagnostics.append(
                Diagnostic(
                    code="E209",
                    message=f"template `{call.func}` instantiates itself ({chain})",
                    span=call.span,
                    hint="a template cannot use itself, directly or through another template",
                )
            )
            return
        self._instances += 1
        if self._instances == _MAX_INSTANCES + 1:
            self.diagnostics.append(
                Diagnostic(
                    code="E209",
                    message=f"templates expand to more than {_MAX_INSTANCES} instances (at `{call.func}`)",
                    span=call.span,
                    hint="templates that instantiate other templates several times multiply: flatten the nesting",
                )
            )
        if self._instances > _MAX_INSTANCES:
            return
        if depth >= _MAX_TEMPLATE_DEPTH:
            self.diagnostics.append(
                Diagnostic(
                    code="E209",
                    message=f"templates nested too deeply at `{call.func}`",
                    span=call.span,
                    hint=f"templates nest at most {_MAX_TEMPLATE_DEPTH} deep",
                )
            )
            return
        tdef = template.node
        assert isinstance(tdef, ast.TemplateDef)
        declared = [p.name for p in tdef.params]
        bound: dict[str, ast.Value] = {}
        defaulted: set[str] = set()
        ok = True
        if len(call.args) > len(declared):
            self.diagnostics.append(
                Diagnostic(
                    code="E208",
                    message=f"template `{call.func}` takes {len(declared)} argument(s), "
                    f"got {len(call.args)} positional",
                    span=call.args[len(declared)].span,
                )
            )
            ok = False
        for param, value in zip(tdef.params, call.args, strict=False):  # the rest come by name or default
            bound[param.name] = value
        for kwarg in call.kwargs:
            if kwarg.name not in declared:
                self.diagnostics.append(
                    Diagnostic(
                        code="E208",
                        message=f"template `{call.func}` has no parameter `{kwarg.name}`",
                        span=kwarg.span,
                        hint=did_you_mean(kwarg.name, declared) or f"parameters: {', '.join(declared) or '(none)'}",
                    )
                )
                ok = False
                continue
            bound[kwarg.name] = kwarg.value
        for param in tdef.params:
            if param.name not in bound:
                if param.default is None:
                    self.diagnostics.append(
                        Diagnostic(
                            code="E207",
                            message=f"template `{call.func}` needs argument `{param.name}`",
                            span=call.span,
                            hint=f"pass it: {call.func}({param.name} = ...)",
                            related=(("parameter declared", param.span),),
                        )
                    )
                    ok = False
                else:
                    bound[param.name] = param.default
                    defaulted.add(param.name)
        if not ok:
            return
        # Names other definitions can refer to (evals are never referred to, so `eval mc1` and metric `mc1` coexist).
        local = {
            e.name
            for e in tdef.body
            if isinstance(e, (ast.Block, ast.Assign))
            and e.name is not None
            and e.keyword in (_BLOCK_KINDS | _ASSIGN_KINDS) - {"eval"}
        }
        constants = {k: v for k, v in ((k, constant(v)) for k, v in bound.items()) if v is not NOT_CONSTANT}
        spans = {k: call.span if k in defaulted else v.span for k, v in bound.items() if k in constants}
        substitute = Substitution(bound, local, name)
        produced_eval = False
        self._expanding.append(call.func)
        try:
            for inner in tdef.body:
                if isinstance(inner, ast.Attribute) and inner.name == "description":
                    continue
                rewritten = substitute.entry(inner)
                if isinstance(rewritten, (ast.Block, ast.Assign)) and rewritten.keyword == "eval":
                    produced_eval = True
                self.top_level(rewritten, template.base_dir, constants, name, depth + 1, spans)
        finally:
            self._expanding.pop()
        if not produced_eval:
            self.diagnostics.append(
                Diagnostic(
                    code="E210",
                    message=f"template `{call.func}` defines no eval",
                    span=tdef.name_span,
                    hint="a template must contain at least one `eval` block",
                )
            )


def _prefix_match(word: str, valid: set[str]) -> str | None:
    """'did you mean' for an abbreviation or an extension of a keyword (`evaluation` → `eval`)."""
    lowered = word.lower()
    matches = sorted(v for v in valid if lowered.startswith(v) or v.startswith(lowered))
    return f"did you mean `{matches[0]}`?" if len(matches) == 1 else None


def import_target(raw: str, here: Path) -> Path | None:
    """The file an `import "raw"` written in folder `here` loads (`std/...` from the stdlib), or None."""
    if raw.startswith("std/"):
        try:
            candidate = stdlib_dir() / raw[4:]
            candidate = candidate if candidate.suffix == ".eval" else candidate.with_suffix(".eval")
            if candidate.is_file():
                return candidate
        except (ValueError, OSError):  # `std//`, a NUL character...: no such module
            pass
        return None
    found = locate_import(raw, here, (project_root(here),), None)
    return found if isinstance(found, Path) else None


def resolve(
    path: Path,
    text: str | None = None,
    *,
    overlay: Mapping[Path, str] | None = None,
    parse: ModuleParser = load_module,
    roots: Sequence[Path] | None = None,
) -> tuple[Program, list[Diagnostic]]:
    """Load `path` (or the given text as its content) with its imports and expand every template instance.

    `overlay` maps resolved paths to texts used instead of the files' contents (an editor's unsaved buffers);
    imports are read only inside `roots` (default: the spec's project root) and the standard library.
    """
    allowed = tuple(roots) if roots is not None else allowed_roots(path)
    resolver = _Resolver(path.resolve(), text, overlay or {}, parse, allowed)
    resolver.load(path, (), None)
    return resolver.program, resolver.diagnostics
