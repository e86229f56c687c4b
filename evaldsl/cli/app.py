"""The `evaldsl` Typer app: each command lives in a module of its stage and is registered here; `main` never
shows a Python traceback for a user error."""

from __future__ import annotations

import sys

import typer

from . import affected_cmd, compile_cmds, fmt_cmd, import_cmd, lsp_cmd, plan_cmd, results, run_cmd, store_cmd

app = typer.Typer(
    name="evaldsl",
    help="Declarative LLM evaluation: write .eval specs, check them, run them, compare runs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

for module in (compile_cmds, fmt_cmd, run_cmd, plan_cmd, affected_cmd, results, store_cmd, import_cmd, lsp_cmd):
    module.register(app)


def main() -> None:
    """Console entry point."""
    try:
        app()
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
