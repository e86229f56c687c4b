"""The result commands of the `evaldsl` CLI (runs, show, report, diff, export, cache): stored runs in, views
out. The store is found by the one rule of `evaldsl.store.locate`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ..results import SampleRecord
    from ..store import RunRecord, Store

EXIT_OK, EXIT_REGRESSION, EXIT_USAGE = 0, 1, 2

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store folder or postgresql:// URL (default: $EVALDSL_STORE_URL, else $EVALDSL_HOME, else the "
        "nearest .evaldsl/ at or above this folder).",
        show_default=False,
    ),
]


class ListFormat(str, Enum):
    table = "table"
    json = "json"


class DiffFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


class ExportFormat(str, Enum):
    csv = "csv"
    jsonl = "jsonl"


def _fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _console() -> Console:
    """A console for tables: the terminal's width, or a wide one when stdout is piped (tables still fit)."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal or os.environ.get("COLUMNS") else Console(width=200)


@contextmanager
def _open_store(store: str | None) -> Iterator[Store]:
    """Open an existing store (never creates one) and turn store errors into clear messages."""
    from ..store import DB_FILENAME, Store, StoreError
    from ..store.locate import existing_store

    directory = existing_store(store)
    if directory is None:
        raise _fail(
            "no evaldsl store found: no .evaldsl/ in this folder or above it; run from your project "
            "(where `evaldsl run` stored its runs), pass --store DIR or set EVALDSL_HOME"
        )
    if isinstance(directory, Path) and not (directory / DB_FILENAME).is_file():
        how = "--store DIR" if store is None else "another --store"
        raise _fail(
            f"no evaldsl store in {directory} (no {DB_FILENAME} there); `evaldsl run SPEC` creates "
            f"one: pass {how} or set EVALDSL_HOME"
        )
    from ..store.redact import Redactor

    try:
        with Store(directory, redactor=Redactor.from_environ(os.environ)) as opened:  # nothing shown holds a secret
            yield opened
    except StoreError as exc:
        raise _fail(str(exc)) from None


def _resolve(store: Store, ref: str) -> str:
    from ..store import StoreError

    try:
        return store.resolve_run(ref)
    except StoreError as exc:
        raise _fail(str(exc)) from None


def runs(
    store: StoreOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most N runs.")] = 20,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="table or json.")] = ListFormat.table,
) -> None:
    """List stored runs, newest first: id, time, status, spec, commit, evals × models, headline metrics."""
    from ..report.runs_view import list_run_rows, runs_table

    with _open_store(store) as opened:
        rows = list_run_rows(opened, limit)
    if format is ListFormat.json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    if not rows:
        typer.echo("no runs stored yet")
        return
    _console().print(runs_table(rows))


def show(
    run: Annotated[str, typer.Argument(help="Run id, unique prefix, `latest` or `latest~N`.")] = "latest",
    store: StoreOption = None,
    format: Annotated[ListFormat, typer.Option("--format", "-f", help="table or json.")] = ListFormat.table,
) -> None:
    """Show one stored run: its results table, asserts and errors."""
    from ..report.runs_view import print_run

    with _open_store(store) as opened:
        record = opened.get_run(_resolve(opened, run))
    if format is ListFormat.json:
        shown = record.to_result(opened.location).to_json()
        typer.echo(json.dumps(shown | {"summary": record.summary, "meta": record.meta}, ensure_ascii=False))
        return
    print_run(_console(), record)


def report(
    runs_: Annotated[list[str], typer.Argument(metavar="RUN...", help="One or more runs (id, prefix, latest~N).")],
    html: Annotated[Path, typer.Option("--html", help="The HTML file to write.")],
    store: StoreOption = None,
    samples: Annotated[
        int,
        typer.Option("--samples", min=0, help="Most distinct samples in the sample browser, a stratified selection "
                     "(0: every sample). Charts and the summary always cover every sample."),
    ] = 2000,
) -> None:
    """Write a self-contained HTML report of one or more runs (opens offline, no remote assets)."""
    from ..report.html import ReportError, write_report

    with _open_store(store) as opened:
        ids = [_resolve(opened, ref) for ref in runs_]
        try:
            info = write_report(opened, ids, html, samples or None)
        except ReportError as exc:
            raise _fail(str(exc)) from None
    typer.echo(f"wrote {info.path} ({info.bytes / 1e6:.2f} MB, {info.samples} sample rows of {len(ids)} run(s), "
               f"{info.items} distinct sample(s) in the browser)")


