"""`evaldsl import`: a run bundle into a store (`evaldsl import FILE`), or other tools' task configs to `.eval`
templates (`evaldsl import lm-eval TASK.yaml... [--out DIR]`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..convert.lm_eval import convert_files
from ..results import EXIT_COMPILE
from .results import StoreOption, import_bundle_file


def import_(
    source: Annotated[str, typer.Argument(help="A bundle file (`evaldsl export RUN --bundle FILE`), or `lm-eval` "
                                               "followed by lm-evaluation-harness task YAML files.")],
    tasks: Annotated[list[Path] | None, typer.Argument(help="With `lm-eval`: the task YAML files.",
                                                       show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", help="lm-eval: folder for the .eval files.")] = Path("."),
    store: StoreOption = None,
) -> None:
    """Add a run bundle to a store (created when missing) as a new run, or convert lm-evaluation-harness task
    configs (`evaldsl import lm-eval TASK.yaml...`): one `.eval` template per task; what cannot be converted is
    listed (file:line) and left as a marked stub."""
    if source != "lm-eval":
        if tasks:
            typer.echo("error: import one bundle at a time (or `evaldsl import lm-eval TASK.yaml...`)", err=True)
            raise typer.Exit(EXIT_COMPILE)
        import_bundle_file(Path(source), store)
        return
    if not tasks:
        typer.echo("error: `evaldsl import lm-eval` needs one or more task YAML files", err=True)
        raise typer.Exit(EXIT_COMPILE)
    lm_eval(tasks, out)


def lm_eval(tasks: list[Path], out: Path) -> None:
    """Convert the task and group files together; exit 2 after all when one could not be read."""
    out.mkdir(parents=True, exist_ok=True)
    converted, errors = convert_files(tasks)
    for error in errors:
        typer.echo(f"error: {error}", err=True)
    for item in converted:
        target = out / f"{item.task}.eval"
        target.write_text(item.text, encoding="utf-8")
        typer.echo(f"wrote {target} (template {item.task})")
        for problem in item.problems:
            typer.echo(f"  not converted: {problem}", err=True)
    if errors:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("import")(import_)
