"""Run results → terminal output: progress bars (or plain lines when not a TTY) and a rich results table."""

from __future__ import annotations

import math
import sys
import time
from typing import Any, TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


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


def results_table(outcome_json: dict[str, Any], title: str | None = None) -> Table:
    """eval × model × metric: value, 95% CI, n, errors/unscored."""
    table = Table(title=title, show_lines=False, header_style="bold")
    for col, justify in (
        ("eval", "left"),
        ("model", "left"),
        ("metric", "left"),
        ("value", "right"),
        ("95% CI", "right"),
        ("n", "right"),
        ("errors", "right"),
        ("notes", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for r in outcome_json["results"]:
        first = True
        notes_common = []
        if r.get("truncated"):
            notes_common.append(f"{r['truncated']} truncated")
        if r.get("cost"):
            notes_common.append(f"${r['cost']:.4f}")
        for name, m in r["metrics"].items():
            notes = list(notes_common) if first else []
            if m.get("unscored"):
                notes.append(f"{m['unscored']} unscored")
            if "outcomes" in m:
                o = m["outcomes"]
                notes.append(f"W/T/L {o['win']}/{o['tie']}/{o['loss']}")
            if m.get("human_agreement"):
                h = m["human_agreement"]
                kappa = h.get("kappa", h.get("cohen_kappa"))
                notes.append(f"human κ {_fmt(kappa)}")
            ci = f"[{_fmt(m['ci_low'])}, {_fmt(m['ci_high'])}]" if m.get("ci_low") is not None else "—"
            table.add_row(
                r["eval"] if first else "",
                r["model"] if first else "",
                name,
                _fmt(m["value"]),
                ci,
                str(m["n"]),
                str(r["errors"]) if first else "",
                ", ".join(notes),
            )
            first = False
        if first:  # no metrics
            table.add_row(r["eval"], r["model"], "—", "—", "—", "0", str(r["errors"]), ", ".join(notes_common))
    return table


def print_outcome(console: Console, outcome_json: dict[str, Any], *, cache_hits: int, model_calls: int) -> None:
    console.print(results_table(outcome_json, title=f"run {outcome_json['run_id']}"))
    for r in outcome_json["results"]:
        for example in r.get("error_examples", []):
            console.print(f"[red]error[/red] in {r['eval']} · {r['model']}: {example}")
    for a in outcome_json["asserts"]:
        mark = "[green]PASS[/green]" if a["passed"] else "[red]FAIL[/red]"
        console.print(f"{mark} {a['eval']} · {a['model']}: {a['expr']} (value {_fmt(a['value'])})")
    console.print(
        f"[dim]{model_calls} model call(s), {cache_hits} cache hit(s); stored as run {outcome_json['run_id']}[/dim]"
    )
    if outcome_json.get("message"):
        console.print(f"[red]{outcome_json['status']}:[/red] {outcome_json['message']}")
