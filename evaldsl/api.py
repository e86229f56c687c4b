"""Every stage as a function — parse, load, check, plan, compile, run — used by the CLI, the language tools and
the tests; the public names of the typed results are re-exported here."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

from .compile import ast
from .compile.environment import OverrideError, parse_override
from .compile.pipeline import CheckResult, compile_spec
from .compile.resolve import ModuleParser, Program, load_module, read_source, resolve
from .compile.spec import Spec
from .datasets.profile import ProfileCache
from .diagnostics import CompileError, Diagnostic
from .plan import Graph, PlanError
from .plan import plan as build_plan
from .results import AssertOutcome, EvalModelResult, MetricSummary, RunResult, SampleRecord
from .run.model_calls import Progress
from .run.runner import RunConfig, run_graph

__all__ = [
    "AssertOutcome",
    "CheckResult",
    "CompileError",
    "Diagnostic",
    "EvalModelResult",
    "Graph",
    "MetricSummary",
    "OverrideError",
    "PlanError",
    "RunConfig",
    "RunResult",
    "SampleRecord",
    "check",
    "compile",
    "load",
    "parse",
    "plan",
    "run",
]


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
    profiles: ProfileCache | None = None,
    sets: Sequence[str] = (),
) -> CheckResult:
    """Parse, resolve, type and statically check a spec; all diagnostics, sorted by position.

    `overlay` maps resolved paths of imported files to texts to use instead of their contents (an editor's unsaved
    buffers); `parser` parses one file (a caching equivalent of `load_module` may be given); `profiles` is a cache
    of data file profiles to use and fill (a long-lived caller such as an editor keeps one; files are read again
    when their size or modification time changes); by default each check makes its own. `sets` are
    `NAME.attribute=VALUE` values replacing attributes (OverrideError when one names nothing).
    """
    overrides = [parse_override(text) for text in sets]
    return compile_spec(path, text, overlay=overlay, parser=parser, profiles=profiles, overrides=overrides)


def plan(
    spec: Spec,
    *,
    evals: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    limit: int | None = None,
    max_error_rate: float | None = None,
) -> Graph:
    """The execution graph of a checked spec (PlanError when a selection matches nothing)."""
    return build_plan(spec, evals=evals, models=models, limit=limit, max_error_rate=max_error_rate)


def compile(
    path: str | Path,
    *,
    evals: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    limit: int | None = None,
    sets: Sequence[str] = (),
) -> Graph:
    """check + plan; raises CompileError when the spec has errors."""
    result = check(path, sets=sets)
    if not result.ok or result.spec is None:
        raise CompileError(result.diagnostics)
    return plan(result.spec, evals=evals, models=models, limit=limit)


def run(graph: Graph, config: RunConfig, progress: Progress | None = None) -> RunResult:
    """Run a planned graph and store the run; the result says how it went (never raises for a user error)."""
    return asyncio.run(run_graph(graph, config, progress))
