"""`evaldsl plan`: compile and plan a spec, then show what running it would take (calls, cached answers, tokens,
cost, wall time) — no model is called."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .. import api
from ..diagnostics import render_all
from ..plan import PlanError
from ..results import EXIT_COMPILE
from ..store.locate import existing_store, store_for_run
from .compile_cmds import AllowHostOption, AllowPathOption, AllowPythonOption, grants


class PlanFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def estimate_for(spec: Path, graph: api.Graph, store: str | Path | None, use_cache: bool) -> api.Estimate:
    """The estimate against the store `run` would use (exit 3 with one line when a dataset cannot be read)."""
    directory = existing_store(store) or store_for_run(spec, store)
    try:
        return api.estimate(graph, directory, use_cache=use_cache)
    except api.EstimateError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None


def plan(
    spec: Annotated[Path, typer.Argument(help="The .eval file.")],
    eval: Annotated[list[str] | None, typer.Option("--eval", help="Only these evals (repeatable).")] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Only these models (repeatable).")] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N samples per eval.")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Count every call as fresh.")] = False,
    store: Annotated[
        str | None,
        typer.Option("--store", help="Store folder or postgresql:// URL (found as `run` finds it).",
                     show_default=False),
    ] = None,
    format: Annotated[
        PlanFormat, typer.Option("--format", "-f", help="table, json or markdown.")
    ] = PlanFormat.table,
    affected_since: Annotated[
        str | None,
        typer.Option("--affected-since", help="Only the evals whose node hashes differ from this git revision.",
                     show_default=False),  # fmt: skip
    ] = None,
    allow_path: AllowPathOption = None,
    allow_python: AllowPythonOption = None,
    allow_host: AllowHostOption = None,
) -> None:
    """Show what `run` would do — calls, cached answers, tokens, cost and wall time — without calling a model."""
    from rich.console import Console

    from ..report.plan_view import plan_markdown, plan_notes, plan_table

    checked = api.check(spec, access=grants(allow_path, allow_python, allow_host))
    if not checked.ok or checked.spec is None:
        typer.echo(render_all(checked.diagnostics, checked.sources), err=True)
        raise typer.Exit(EXIT_COMPILE)
    if affected_since is not None:
        from .affected_cmd import select_affected

        eval = select_affected(spec, affected_since, eval)
    try:
        graph = api.plan(checked.spec, evals=eval, models=model, limit=limit)
    except PlanError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_COMPILE) from None
    est = estimate_for(spec, graph, store, not no_cache)
    if format is PlanFormat.json:
        typer.echo(json.dumps(est.to_json()))
    elif format is PlanFormat.markdown:
        typer.echo(plan_markdown(est))
    else:
        out = Console()
        out = out if out.is_terminal else Console(width=max(out.width, 160))
        out.print(plan_table(est))
        for note in plan_notes(est):
            out.print(f"[dim]{note}[/dim]", highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(plan)


def refuse_over_budget(spec: Path, graph: api.Graph, store: str | Path | None, use_cache: bool, max_cost: float | None,
                       max_calls: int | None) -> None:  # fmt: skip
    """Before the first call of `run`: exit 3 with the plan's figures when the plan is over --max-calls or
    --max-cost, or when the cost cannot be estimated (a model without a known price) under --max-cost."""
    if max_cost is None and max_calls is None:
        return
    totals = estimate_for(spec, graph, store, use_cache).totals
    figures = (f"plan: {totals['fresh']} fresh calls of {totals['calls']} ({totals['cached']} cached), "
               f"{totals['input_tokens']} input tokens, ~{totals['output_tokens']} output tokens")  # fmt: skip
    cost = totals["cost_usd"]
    why = None
    if max_calls is not None and totals["fresh"] > max_calls:
        why = f"the plan makes {totals['fresh']} model calls, more than --max-calls {max_calls}"
    elif max_cost is not None and cost is None:
        why = (f"the cost cannot be estimated (no known price for {', '.join(totals['unknown_prices'])}), so "
               f"--max-cost {max_cost:g} cannot be enforced; drop --max-cost or use --max-calls")  # fmt: skip
    elif max_cost is not None and cost > max_cost:
        why = f"the plan is estimated at {cost:.6g} USD, more than --max-cost {max_cost:g}"
    if why is not None:
        typer.echo(f"error: refusing to run: {why}\n{figures}, est. cost {cost if cost is not None else 'unknown'}"
                   " USD (see `evaldsl plan`)", err=True)  # fmt: skip
        raise typer.Exit(3)
