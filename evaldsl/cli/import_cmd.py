"""`evaldsl import lm-eval TASK.yaml... [--out DIR]`: task configs of other tools → `.eval` templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..convert.lm_eval import ConvertError, convert

importer = typer.Typer(help="Convert other tools' task definitions to .eval specs.", no_args_is_help=True)


@importer.command("lm-eval")
def lm_eval(
    tasks: Annotated[list[Path], typer.Argument(help="lm-evaluation-harness task YAML files.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the .eval files.")] = Path("."),
) -> None:
    """Convert lm-evaluation-harness task configs: one `.eval` template per task; what cannot be converted is
    listed (file:line) and left as a marked stub."""
    out.mkdir(parents=True, exist_ok=True)
    failed = False
    for path in tasks:
        try:
            converted = convert(path)
        except ConvertError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed = True
            continue
        target = out / f"{converted.task}.eval"
        target.write_text(converted.text, encoding="utf-8")
        typer.echo(f"wrote {target} (template {converted.task})")
        for problem in converted.problems:
            typer.echo(f"  not converted: {problem}", err=True)
    if failed:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.add_typer(importer, name="import")
