"""Stored runs in; out: the `evaldsl runs` listing (rows, rich table) and the `evaldsl show` view of a run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ..results import EvalModelResult
from ..store import RunRecord, Store
from .console import assert_lines, error_lines, results_table

_HEADLINES_SHOWN = 4  # eval × model headline values per line of `evaldsl runs`


def short_time(stamp: str | None) -> str:
    """'2026-11-27T22:55:44.269015Z' -> '2026-11-27 22:55:44' (UTC, as stored)."""
    if not stamp:
        return "—"
    return stamp.replace("T", " ").split(".")[0].rstrip("Z")


def fmt_value(value: Any) -> str:
    """A metric value for humans: 3 decimals below 10, 2 below 100, 1 above; '—' for none/NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    if not isinstance(value, (int, float)):
        return str(value)
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


def headlines(results: Sequence[EvalModelResult]) -> list[dict[str, Any]]:
    """The headline (first) metric of every eval × model: [{eval, model, metric, value}]."""
    out = []
    for r in results:
        if r.metrics:
            name, m = next(iter(r.metrics.items()))
            out.append({"eval": r.eval, "model": r.model, "metric": name, "value": m.value})
    return out


def run_row(record: RunRecord, n_samples: int | None = None) -> dict[str, Any]:
    """One run as a JSON-ready dict (the `evaldsl runs --format json` item)."""
    meta = record.meta
    evals = meta.get("evals") or sorted({r.eval for r in record.results})
    models = meta.get("models") or sorted({r.model for r in record.results})
    return {
        "id": record.id,
        "status": record.status,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "spec": meta.get("spec_path"),
        "git_commit": meta.get("git_commit"),
        "evals": list(evals),
        "models": list(models),
        "n_samples": n_samples,
        "errors": sum(r.errors for r in record.results),
        "asserts_failed": sum(1 for a in record.asserts if not a.passed),
        "headline": headlines(record.results),
    }


def list_run_rows(store: Store, limit: int = 50) -> list[dict[str, Any]]:
    """The newest `limit` runs of `store`, newest first, as `run_row` dicts."""
    return [run_row(store.get_run(info.id), info.n_samples) for info in store.list_runs(limit)]


def _spec_name(spec: str | None) -> str:
    if not spec:
        return "—"
    return spec.replace("\\", "/").rsplit("/", 1)[-1]


def _headline_text(items: list[dict[str, Any]]) -> str:
    shown = items[:_HEADLINES_SHOWN]
    parts = [f"{h['eval']}·{h['model']} {h['metric']}={fmt_value(h['value'])}" for h in shown]
    if len(items) > _HEADLINES_SHOWN:
        parts.append(f"(+{len(items) - _HEADLINES_SHOWN} more)")
    return "\n".join(parts)


_STATUS_STYLE = {"completed": "green", "partial": "yellow", "failed": "red", "interrupted": "yellow",
                 "running": "cyan"}


def runs_table(rows: list[dict[str, Any]], title: str | None = None) -> Table:
    """id, started (UTC), status, spec, git commit, evals × models, samples, headline metric values."""
    table = Table(title=title, header_style="bold")
    for col, justify in (("id", "left"), ("started (UTC)", "left"), ("status", "left"), ("spec", "left"),
                         ("commit", "left"), ("evals × models", "right"), ("samples", "right"),
                         ("headline", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        style = _STATUS_STYLE.get(row["status"], "")
        status = f"[{style}]{row['status']}[/{style}]" if style else row["status"]
        if row["asserts_failed"]:
            status += f"\n[red]{row['asserts_failed']} assert(s) failed[/red]"
        commit = (row["git_commit"] or "—")[:10]
        samples = "—" if row["n_samples"] is None else str(row["n_samples"])
        table.add_row(escape(row["id"]), short_time(row["started_at"]), status,
                      escape(_spec_name(row["spec"])), escape(commit),
                      f"{len(row['evals'])} × {len(row['models'])}", samples,
                      escape(_headline_text(row["headline"])))
    return table


def print_run(console: Console, record: RunRecord) -> None:
    """`evaldsl show`: a header, the results table of `evaldsl run`, errors by reason, unscored reasons, asserts
    and the run's summary."""
    meta, summary = record.meta, record.summary or {}
    console.print(f"[bold]run {record.id}[/bold]  {record.status}  started "
                  f"{short_time(record.started_at)} UTC  finished {short_time(record.finished_at)} UTC")
    console.print(f"spec {meta.get('spec_path') or '—'}  commit {meta.get('git_commit') or '—'}  "
                  f"evaldsl {meta.get('evaldsl_version') or '—'}", highlight=False, markup=False)
    result = record.to_result()
    console.print(results_table(result))
    for line in error_lines(result):
        console.print(line, highlight=False)
    for r in record.results:
        for name, m in r.metrics.items():
            for failure in m.failures:
                console.print(f"  {name} unscored: {failure}", highlight=False, markup=False)
    for line in assert_lines(result):
        console.print(line, highlight=False)
    if summary:
        console.print(f"[dim]{summary.get('model_calls', 0)} model call(s), {summary.get('cache_hits', 0)} "
                      f"cache hit(s), {summary.get('wall_s', 0)} s[/dim]")
    if summary.get("message"):
        console.print(f"[red]{record.status}:[/red] {escape(str(summary['message']))}", highlight=False)
