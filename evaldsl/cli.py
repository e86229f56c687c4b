"""The `evaldsl` command line: a thin Typer app whose commands call `evaldsl.api`."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from . import api
from .diagnostics import render_all
from .plan import PlanError

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
    format: Annotated[GraphFormat, typer.Option("--format", "-f", help="text, dot (Graphviz) or json.")] = GraphFormat.text,
    eval: Annotated[list[str] | None, typer.Option("--eval", help="Only these evals.")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Only these models.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N samples per eval.")] = None,
) -> None:
    """Show the compiled execution graph."""
    from .report.graph_view import to_dot, to_json, to_text

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


def main() -> None:
    """Console entry point: never shows a Python traceback for a user error."""
    try:
        app()
    except KeyboardInterrupt:
        _err("interrupted")
        sys.exit(130)
