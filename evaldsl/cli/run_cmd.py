"""`evaldsl run`: compile, plan, run through `api.run`, then show the result (table, JSON or JSON lines, JUnit)."""

from __future__ import annotations

import json
import os
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import api
from ..diagnostics import render_all
from ..plan import PlanError
from ..results import EXIT_COMPILE, RunResult
from ..store.locate import store_for_run
from ..store.redact import Redactor
from .affected_cmd import select_affected
from .compile_cmds import AllowHostOption, AllowPathOption, AllowPythonOption, SetOption, grants
from .compile_cmds import checked as checked_with_sets
from .plan_cmd import refuse_over_budget


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    markdown = "markdown"


def _err(text: str) -> None:
    typer.echo(text, err=True)


def _show(result: RunResult, fmt: OutputFormat, redactor: Redactor, location: Path | str) -> None:
    """The result on stdout in the chosen format; the closing line (where it is stored) on stderr unless it
    is a table."""
    from rich.console import Console

    from ..report.console import print_outcome
    from ..report.export import write_run_jsonl

    if fmt is OutputFormat.table:
        out = Console()
        print_outcome(out if out.is_terminal else Console(width=max(out.width, 120)), result)
        return
    if fmt is OutputFormat.markdown:
        from ..report.markdown import run_markdown

        typer.echo(run_markdown(result))
    elif fmt is OutputFormat.jsonl and result.run_id is not None and result.store is not None:
        write_run_jsonl(location, result.run_id, typer.get_text_stream("stdout"), redactor)
        typer.echo(json.dumps({"summary": result.to_json()}))
    else:
        typer.echo(json.dumps(result.to_json()))
    if result.message:
        _err(f"{result.status}: {result.message}")
    if result.run_id is not None:
        _err(f"stored as run {result.run_id} in {result.store}")


class Executor(str, Enum):
    local = "local"
    ray = "ray"


def run(
    spec: Annotated[Path, typer.Argument(help="The .eval file.")],
    eval: Annotated[list[str] | None, typer.Option("--eval", help="Only these evals (repeatable).")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Only these models (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N samples per eval.")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Call the models even when a response is cached.")
    ] = False,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Store folder or postgresql:// URL (default: $EVALDSL_STORE_URL, else $EVALDSL_HOME, else "
            "the nearest .evaldsl/ at or above this folder, else .evaldsl/ at the root of the spec's git "
            "repository).",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", "-f", help="table, json (one object on stdout), jsonl (a line per sample, then the summary) "
            "or markdown (a pull-request summary)."
        ),
    ] = OutputFormat.table,
    max_errors: Annotated[
        int | None, typer.Option("--max-errors", min=0, help="Stop the run after more than N errors.")
    ] = None,
    max_error_rate: Annotated[
        float | None,
        typer.Option(
            "--max-error-rate",
            min=0.0,
            max=1.0,
            help="Tolerate errors on this share of each eval's samples (replaces `max_error_rate`).",
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap confidence intervals.")] = 0,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write JUnit XML (one test per eval × model).")
    ] = None,
    allow_path: AllowPathOption = None,
    allow_python: AllowPythonOption = None,
    allow_host: AllowHostOption = None,
    max_cost: Annotated[
        float | None,
        typer.Option("--max-cost", min=0.0, help="USD: refuse when the plan's estimate is above; stop the run "
                     "(interrupted) once its calls cost more."),  # fmt: skip
    ] = None,
    max_calls: Annotated[
        int | None,
        typer.Option("--max-calls", min=0, help="Refuse when the plan makes more fresh model calls; stop the "
                     "run (interrupted) once it made more."),  # fmt: skip
    ] = None,
    no_memo: Annotated[
        bool, typer.Option("--no-memo", help="Compute every metric and judge again (the response cache still answers).")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat compile warnings as errors: refuse to run (exit 2).")
    ] = False,
    affected_since: Annotated[
        str | None,
        typer.Option("--affected-since", help="Only the evals whose node hashes differ from this git revision "
                     "(see `evaldsl affected`); nothing to run exits 0.", show_default=False),  # fmt: skip
    ] = None,
    executor: Annotated[
        Executor,
        typer.Option(
            "--executor",
            envvar="EVALDSL_EXECUTOR",
            help="local: every model in this process; ray: local (hf) models sharded over Ray actors, on the "
            "cluster at $RAY_ADDRESS or a local one.",
        ),
    ] = Executor.local,
    ray_actors: Annotated[
        int | None,
        typer.Option("--ray-actors", min=1, help="Ray actors per local model (default: one per GPU, else one per "
                     "4 CPUs).", show_default=False),
    ] = None,
    sets: SetOption = None,
) -> None:
    """Compile and run a spec; print a results table (or JSON) and store the run."""
    from rich.console import Console

    from ..report.console import PlainProgress, RichProgress
    from ..report.export import ExportError, write_junit

    access = grants(allow_path, allow_python, allow_host)
    checked = checked_with_sets(spec, sets, access)
    if not checked.ok or checked.spec is None:
        _err(render_all(checked.diagnostics, checked.sources))
        raise typer.Exit(EXIT_COMPILE)
    warnings = [d for d in checked.diagnostics if not d.is_error]
    if warnings and (format is OutputFormat.table or strict):
        _err(render_all(warnings, checked.sources))
    if warnings and strict:
        _err("warnings are errors (--strict): not running")
        raise typer.Exit(EXIT_COMPILE)
    if affected_since is not None:
        eval = select_affected(spec, affected_since, eval)
    try:
        graph = api.plan(checked.spec, evals=eval, models=model, limit=limit, max_error_rate=max_error_rate)
    except PlanError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_COMPILE) from None
    refuse_over_budget(spec, graph, store, not no_cache, max_cost, max_calls)
    options = {"eval": eval, "model": model, "limit": limit, "no_cache": no_cache, "max_errors": max_errors,
               "max_error_rate": max_error_rate, "seed": seed, "allow_path": [str(p) for p in access.allow_paths],
               "allow_python": sorted(access.allow_python), "allow_host": sorted(access.allow_hosts),
               "max_cost": max_cost, "max_calls": max_calls,
               "set": sets or []}  # fmt: skip
    redactor = Redactor.from_environ(os.environ)  # once per run: every secret of this environment, by value
    config = api.RunConfig(store_dir=store_for_run(spec, store), use_cache=not no_cache, max_errors=max_errors,
                           seed=seed, options=options, allow_python=access.allow_python, redactor=redactor,
                           max_cost=max_cost, max_calls=max_calls, memo=not no_memo,
                           executor=executor.value, ray_actors=ray_actors)  # fmt: skip
    err_console = Console(stderr=True)
    with RichProgress(err_console) if err_console.is_terminal else PlainProgress() as progress:
        result = api.run(graph, config, progress)
    if junit is not None:
        try:
            write_junit(result, junit)
        except ExportError as exc:
            _err(f"error: {exc}")
    _show(result, format, redactor, config.store_dir)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command()(run)
