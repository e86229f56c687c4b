"""Every stage as a function — parse, load, check, plan, compile (and run) — used by the CLI and the tests."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .compile import ast
from .compile.checks import run_checks
from .compile.lower import lower
from .compile.resolve import ModuleParser, Program, load_module, read_source, resolve
from .compile.spec import Spec
from .diagnostics import CompileError, Diagnostic, Span, sort_key
from .plan.graph import Graph
from .plan.planner import plan as build_plan

__all__ = ["CheckResult", "CompileError", "parse", "load", "check", "plan", "compile"]

_ONLY_COMMENTS = re.compile(r"\A(\s|#[^\n]*)*\Z")


@dataclass
class CheckResult:
    """The outcome of compiling a spec up to (not including) planning."""

    path: Path
    spec: Spec | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def parse(path: str | Path, text: str | None = None) -> ast.Module:
    """One file → AST (no imports). Raises CompileError on syntax errors."""
    path = Path(path)
    if text is None:
        text, problem = read_source(path)
        if problem is not None:
            raise CompileError([problem])
    assert text is not None
    module, errors = load_module(path, text)
    if module is None or errors:
        raise CompileError(errors)
    return module


def load(path: str | Path, text: str | None = None) -> tuple[Program, list[Diagnostic]]:
    """A spec with its imports and expanded templates."""
    return resolve(Path(path), text)


def check(
    path: str | Path,
    text: str | None = None,
    *,
    overlay: Mapping[Path, str] | None = None,
    parser: ModuleParser = load_module,
) -> CheckResult:
    """Parse, resolve, type and statically check a spec; all diagnostics, sorted by position.

    `overlay` maps resolved paths of imported files to texts to use instead of their contents (an editor's
    unsaved buffers); `parser` parses one file (a caching equivalent of `load_module` may be given).
    """
    path = Path(path)
    if text is None:
        text, problem = read_source(path)
        if problem is not None:
            return CheckResult(path, None, [problem])
    assert text is not None
    if _ONLY_COMMENTS.match(text):
        empty = Diagnostic(
            code="E003",
            message=f"{path.name} is empty: nothing to check or run",
            span=Span.point(str(path.resolve()), 1, 1),
            hint="start with a `dataset`, a `model` and an `eval` block (see the README)",
        )
        return CheckResult(path, None, [empty], {str(path.resolve()): text})
    program, diagnostics = resolve(path, text, overlay=overlay, parse=parser)
    spec, lowering = lower(program)
    diagnostics = diagnostics + lowering
    # Definitions that did not compile were reported; references to them must not be reported as unknown too.
    # All else the checks find in the parts that did compile is reported, so one pass shows every problem.
    compiled = {*spec.datasets, *spec.models, *spec.prompts, *spec.metrics, *spec.judges, *spec.evals}
    written = {name for table in program.definitions.values() for name in table} | program.dropped
    diagnostics += run_checks(spec, frozenset(written - compiled))
    unique: dict[tuple[object, ...], Diagnostic] = {}
    for d in diagnostics:
        unique.setdefault((d.code, d.message, sort_key(d)), d)
    ordered = sorted(unique.values(), key=sort_key)
    return CheckResult(path, spec, ordered, program.sources)


def plan(
    spec: Spec, *, evals: Sequence[str] | None = None, models: Sequence[str] | None = None, limit: int | None = None
) -> Graph:
    """The execution graph of a checked spec."""
    return build_plan(spec, evals=evals, models=models, limit=limit)


def compile(
    path: str | Path,
    *,
    evals: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    limit: int | None = None,
) -> Graph:
    """check + plan; raises CompileError when the spec has errors."""
    result = check(path)
    if not result.ok or result.spec is None:
        raise CompileError(result.diagnostics)
    return plan(result.spec, evals=evals, models=models, limit=limit)
