"""`evaldsl affected SPEC --since REV`: the evals whose node hashes differ between a git revision and the
working tree, with the reason; and the selection `run --affected-since REV` uses."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import api


class AffectedFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def affected_evals(spec: Path, since: str) -> list[api.AffectedEval]:
    """The comparison, or exit 2 with one line (no git, no such revision, a spec that does not compile)."""
    try:
        return api.affected(spec, since)
    except api.AffectedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def select_affected(spec: Path, since: str, evals: list[str] | None) -> list[str]:
    """`run --affected-since`: the affected evals (within `--eval` when given); exits 0 when there are none."""
    chosen = [a.eval for a in affected_evals(spec, since) if a.affected]
    if evals:
        chosen = [name for name in chosen if name in evals or any(name.startswith(e + ".") for e in evals)]
    if not chosen:
        typer.echo(f"no eval is affected since {since}: nothing to run", err=True)
        raise typer.Exit(0)
    typer.echo(f"affected since {since}: {', '.join(chosen)}", err=True)
    return chosen


def affected(
    spec: Annotated[Path, typer.Argument(help="The .eval file (in a git repository).")],
    since: Annotated[str, typer.Option("--since", help="The git revision to compare with (a branch, tag, commit).")],
    format: Annotated[
        AffectedFormat, typer.Option("--format", "-f", help="table, json or markdown.")
    ] = AffectedFormat.table,
    all_: Annotated[bool, typer.Option("--all", help="Also list unchanged evals.")] = False,
) -> None:
    """List the evals whose results a change can alter (node hashes differ from REV), with the reasons."""
    rows = [a for a in affected_evals(spec, since) if all_ or a.status != "unchanged"]
    if format is AffectedFormat.json:
        typer.echo(json.dumps([a.to_json() for a in rows]))
        return
    if not rows:
        typer.echo(f"no eval is affected since {since}")
        return
    if format is AffectedFormat.markdown:
        lines = [f"**evaldsl affected** since `{since}`: {sum(a.affected for a in rows)} eval(s)", "",
                 "| eval | status | why |", "|---|---|---|"]  # fmt: skip
        lines += [f"| {a.eval} | {a.status} | {'; '.join(a.reasons) or '—'} |" for a in rows]
        typer.echo("\n".join(lines))
        return
    width = max(len(a.eval) for a in rows)
    for a in rows:
        typer.echo(f"{a.eval:<{width}}  {a.status:<9}  {'; '.join(a.reasons)}".rstrip())


def register(app: typer.Typer) -> None:
    app.command()(affected)
