"""The `evaldsl` command line: a thin Typer app whose commands call `evaldsl.api`."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import api
from ..diagnostics import render_all
from ..plan.planner import PlanError

app = typer.Typer(
    name="evaldsl",
    help="Declarative LLM evaluation: write .eval specs, check them, run them, compare runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_OK, EXIT_ASSERT, EXIT_COMPILE, EXIT_RUN = 0, 1, 2, 3


def _err(text: str) -> None:
    typer.echo(text, err=True)


class GraphFormat(str, Enum):
    text = "text"
    dot = "dot"
    json = "json"


@app.command()
def check(
    specs: Annotated[list[Path], typer.Argument(help="One or more .eval files.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
) -> None:
    """Compile specs without running them; print diagnostics with file:line:col."""
    failed = False
    for path in specs:
        result = api.check(path)
        if result.diagnostics:
            _err(render_all(result.diagnostics, result.sources))
        if result.ok:
            if not quiet:
                n = len(result.spec.evals) if result.spec else 0
                typer.echo(f"{path}: ok ({n} eval{'s' if n != 1 else ''})")
        else:
            failed = True
    raise typer.Exit(EXIT_COMPILE if failed else EXIT_OK)


@app.command()
def graph(
    spec: Annotated[Path, typer.Argument(help="The .eval file.")],
    format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="text, dot (Graphviz) or json.")
    ] = GraphFormat.text,
    eval: Annotated[list[str] | None, typer.Option("--eval", help="Only these evals.")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Only these models.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N samples per eval.")] = None,
) -> None:
    """Show the compiled execution graph."""
    from ..report.graph_view import to_dot, to_json, to_text

    result = api.check(spec)
    if not result.ok or result.spec is None:
        _err(render_all(result.diagnostics, result.sources))
        raise typer.Exit(EXIT_COMPILE)
    try:
        g = api.plan(result.spec, evals=eval, models=model, limit=limit)
    except PlanError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_COMPILE) from None
    typer.echo({"text": to_text, "dot": to_dot, "json": to_json}[format.value](g))


@app.command()
def metrics() -> None:
    """List the built-in metrics: name, modes, parameters."""
    from rich.console import Console
    from rich.table import Table

    from ..metrics import BUILTIN_METRICS

    table = Table(header_style="bold")
    for col in ("metric", "mode", "parameters", "what"):
        table.add_column(col)
    for name, spec in BUILTIN_METRICS.items():
        params = ", ".join(f"{k}: {getattr(v, '__name__', v)}" for k, v in spec.params.items())
        table.add_row(name, "/".join(sorted(spec.modes)), params or "—", spec.doc)
    Console().print(table)


@app.command()
def stdlib() -> None:
    """List the standard library's templates with their parameters and docs."""
    from ..resources import stdlib_dir

    for path in sorted(stdlib_dir().glob("*.eval")):
        result = api.check(path)
        if result.spec is None:
            continue
        typer.echo(f'import "std/{path.stem}"')
        for info in result.spec.templates.values():
            params = ", ".join(name if default is None else f"{name} = {default}" for name, default in info.params)
            typer.echo(f"  {info.name}({params})")
            if info.description:
                typer.echo(f"      {info.description}")
        typer.echo("")


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"


def store_dir(spec: Path, store: Path | None) -> Path:
    """--store, else $EVALDSL_HOME, else .evaldsl/ beside the spec."""
    if store is not None:
        return store
    home = os.environ.get("EVALDSL_HOME")
    return Path(home) if home else spec.resolve().parent / ".evaldsl"


@app.command()
def run(
    spec: Annotated[Path, typer.Argument(help="The .eval file.")],
    eval: Annotated[list[str] | None, typer.Option("--eval", help="Only these evals (repeatable).")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Only these models (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N samples per eval.")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Call the models even when a response is cached.")
    ] = False,
    store: Annotated[
        Path | None, typer.Option("--store", help="Store folder (default: .evaldsl/ beside the spec).")
    ] = None,
    format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", "-f", help="table, json (one object on stdout) or jsonl (a line per sample, then the summary)."
        ),
    ] = OutputFormat.table,
    max_errors: Annotated[
        int | None, typer.Option("--max-errors", min=0, help="Abort after more than N errors.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap confidence intervals.")] = 0,
    junit: Annotated[
        Path | None, typer.Option("--junit", help="Also write JUnit XML (one test per eval × model).")
    ] = None,
) -> None:
    """Compile and run a spec; print a results table (or JSON) and store the run."""
    import asyncio

    from rich.console import Console

    from ..report.console import PlainProgress, RichProgress, print_outcome
    from ..run.runner import RunConfig, run_graph
    from ..store.sqlite import StoreError

    result = api.check(spec)
    warnings = [d for d in result.diagnostics if not d.is_error]
    if not result.ok or result.spec is None:
        _err(render_all(result.diagnostics, result.sources))
        raise typer.Exit(EXIT_COMPILE)
    if warnings and format is OutputFormat.table:
        _err(render_all(warnings, result.sources))
    try:
        graph = api.plan(result.spec, evals=eval, models=model, limit=limit)
    except PlanError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_COMPILE) from None
    options = {
        "eval": eval,
        "model": model,
        "limit": limit,
        "no_cache": no_cache,
        "max_errors": max_errors,
        "seed": seed,
    }
    config = RunConfig(
        store_dir=store_dir(spec, store), use_cache=not no_cache, max_errors=max_errors, seed=seed, options=options
    )
    err_console = Console(stderr=True)
    progress = RichProgress(err_console) if err_console.is_terminal else PlainProgress()
    try:
        with progress:
            outcome = asyncio.run(run_graph(graph, config, progress))
    except StoreError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_RUN) from None
    data = outcome.to_json()
    if junit is not None:
        from ..report.export import ExportError, write_junit

        try:
            write_junit(data, junit)
        except ExportError as exc:
            _err(f"error: {exc}")
    if format is OutputFormat.json:
        typer.echo(json.dumps(data))
        if outcome.message:
            _err(f"{outcome.status}: {outcome.message}")
    elif format is OutputFormat.jsonl:
        from ..report.export import sample_record_jsonl
        from ..store.sqlite import Store

        with Store(config.store_dir) as st:
            for row in st.iter_samples(outcome.run_id):
                typer.echo(sample_record_jsonl(row))
        typer.echo(json.dumps({"summary": data}))
        if outcome.message:
            _err(f"{outcome.status}: {outcome.message}")
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=max(out.width, 120))
        print_outcome(out, data, cache_hits=outcome.cache_hits, model_calls=outcome.model_calls)
    raise typer.Exit(outcome.exit_code)


@app.command()
def lsp() -> None:
    """Run the language server over stdin/stdout (for editors: diagnostics, completion, hover, navigation)."""
    from ..lsp.server import serve

    serve()


from .results import register as _register_results  # noqa: E402

_register_results(app)


def main() -> None:
    """Console entry point: never shows a Python traceback for a user error."""
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
