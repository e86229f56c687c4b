"""Pull-request summaries: a run, a diff or (in `plan_view`) a plan as compact Markdown — one table (eval, model,
metric, value with its 95% CI, delta with its CI and p-value, ▲/▼), regressions and failures first, the details
collapsed in <details>."""

from __future__ import annotations

from collections.abc import Mapping

from ..results import EvalModelResult, MetricSummary, RunResult
from .diff import MetricDiff, RunDiff, diff_footer
from .runs_view import fmt_value


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def value_ci(m: MetricSummary | None) -> str:
    """`0.750 [0.500, 1.000]` — the value and its 95% CI, or "—"."""
    if m is None or m.value is None:
        return "—"
    if m.ci_low is None or m.ci_high is None:
        return fmt_value(m.value)
    return f"{fmt_value(m.value)} [{fmt_value(m.ci_low)}, {fmt_value(m.ci_high)}]"


def _signed(v: float | None) -> str:
    if v is None:
        return "—"
    text = fmt_value(v)
    return text if text.startswith("-") else f"+{text}"


def _p(p: float | None) -> str:
    return "—" if p is None else ("<0.001" if p < 0.001 else f"{p:.3f}")


def run_markdown(result: RunResult) -> str:
    """A run: the headline, failing asserts first, then every eval × model × metric."""
    failing = [a for a in result.asserts if not a.passed]
    verdict = "✅" if result.exit_code == 0 else "❌"
    head = (f"{verdict} **evaldsl run** `{result.run_id or '—'}`: {result.status}, {len(result.results)} "
            f"eval × model, {len(result.asserts) - len(failing)}/{len(result.asserts)} asserts pass, "
            f"{result.model_calls} calls ({result.cache_hits} cached)")  # fmt: skip
    lines = [head, ""]
    if result.message:
        lines += [f"> {_cell(result.message)}", ""]
    lines += ["| eval | model | metric | value [95% CI] | n | status |", "|---|---|---|---:|---:|---|"]
    bad = {(a.eval, a.model) for a in failing}
    ordered = sorted(result.results, key=lambda r: ((r.eval, r.model) not in bad and r.status == "ok"))
    for r in ordered:
        for name, m in r.metrics.items():
            status = "▼ failed" if r.status == "failed" else ("▼ assert" if (r.eval, r.model) in bad else r.status)
            lines.append(f"| {_cell(r.eval)} | {_cell(r.model)} | {_cell(name)} | {value_ci(m)} | {m.n} | {status} |")
    details = [f"- {'✅' if a.passed else '❌'} `{_cell(a.expr)}` ({a.eval} · {a.model}): {a.status}"
               + (f" — {a.reason}" if a.reason else "") for a in failing + [a for a in result.asserts if a.passed]]
    details += [f"- {r.eval} · {r.model}: {r.errors} of {r.n} samples failed"
                + (f" ({r.error_summary[0].stage}: {r.error_summary[0].reason})" if r.error_summary else "")
                for r in result.results if r.errors]  # fmt: skip
    if details:
        lines += ["", "<details><summary>Asserts and errors</summary>", "", *details, "", "</details>"]
    return "\n".join(lines) + "\n"


def _flag(r: MetricDiff) -> str:
    return {"worse": "▼ worse", "better": "▲ better"}.get(r.direction or "", "n.s." if r.p_value is not None else "—")


def diff_markdown(diff: RunDiff, results_b: Mapping[tuple[str, str], EvalModelResult] | None = None,
                  baseline: str | None = None) -> str:  # fmt: skip
    """A diff: regressions first, then improvements, then the rest; B's value with its CI when its results are
    given; the notes (what differs, unpaired rows) collapsed."""
    worse, better = diff.regressions, [r for r in diff.rows if r.direction == "better"]
    icon = "❌" if worse else "✅"
    a_name = baseline or f"`{diff.run_a}`"
    head = (f"{icon} **evaldsl diff** {a_name} → `{diff.run_b}`: {len(worse)} regression(s), {len(better)} "
            f"improvement(s) at α = {diff.alpha:g}")  # fmt: skip
    lines = [head, "", "| eval | model | metric | baseline | value [95% CI] | Δ [95% CI] | p | |",
             "|---|---|---|---:|---:|---:|---:|---|"]  # fmt: skip
    order = {"worse": 0, "better": 1}
    for r in sorted(diff.rows, key=lambda r: order.get(r.direction or "", 2)):
        summary = (results_b or {}).get((r.eval, r.model.split(" → ")[-1]))
        value = value_ci(summary.metrics.get(r.metric)) if summary is not None else fmt_value(r.b)
        delta = _signed(r.delta) + ("" if r.ci_low is None else f" [{_signed(r.ci_low)}, {_signed(r.ci_high)}]")
        metric = r.metric + ("" if r.higher_is_better else " (↓)")
        lines.append(f"| {_cell(r.eval)} | {_cell(r.model)} | {_cell(metric)} | {fmt_value(r.a)} | {value} | "
                     f"{delta} | {_p(r.p_value)} | {_flag(r)} |")  # fmt: skip
    notes = diff_footer(diff)
    lines += ["", "<details><summary>Details</summary>", "", *[f"- {_cell(n)}" for n in notes], "", "</details>"]
    return "\n".join(lines) + "\n"
