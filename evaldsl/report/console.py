"""Run results → terminal output: progress bars (or plain lines when not a TTY) and a rich results table."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..results import MetricSummary, RunResult


class RichProgress:
    """One bar per eval × model: done/total, rate, ETA and errors."""

    def __init__(self, console: Console):
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            TextColumn("[red]{task.fields[errors]}"),
            console=console,
            transient=False,
        )
        self._started: dict[Any, float] = {}
        self._errors: dict[Any, int] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, label: str, total: int) -> Any:
        task = self._progress.add_task(label, total=total, rate="", errors="")
        self._started[task] = time.monotonic()
        self._errors[task] = 0
        return task

    def advance(self, task: Any, n: int = 1, errors: int = 0) -> None:
        self._errors[task] += errors
        done = self._progress.tasks[task].completed + n
        elapsed = max(time.monotonic() - self._started[task], 1e-6)
        errs = self._errors[task]
        self._progress.update(
            task,
            advance=n,
            rate=f"{done / elapsed:.1f}/s",
            errors=f"{errs} error{'s' if errs != 1 else ''}" if errs else "",
        )

    def finish(self, task: Any) -> None:
        self._progress.refresh()


class PlainProgress:
    """Progress as plain lines on stderr (CI logs): at start, every ~10 % and at the end."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self._state: dict[int, dict[str, Any]] = {}

    def __enter__(self) -> PlainProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def start(self, label: str, total: int) -> Any:
        task = len(self._state)
        self._state[task] = {
            "label": label,
            "total": total,
            "done": 0,
            "errors": 0,
            "t0": time.monotonic(),
            "next": max(1, total // 10),
        }
        print(f"{label}: {total} samples", file=self.stream, flush=True)
        return task

    def advance(self, task: Any, n: int = 1, errors: int = 0) -> None:
        st = self._state[task]
        st["done"] += n
        st["errors"] += errors
        now = time.monotonic()
        if st["done"] >= st["next"] and st["done"] < st["total"] and now - st.get("printed", st["t0"]) >= 2.0:
            st["next"] = st["done"] + max(1, st["total"] // 10)
            st["printed"] = now
            print(self._line(st), file=self.stream, flush=True)

    def finish(self, task: Any) -> None:
        print(self._line(self._state[task]) + " done", file=self.stream, flush=True)

    @staticmethod
    def _line(st: dict[str, Any]) -> str:
        elapsed = max(time.monotonic() - st["t0"], 1e-6)
        return f"{st['label']}: {st['done']}/{st['total']} ({st['done'] / elapsed:.1f}/s, {st['errors']} errors)"


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"


_STATUS_STYLE = {"completed": "green", "ok": "green", "partial": "yellow", "failed": "red", "interrupted": "yellow"}


def _metric_notes(m: MetricSummary) -> list[str]:
    notes = []
    if m.unscored:
        notes.append(f"{m.unscored} unscored")
    if m.outcomes is not None:
        o = m.outcomes
        notes.append(f"W/T/L {o['win']}/{o['tie']}/{o['loss']}")
    if m.human_agreement:
        h = m.human_agreement
        notes.append(f"human κ {_fmt(h.get('kappa'))}")
    if not m.higher_is_better:
        notes.append("lower is better")
    return notes


def results_table(result: RunResult, title: str | None = None) -> Table:
    """eval × model × metric: value, 95% CI, n, errors and notes (unscored, truncated, cost, direction)."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for col, justify in (("eval", "left"), ("model", "left"), ("metric", "left"), ("value", "right"),
                         ("95% CI", "right"), ("n", "right"), ("errors", "right"), ("notes", "left")):  # fmt: skip
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in result.results:
        common = []
        if r.status != "ok":
            style = _STATUS_STYLE[r.status]
            common.append(f"[{style}]{r.status}[/{style}]")
        if r.truncated:
            common.append(f"{r.truncated} truncated")
        if r.cost:
            common.append(f"${r.cost:.4f}")
        errors = f"[red]{r.errors}[/red]" if r.errors else "0"
        rows: list[tuple[str, MetricSummary | None]] = list(r.metrics.items()) or [("—", None)]
        for k, (name, m) in enumerate(rows):
            first = k == 0
            notes = (common if first else []) + (_metric_notes(m) if m is not None else [])
            ci = "—" if m is None or m.ci_low is None else f"[{_fmt(m.ci_low)}, {_fmt(m.ci_high)}]"
            table.add_row(escape(r.eval) if first else "", escape(r.model) if first else "", escape(name),
                          _fmt(m.value if m else None), ci, str(m.n if m else 0), errors if first else "",
                          ", ".join(notes))  # fmt: skip
    return table


def error_lines(result: RunResult) -> list[str]:
    """Errors grouped by reason under the table: count, stage, reason and one example sample."""
    lines = []
    for r in result.results:
        for g in r.error_summary:
            example = f" (e.g. sample {g.example})" if g.example is not None else ""
            count = f"{g.count}× " if g.count else ""
            lines.append(f"[red]error[/red] {escape(r.eval)} · {escape(r.model)}: {count}{g.stage}: "
                         f"{escape(g.reason)}{example}")  # fmt: skip
    return lines


def assert_lines(result: RunResult) -> list[str]:
    marks = {"pass": "[green]PASS[/green]", "fail": "[red]FAIL[/red]", "error": "[red]ERROR[/red]"}
    lines = []
    for a in result.asserts:
        why = f" — {escape(a.reason)}" if a.reason else ""
        lines.append(f"{marks[a.status]} {escape(a.eval)} · {escape(a.model)}: {escape(a.expr)} "
                     f"(value {_fmt(a.value)}){why}")  # fmt: skip
    return lines


def print_outcome(console: Console, result: RunResult) -> None:
    """`evaldsl run`'s table, errors by reason, asserts, the run's status, and where it is stored (last)."""
    title = f"run {result.run_id}" if result.run_id else None
    if result.results:
        console.print(results_table(result, title=title))
    for line in error_lines(result) + assert_lines(result):
        console.print(line, highlight=False)
    if result.message:
        style = _STATUS_STYLE.get(result.status, "red")
        console.print(f"[{style}]{result.status}:[/{style}] {escape(result.message)}", highlight=False)
    console.print(f"[dim]{result.model_calls} model call(s), {result.cache_hits} cache hit(s)[/dim]")
    if result.run_id is not None:
        console.print(f"stored as run {result.run_id} in {escape(str(result.store))}", highlight=False)
