"""The views of a plan estimate: a console table, JSON, and a Markdown table for a pull-request comment. An unknown
price or wall time reads "unknown", never 0."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from ..run.estimate import Estimate, PlanLine

_HEADERS = ("eval", "model", "what", "samples", "calls", "cached", "input tok", "output tok (est.)",
            "cost USD (est.)", "wall (est.)")  # fmt: skip


def _what(line: PlanLine) -> str:
    return f"judge {line.judge} ({line.called})" if line.kind == "judge" else line.kind


def _cost(value: float | None, fresh: int) -> str:
    if value is None:
        return "unknown" if fresh else "0"
    return f"{value:.4f}" if value else "0"


def _wall(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value < 60:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def _output(line: PlanLine) -> str:
    return f"{line.output_tokens:,} ({line.output_basis})" if line.output_basis not in ("none", "cached") else (
        f"{line.output_tokens:,}")  # fmt: skip


def _cells(line: PlanLine) -> list[str]:
    return [line.eval, line.model, _what(line), str(line.samples), f"{line.calls:,}", f"{line.cached:,}",
            f"{line.input_tokens:,}", _output(line), _cost(line.cost_usd, line.fresh),
            _wall(line.wall_s)]  # fmt: skip


def _total_cells(totals: dict[str, Any]) -> list[str]:
    return ["total", "", "", str(totals["samples"]), f"{totals['calls']:,}", f"{totals['cached']:,}",
            f"{totals['input_tokens']:,}", f"{totals['output_tokens']:,}",
            _cost(totals["cost_usd"], totals["fresh"]), _wall(totals["wall_s"])]  # fmt: skip


def plan_table(est: Estimate) -> Table:
    table = Table(header_style="bold", show_footer=False)
    for i, header in enumerate(_HEADERS):
        table.add_column(header, justify="right" if i >= 3 else "left")
    for line in est.lines:
        table.add_row(*_cells(line))
    table.add_section()
    table.add_row(*_total_cells(est.totals), style="bold")
    return table


def plan_notes(est: Estimate) -> list[str]:
    """What the figures rest on: unknown prices, models whose cache could not be read, token bases."""
    notes = list(est.gates)
    if est.totals["unknown_prices"]:
        notes.append(f"cost unknown: no price for {', '.join(est.totals['unknown_prices'])} in litellm's price map")
    for line in est.lines:
        if line.note:
            notes.append(f"{line.eval} · {line.called}: cache not consulted: {line.note}")
    bases = sorted({f"{ln.called}: {ln.token_basis}" for ln in est.lines})
    notes.append("tokens counted by " + "; ".join(bases) + "; judge calls exclude retries of unparseable verdicts")
    return notes


def plan_markdown(est: Estimate) -> str:
    """A compact Markdown table (totals first in the heading), the notes collapsed in <details>."""
    t = est.totals
    head = (f"**evaldsl plan**: {t['fresh']:,} fresh calls of {t['calls']:,} ({t['cached']:,} cached), "
            f"est. cost {_cost(t['cost_usd'], t['fresh'])} USD, est. wall {_wall(t['wall_s'])}")  # fmt: skip
    rows = ["| " + " | ".join(_HEADERS) + " |", "|" + "---|" * 3 + "---:|" * (len(_HEADERS) - 3)]
    rows += ["| " + " | ".join(_cells(line)) + " |" for line in est.lines]
    rows.append("| " + " | ".join(f"**{c}**" if c else "" for c in _total_cells(t)) + " |")
    details = "\n".join(f"- {n}" for n in plan_notes(est))
    summary = "<details><summary>How these figures are made</summary>"
    return f"{head}\n\n" + "\n".join(rows) + f"\n\n{summary}\n\n{details}\n\n</details>\n"
