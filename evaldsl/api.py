"""Every stage as a function — parse, load, check, plan, compile, run — used by the CLI, the language tools and
the tests; the public names of the typed results are re-exported here."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

from .access import Access
from .compile import ast
from .compile.environment import OverrideError, parse_override
from .compile.pipeline import CheckResult, compile_spec
from .compile.resolve import ModuleParser, Program, load_module, read_source, resolve
from .compile.spec import Spec
from .datasets.profile import ProfileCache
from .diagnostics import CompileError, Diagnostic
from .plan import Graph, PlanError
from .plan import plan as build_plan
from .plan.affected import AffectedError, AffectedEval, affected_since
from .results import AssertOutcome, EvalModelResult, MetricSummary, RunResult, SampleRecord
from .run.estimate import Estimate, EstimateError
from .run.estimate import estimate as build_estimate
from .run.model_calls import Progress
from .run.runner import RunConfig, run_graph

__all__ = [
    "AffectedError",
    "AffectedEval",
    "AssertOutcome",
    "CheckResult",
    "CompileError",
    "Diagnostic",
    "Estimate",
    "EstimateError",
    "EvalModelResult",
    "Graph",
    "MetricSummary",
    "OverrideError",
    "PlanError",
    "RunConfig",
    "RunResult",
    "SampleRecord",
    "affected",
    "check",
    "compile",
    "estimate",
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
    access: Access | None = None,
    sets: Sequence[str] = (),
) -> CheckResult:
    """Parse, resolve, type and statically check a spec; all diagnostics, sorted by position.

    `overlay` maps resolved paths of imported files to texts to use instead of their contents (an editor's unsaved
    buffers); `parser` parses one file (a caching equivalent of `load_module` may be given); `profiles` is a cache
    of data file profiles to use and fill (a long-lived caller such as an editor keeps one; files are read again
    when their size or modification time changes); by default each check makes its own. `access` holds the
    folders and python modules the user allowed beyond the project (docs/security.md); by default none. `sets`
    are `NAME.attribute=VALUE` values replacing attributes (OverrideError when one names nothing).
    """
    overrides = [parse_override(text) for text in sets]
    return compile_spec(path, text, overlay=overlay, parser=parser, profiles=profiles, access=access,
                        overrides=overrides)


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
    access: Access | None = None,
    sets: Sequence[str] = (),
) -> Graph:
    """check + plan; raises CompileError when the spec has errors."""
    result = check(path, access=access, sets=sets)
    if not result.ok or result.spec is None:
        raise CompileError(result.diagnostics)
    return plan(result.spec, evals=evals, models=models, limit=limit)


def run(graph: Graph, config: RunConfig, progress: Progress | None = None) -> RunResult:
    """Run a planned graph and store the run; the result says how it went (never raises for a user error)."""
    return asyncio.run(run_graph(graph, config, progress))


def estimate(graph: Graph, store_dir: Path | str | None = None, *, use_cache: bool = True) -> Estimate:
    """What running `graph` would take — calls, cached answers, tokens, cost, wall time — without calling a
    model. The store at `store_dir` (a folder, never created here, or a postgresql:// URL) gives the response
    cache and past runs."""
    from .store import DB_FILENAME, Store
    from .store.locate import as_location, is_url

    location = None if store_dir is None else as_location(store_dir)
    if location is None or (not is_url(location) and not (Path(location) / DB_FILENAME).is_file()):
        return build_estimate(graph, None, use_cache=use_cache)
    with Store(location) as store:
        return build_estimate(graph, store, use_cache=use_cache)


def affected(path: str | Path, since: str) -> list[AffectedEval]:
    """The evals of a spec whose node hashes differ between git revision `since` and the working tree, with the
    reasons (raises AffectedError when there is no such revision or the spec does not compile)."""
    return affected_since(Path(path), since, lambda p: check(p))
