"""`evaldsl store migrate`: copy the stored runs (and the response cache) of one store into another, e.g. from
a project's SQLite store into the team's PostgreSQL store. Runs already in the target are left as they are."""

from __future__ import annotations

from typing import Annotated

import typer

store_app = typer.Typer(help="Manage stores: copy runs and cached responses between them.", no_args_is_help=True)


@store_app.command()
def migrate(
    source: Annotated[
        str, typer.Option("--from", help="The store to copy from: a store folder or a postgresql:// URL.")
    ],
    target: Annotated[str, typer.Option("--to", help="The store to copy into (created when missing).")],
    cache: Annotated[
        bool, typer.Option("--cache/--no-cache", help="Copy the cached responses too (default: yes).")
    ] = True,
) -> None:
    """Copy every run (results, asserts, samples) and cached response of one store into another."""
    from ..store import DB_FILENAME, Store, StoreError
    from ..store.locate import as_location
    from ..store.transfer import copy_cache, copy_run, run_ids

    src, dst = as_location(source), as_location(target)
    if not isinstance(src, str) and not (src / DB_FILENAME).is_file():
        typer.echo(f"error: no evaldsl store in {src} (no {DB_FILENAME} there); pass the store folder", err=True)
        raise typer.Exit(2)
    if str(src) == str(dst):
        typer.echo("error: --from and --to are the same store", err=True)
        raise typer.Exit(2)
    try:
        with Store(src) as a, Store(dst) as b:
            ids = run_ids(a)
            copied = sum(copy_run(a, b, run_id) for run_id in ids)
            cached = copy_cache(a, b) if cache else 0
            where = b.location
    except StoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"copied {copied} run(s) ({len(ids) - copied} already there) and {cached} cached response(s) "
               f"into {where}")  # fmt: skip


def register(app: typer.Typer) -> None:
    app.add_typer(store_app, name="store")
