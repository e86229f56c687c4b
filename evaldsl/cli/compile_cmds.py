"""The compile-time commands: check, graph, metrics, stdlib (nothing here runs a model or user code)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import api
from ..access import Access, access_for
from ..diagnostics import render_all
from ..plan import PlanError
from ..results import EXIT_COMPILE, EXIT_OK


def _err(text: str) -> None:
    typer.echo(text, err=True)


SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", metavar="NAME.ATTR=VALUE", help="Set an attribute of a definition (repeatable), "
                 "checked like the file: --set trivia.limit=50 --set candidate.id=./ckpt."),
]  # fmt: skip


def grants(
    allow_path: list[Path] | None, allow_python: list[str] | None, allow_host: list[str] | None
) -> Access:
    """The grants of a command from its --allow-path, --allow-python and --allow-host options (and the
    environment's EVALDSL_ALLOW_PATH and EVALDSL_ALLOW_HOST)."""
    return access_for(allow_path or (), allow_python or (), allow_hosts=allow_host or ())


def checked(path: Path, sets: list[str] | None, access: Access | None = None) -> api.CheckResult:
    """`api.check` with --set values and the user's grants; one line and exit 2 when a --set names nothing."""
    try:
        return api.check(path, sets=sets or (), access=access)
    except api.OverrideError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_COMPILE) from None


class GraphFormat(str, Enum):
    text = "text"
    dot = "dot"
    json = "json"


AllowPathOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--allow-path",
        help="Also read dataset files and model folders in this folder outside the project (repeatable).",
        show_default=False,
    ),
]
AllowPythonOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-python",
        help="Let python(...) metrics load this module although it is not a file of the project (repeatable).",
        show_default=False,
    ),
]
AllowHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-host",
        help="Let a model's own server (api_base, or an http model's url with headers from the environment) be "
        "this host, which then receives credentials of the environment (repeatable; .example.com: every host "
        "under it).",
        show_default=False,
    ),
]


def check(
    specs: Annotated[list[Path], typer.Argument(help="One or more .eval files.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only problems.")] = False,
    allow_path: AllowPathOption = None,
    allow_python: AllowPythonOption = None,
    allow_host: AllowHostOption = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Treat warnings as errors (e.g. gates that flip by chance).")
    ] = False,
    sets: SetOption = None,
) -> None:
    """Compile specs without running them; print diagnostics with file:line:col."""
    failed = False
    access = grants(allow_path, allow_python, allow_host)
    for path in specs:
        result = checked(path, sets, access)
        if result.diagnostics:
            _err(render_all(result.diagnostics, result.sources))
        if result.ok and strict and result.diagnostics:
            _err(f"{path}: warnings are errors (--strict)")
            failed = True
        elif result.ok:
            if not quiet:
                n = len(result.spec.evals) if result.spec else 0
                typer.echo(f"{path}: ok ({n} eval{'s' if n != 1 else ''})")
        else:
            failed = True
    raise typer.Exit(EXIT_COMPILE if failed else EXIT_OK)


def graph(
    spec: Annotated[Path, typer.Argument(help="The .eval file.")],
    format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="text, dot (Graphviz) or json.")
    ] = GraphFormat.text,
    eval: Annotated[list[str] | None, typer.Option("--eval", help="Only these evals.")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Only these models.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most N samples per eval.")] = None,
    allow_path: AllowPathOption = None,
    allow_python: AllowPythonOption = None,
    allow_host: AllowHostOption = None,
    sets: SetOption = None,
) -> None:
    """Show the compiled execution graph."""
    from ..report.graph_view import to_dot, to_json, to_text

    result = checked(spec, sets, grants(allow_path, allow_python, allow_host))
    if not result.ok or result.spec is None:
        _err(render_all(result.diagnostics, result.sources))
        raise typer.Exit(EXIT_COMPILE)
    try:
        g = api.plan(result.spec, evals=eval, models=model, limit=limit)
    except PlanError as exc:
        _err(f"error: {exc}")
        raise typer.Exit(EXIT_COMPILE) from None
    typer.echo({"text": to_text, "dot": to_dot, "json": to_json}[format.value](g))


def metrics() -> None:
    """List the built-in metrics: name, modes, range, direction, parameters."""
    from rich.console import Console
    from rich.table import Table

    from ..metrics import BUILTIN_METRICS

    def bound(x: float | None) -> str:
        return "∞" if x is None else f"{x:g}"

    table = Table(header_style="bold")
    for col in ("metric", "mode", "range", "better", "parameters", "what"):
        table.add_column(col)
    for name, spec in BUILTIN_METRICS.items():
        params = ", ".join(f"{k}: {getattr(v, '__name__', v)}" for k, v in spec.params.items())
        span = "—" if spec.range is None else f"{bound(spec.range[0])}–{bound(spec.range[1])}"
        better = "higher" if spec.higher_is_better else "lower"
        table.add_row(name, "/".join(sorted(spec.modes)), span, better, params or "—", spec.doc)
    Console().print(table)


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


def register(app: typer.Typer) -> None:
    for command in (check, graph, metrics, stdlib):
        app.command()(command)