def diff(
    run_a: Annotated[
        str | None,
        typer.Argument(help="The baseline run (id, prefix, latest~N); with --baseline: the run compared with it."),
    ] = None,
    run_b: Annotated[str, typer.Argument(help="The run compared with it.")] = "latest",
    store: StoreOption = None,
    fail_on_regression: Annotated[
        bool, typer.Option("--fail-on-regression", help="Exit 1 when any metric got significantly worse.")
    ] = False,
    alpha: Annotated[float, typer.Option("--alpha", min=0.0, max=1.0, help="Significance level.")] = 0.05,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap and permutation draws.")] = 0,
    format: Annotated[DiffFormat, typer.Option("--format", "-f", help="table, json or markdown.")] = DiffFormat.table,
    pair: Annotated[
        list[str] | None,
        typer.Option(
            "--pair",
            help="Compare model A of run A with model B of run B: `--pair A:B` (repeatable). Without it, "
            "an eval with one model in each run compares those two.",
        ),
    ] = None,
    min_effect: Annotated[
        float | None,
        typer.Option("--min-effect", min=0.0, help="With --fail-on-regression: warn (W363) where the paired "
                     "samples cannot detect a change this small; the minimum detectable effect is shown."),  # fmt: skip
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="A bundle file (`evaldsl export RUN --bundle FILE`) as run A; the one "
                     "run argument (default: latest) is run B.", show_default=False),  # fmt: skip
    ] = None,
    variants: Annotated[
        bool, typer.Option("--variants", help="Compare the variants of each eval within RUN_A with its first "
                           "variant (prompts = [...], vary { ... }), paired by row.")
    ] = False,
) -> None:
    """Paired comparison of two runs per eval × model × metric: delta, 95% CI, p-value, regressions."""
    from ..report.diff import compare_records, diff_footer, diff_table
    from ..report.variants import diff_variants

    if not 0.0 < alpha < 1.0:
        raise _fail(f"--alpha must be between 0 and 1 (exclusive), got {alpha}")
    pairs = {}
    for item in pair or []:
        left, sep, right = item.partition(":")
        if not sep or not left or not right:
            raise _fail(f"--pair takes MODEL_A:MODEL_B, got {item!r}")
        pairs[left] = right
    if baseline is None and run_a is None:
        raise _fail("diff needs a baseline: a run (`evaldsl diff RUN_A [RUN_B]`) or a bundle (`--baseline FILE`)")
    if baseline is not None and run_b != "latest":
        raise _fail("with --baseline FILE, give one run to compare with it (default: latest)")
    bundle = _read_bundle(baseline) if baseline is not None else None
    with _open_store(store) as opened:
        if variants:
            assert run_a is not None
            a = _resolve(opened, run_a)
            record_a = record_b = opened.get_run(a)
            result = diff_variants(opened, a, alpha=alpha, seed=seed)
        else:
            if bundle is not None:
                record_a, samples_a = bundle
                b = _resolve(opened, run_a or "latest")
            else:
                assert run_a is not None
                a, b = _resolve(opened, run_a), _resolve(opened, run_b)
                record_a, samples_a = opened.get_run(a), opened.iter_samples(a)
            record_b = opened.get_run(b)
            result = compare_records(record_a, record_b, samples_a, opened.iter_samples(b), alpha=alpha, seed=seed,
                                     pairs=pairs)  # fmt: skip
    if format is DiffFormat.json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False))
    elif format is DiffFormat.markdown:
        from ..report.markdown import diff_markdown

        results_b = {(r.eval, r.model): r for r in record_b.results}
        typer.echo(diff_markdown(result, results_b, baseline=f"baseline `{record_a.id}`" if bundle else None))
    else:
        console = _console()
        console.print(diff_table(result))
        for line in diff_footer(result):
            console.print(line, highlight=False, markup=False)
    if fail_on_regression and min_effect is not None:
        from ..report.diff import underpowered

        for line in underpowered(result, record_b.results, min_effect):
            typer.echo(f"warning[W363]: {line}", err=True)
    if fail_on_regression and result.regressions:
        raise typer.Exit(EXIT_REGRESSION)


def _read_bundle(path: Path) -> tuple[RunRecord, Iterable[SampleRecord]]:
    from ..report.bundle import BundleError, read_bundle

    try:
        return read_bundle(path)
    except BundleError as exc:
        raise _fail(str(exc)) from None


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise _fail(f"cannot write {path}: {exc.strerror or exc}") from None
    with handle:
        yield handle


def export(
    run: Annotated[str, typer.Argument(help="Run id, unique prefix, `latest` or `latest~N`.")] = "latest",
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv or jsonl.")] = ExportFormat.csv,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    store: StoreOption = None,
    bundle: Annotated[
        Path | None,
        typer.Option("--bundle", help="Write a portable baseline instead: one JSON file with the run's results, "
                     "node hashes and per-sample scores (for `diff --baseline` and `import`).", show_default=False),
    ] = None,
) -> None:
    """Export a run's per-sample rows (prompt, output, references, scores, judges...) as CSV or JSON lines."""
    from ..report.bundle import BundleError, write_bundle
    from ..report.export import export_run

    with _open_store(store) as opened:
        run_id = _resolve(opened, run)
        if bundle is not None:
            try:
                n = write_bundle(opened, run_id, bundle)
            except BundleError as exc:
                raise _fail(str(exc)) from None
            typer.echo(f"wrote run {run_id} ({n} samples) to {bundle}", err=True)
            return
        with _output(output) as out:
            n = export_run(opened, run_id, format.value, out)
    if output is not None:
        typer.echo(f"wrote {n} sample row(s) of run {run_id} to {output}", err=True)


class CacheAction(str, Enum):
    stats = "stats"
    clear = "clear"


def cache(
    action: Annotated[CacheAction, typer.Argument(help="stats: entries and size; clear: delete cached responses.")],
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only this kind (generate, score_choices, score_text, memo).")
    ] = None,
    store: StoreOption = None,
) -> None:
    """Inspect or clear the response cache (stored runs are kept)."""
    with _open_store(store) as opened:
        if action is CacheAction.clear:
            n = opened.cache_clear(kind)
            typer.echo(f"deleted {n} cached response(s) from {opened.location}")
            return
        stats = opened.cache_stats()
    typer.echo(
        f"{stats['entries']} cached response(s), {stats['value_bytes'] / 1e6:.2f} MB of values, store file "
        f"{stats['db_bytes'] / 1e6:.2f} MB"
    )
    for name, n in stats["by_kind"].items():
        typer.echo(f"  {name}: {n}")


def register(app: typer.Typer) -> None:
    """Add the result commands to the `evaldsl` app."""
    for command in (runs, show, report, diff, export, cache):
        app.command()(command)


def import_bundle_file(bundle: Path, store: str | None) -> None:
    """Add a run bundle to a store (created when missing) as a new run; prints the new run's id."""
    from ..report.bundle import BundleError, import_bundle
    from ..store import Store, StoreError
    from ..store.locate import STORE_DIRNAME, existing_store

    directory = existing_store(store) or Path.cwd() / STORE_DIRNAME
    try:
        with Store(directory) as opened:
            run_id = import_bundle(opened, bundle)
    except (BundleError, StoreError) as exc:
        raise _fail(str(exc)) from None
    typer.echo(run_id)
    typer.echo(f"imported {bundle} as run {run_id} into {directory}", err=True)
