"""Stored runs in; out: one self-contained HTML report (summary table, SVG charts with CIs, sample viewer)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path
from typing import Any

from ..results import SampleRecord, json_safe
from ..store import RunRecord, Store
from .diff import pair_keys
from .runs_view import fmt_value, short_time
from .sampling import DEFAULT_SAMPLES, Selection, choose_rows, outcome

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_CHART_WIDTH, _LABEL_W, _VALUE_W, _ROW_H, _AXIS_H = 760, 250, 80, 22, 28
# Row fields that go into the sample browser as they are (short keys keep the embedded JSON small).
_OUTPUT_EXTRAS = {"logliks": "ll", "loglik": "ll", "n_tokens": "nt", "finish_reason": "fr", "latency": "lat",
                  "completion_tokens": "ct", "cost": "cost"}


class ReportError(Exception):
    """The report cannot be built or written."""


@dataclass(frozen=True)
class ReportInfo:
    path: Path
    bytes: int
    samples: int  # sample rows embedded (over all runs and models)
    items: int  # distinct samples (eval × sample) shown in the browser


def _asset(name: str) -> str:
    return resources.files("evaldsl.report").joinpath("html_assets", name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _script_json(obj: Any) -> str:
    """JSON that is safe inside <script type="application/json">: no `<`, `>`, `&` or line separators."""
    text = json.dumps(json_safe(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                         ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text


# ---------------------------------------------------------------- the data behind the sample browser


def _judges(judges: Any) -> list[dict[str, Any]]:
    out = []
    for name, record in (judges or {}).items():
        if not isinstance(record, dict):
            continue
        calls = []
        for call in record.get("calls") or []:
            parsed = call.get("parsed") or {}
            calls.append({"why": parsed.get("reasoning") or call.get("reply"), "err": call.get("error")
                          or parsed.get("error"), "sw": bool(call.get("swapped"))})
        out.append({"n": name, "v": record.get("verdict") or {}, "calls": calls})
    return out


def browser_data(records: Sequence[RunRecord], samples: Sequence[Iterable[SampleRecord]],
                 cap: int | None = None) -> dict[str, Any]:
    """The JSON embedded in the page: runs, output columns (run × model), evals, metrics, and one item per
    (eval, sample) holding its prompt, references, inputs and every column's output, scores and judges. With a
    `cap`, at most that many items: a stratified selection (see `sampling`), made while streaming the rows."""
    multi = len(records) > 1
    runs = [{"id": r.id, "letter": _LETTERS[i % 26], "status": r.status} for i, r in enumerate(records)]
    cols: list[dict[str, Any]] = []
    col_index: dict[tuple[int, str], int] = {}

    def add_col(ri: int, model: str) -> None:
        col_index[(ri, model)] = len(cols)
        label = f"{runs[ri]['letter']} · {model}" if multi else model
        cols.append({"run": ri, "model": model, "label": label})

    for ri, record in enumerate(records):
        for model in dict.fromkeys([*(r.model for r in record.results), *record.meta.get("models", [])]):
            add_col(ri, model)
    evals: dict[str, int] = {}
    metrics: dict[str, None] = {}
    items: dict[tuple[str, str, int], dict[str, Any]] = {}  # in order of first appearance
    seen: set[tuple[str, str, int]] = set()
    selection: Selection[tuple[str, str, int]] = Selection(cap)
    n_rows = 0
    for ri, rows in enumerate(samples):
        for (ev, model), (key, occurrence), sample in pair_keys(rows):
            row = sample.to_json()
            n_rows += 1
            if (ri, model) not in col_index:
                add_col(ri, model)
            evals.setdefault(ev, len(evals))
            scores = {k: v for k, v in (row.get("scores") or {}).items()
                      if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}
            metrics.update(dict.fromkeys(scores))
            ikey = (ev, key, occurrence)
            if ikey not in seen:
                seen.add(ikey)
                kept, evicted = selection.offer(ikey, (ev, outcome(row)))
                for gone in evicted:
                    del items[gone]
                if kept:
                    item: dict[str, Any] = {"e": evals[ev], "i": row.get("index"), "p": row.get("prompt") or [],
                                            "r": row.get("references") or [], "in": row.get("inputs") or {},
                                            "o": []}
                    if row.get("choices"):
                        item["ch"], item["lb"] = row["choices"], row.get("labels") or []
                    items[ikey] = item
            if ikey not in items:
                continue
            out: dict[str, Any] = {"c": col_index[(ri, model)], "s": scores}
            if row.get("output") is not None:
                out["o"] = row["output"]
            for flag, short in (("error", "err"), ("truncated", "tr"), ("cached", "ca")):
                if row.get(flag):
                    out[short] = row[flag]
            for name, short in _OUTPUT_EXTRAS.items():
                if row.get(name) is not None:
                    out[short] = row[name]
            judges = _judges(row.get("judges"))
            if judges:
                out["j"] = judges
            items[ikey]["o"].append(out)
    chosen = items.keys() if cap is None else selection.chosen()
    shown = [item for k, item in items.items() if k in chosen]
    for item in shown:
        item["o"].sort(key=lambda o: o["c"])
    return {"runs": runs, "cols": cols, "evals": list(evals), "metrics": list(metrics), "items": shown,
            "rows": n_rows, "distinct": selection.total}


# ---------------------------------------------------------------- summary table and charts


def _results(records: Sequence[RunRecord]) -> list[tuple[int, dict[str, Any]]]:
    """Every eval × model result of the runs, as the JSON the page shows."""
    return [(ri, r.to_json()) for ri, record in enumerate(records) for r in record.results]


def _ci(m: dict[str, Any]) -> str:
    if m.get("ci_low") is None or m.get("ci_high") is None:
        return "—"
    return f"[{fmt_value(m['ci_low'])}, {fmt_value(m['ci_high'])}]"


def summary_table(records: Sequence[RunRecord]) -> str:
    multi = len(records) > 1
    head = (["run"] if multi else []) + ["eval", "model", "metric", "value", "95% CI", "n", "errors",
                                         "unscored", "truncated"]
    out = ['<table class="summary" id="summary-table"><thead><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for ri, r in _results(records):
        metrics = list((r.get("metrics") or {}).items()) or [("—", {})]
        for k, (name, m) in enumerate(metrics):
            first = k == 0
            error_cls = "num bad" if first and r.get("errors") else "num"
            cells: list[tuple[Any, str]] = [(_LETTERS[ri % 26] if first else "", "")] if multi else []
            cells += [(r["eval"] if first else "", ""), (r["model"] if first else "", ""), (name, ""),
                      (fmt_value(m.get("value")), "num"), (_ci(m), "num"), (m.get("n", "—"), "num"),
                      (r.get("errors", 0) if first else "", error_cls),
                      (m.get("unscored") or "", "num"), ((r.get("truncated") or "") if first else "", "num")]
            tds = "".join(f'<td class="{c}">{_e(v)}</td>' if c else f"<td>{_e(v)}</td>" for v, c in cells)
            out.append(f'<tr class="group">{tds}</tr>' if first else f"<tr>{tds}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _nice_step(span: float) -> float:
    raw = span / 5.0
    power = 10.0 ** math.floor(math.log10(raw))
    for mult in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= mult * power:
            return mult * power
    return 10.0 * power


def axis_range(values: Sequence[float]) -> tuple[float, float, float]:
    """(low, high, tick step) covering `values`: [0, 1] for values within it, else rounded outwards."""
    lo, hi = min(values), max(values)
    if lo >= 0.0 and hi <= 1.0:
        return 0.0, 1.0, 0.2
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    if 0.0 <= lo < hi - lo:
        lo = 0.0  # zero is near anyway (bleu 12 vs 87): start there
    step = _nice_step(hi - lo)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step, step


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def metric_chart(metric: str, rows: list[tuple[str, int, dict[str, Any]]]) -> str:
    """An inline SVG dot plot: one row per (label, colour, metric dict), the value with its CI whisker."""
    points = [v for _, _, m in rows for v in (_finite(m.get("value")), _finite(m.get("ci_low")),
                                               _finite(m.get("ci_high"))) if v is not None]
    height = len(rows) * _ROW_H + _AXIS_H + 8
    plot_w = _CHART_WIDTH - _LABEL_W - _VALUE_W
    out = [f'<svg class="chart" role="img" width="{_CHART_WIDTH}" height="{height}" '
           f'viewBox="0 0 {_CHART_WIDTH} {height}" xmlns="http://www.w3.org/2000/svg" '
           f'aria-label="{_e(metric)}: value and 95% CI per model">']
    lo, hi, step = axis_range(points) if points else (0.0, 1.0, 0.2)

    def x(v: float) -> float:
        return _LABEL_W + (v - lo) / (hi - lo) * plot_w

    axis_y = len(rows) * _ROW_H + 4
    n_ticks = int(round((hi - lo) / step))
    for t in range(n_ticks + 1):
        tv = lo + t * step
        tx = x(tv)
        out.append(f'<line class="grid" x1="{tx:.1f}" y1="2" x2="{tx:.1f}" y2="{axis_y}"/>'
                   f'<text class="tick" x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle">'
                   f"{_e(fmt_value(round(tv, 10)))}</text>")
    for k, (label, colour_index, m) in enumerate(rows):
        cy = k * _ROW_H + _ROW_H / 2 + 2
        colour = PALETTE[colour_index % len(PALETTE)]
        out.append(f'<text class="label" x="{_LABEL_W - 8}" y="{cy + 4:.1f}" text-anchor="end">'
                   f"{_e(label)}</text>")
        value, low, high = (_finite(m.get(k2)) for k2 in ("value", "ci_low", "ci_high"))
        if value is None:
            out.append(f'<text class="novalue" x="{_LABEL_W + 4}" y="{cy + 4:.1f}">no value (n = '
                       f'{_e(m.get("n", 0))})</text>')
            continue
        tip = f"{label}: {fmt_value(value)} [{fmt_value(low)}, {fmt_value(high)}], n = {m.get('n')}"
        out.append(f"<g><title>{_e(tip)}</title>")
        if low is not None and high is not None:
            x1, x2 = x(low), x(high)
            out.append(f'<line class="ci" stroke="{colour}" x1="{x1:.1f}" y1="{cy:.1f}" x2="{x2:.1f}" '
                       f'y2="{cy:.1f}"/>'
                       f'<line class="ci" stroke="{colour}" x1="{x1:.1f}" y1="{cy - 5:.1f}" x2="{x1:.1f}" '
                       f'y2="{cy + 5:.1f}"/>'
                       f'<line class="ci" stroke="{colour}" x1="{x2:.1f}" y1="{cy - 5:.1f}" x2="{x2:.1f}" '
                       f'y2="{cy + 5:.1f}"/>')
        out.append(f'<circle class="dot" fill="{colour}" cx="{x(value):.1f}" cy="{cy:.1f}" r="4.5"/></g>'
                   f'<text class="value" x="{_CHART_WIDTH - _VALUE_W + 8}" y="{cy + 4:.1f}">'
                   f"{_e(fmt_value(value))}</text>")
    out.append("</svg>")
    return "".join(out)


def charts(records: Sequence[RunRecord], cols: list[dict[str, Any]]) -> str:
    """One chart per metric name: every eval × (run ×) model that has it."""
    colour = {(c["run"], c["model"]): i for i, c in enumerate(cols)}
    label = {(c["run"], c["model"]): c["label"] for c in cols}
    by_metric: dict[str, list[tuple[str, int, dict[str, Any]]]] = {}
    for ri, r in _results(records):
        for name, m in (r.get("metrics") or {}).items():
            key = (ri, r["model"])
            by_metric.setdefault(name, []).append((f"{r['eval']} · {label.get(key, r['model'])}",
                                                   colour.get(key, 0), m))
    if not by_metric:
        return '<p class="muted">No metric values in these runs.</p>'
    parts = []
    for name, rows in by_metric.items():
        parts.append(f'<figure class="metric-chart" data-metric="{_e(name)}"><figcaption>{_e(name)}'
                     ' <span class="muted">value and 95% CI</span></figcaption>'
                     f"{metric_chart(name, rows)}</figure>")
    return "".join(parts)


# ---------------------------------------------------------------- the page


def _runs_header(records: Sequence[RunRecord]) -> str:
    rows = []
    for i, r in enumerate(records):
        meta = r.meta
        rows.append(f"<tr><td>{_e(_LETTERS[i % 26])}</td><td><code>{_e(r.id)}</code></td>"
                    f"<td>{_e(r.status)}</td>"
                    f"<td>{_e(short_time(r.started_at))} UTC</td><td>{_e(meta.get('spec_path') or '—')}</td>"
                    f"<td><code>{_e((meta.get('git_commit') or '—')[:12])}</code></td>"
                    f"<td>{_e(meta.get('evaldsl_version') or '—')}</td></tr>")
    return ('<table class="runs" id="runs-table"><thead><tr><th></th><th>run</th><th>status</th>'
            "<th>started</th><th>spec</th><th>commit</th><th>evaldsl</th></tr></thead><tbody>"
            + "".join(rows) + "</tbody></table>")


def _notes(records: Sequence[RunRecord]) -> str:
    multi = len(records) > 1
    items = []
    for i, record in enumerate(records):
        prefix = f"{_LETTERS[i % 26]} · " if multi else ""
        for a in record.asserts:
            cls, word = ("pass", "PASS") if a.passed else ("fail", a.status.upper())
            why = f" — {_e(a.reason)}" if a.reason else ""
            items.append(f'<li class="{cls}"><b>{word}</b> {_e(prefix)}{_e(a.eval)} · '
                         f"{_e(a.model)}: <code>{_e(a.expr)}</code> "
                         f"(value {_e(fmt_value(a.value))}){why}</li>")
        for r in record.results:
            for g in r.error_summary:
                items.append(f'<li class="fail"><b>error</b> {_e(prefix)}{_e(r.eval)} · {_e(r.model)}: '
                             f"{_e(g.count)}× {_e(g.stage)}: {_e(g.reason)}</li>")
        message = (record.summary or {}).get("message")
        if message:
            items.append(f'<li class="fail"><b>{_e(record.status)}</b> {_e(prefix)}{_e(message)}</li>')
    return f'<ul class="notes" id="notes">{"".join(items)}</ul>' if items else ""


def render_report(records: Sequence[RunRecord], samples: Sequence[Iterable[SampleRecord]]) -> str:
    """The whole page as a string. `samples[i]` are the sample rows of `records[i]`."""
    return _page(records, browser_data(records, samples))


def _page(records: Sequence[RunRecord], data: dict[str, Any]) -> str:
    if not records:
        raise ReportError("a report needs at least one run")
    script = _asset("report.js")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'; img-src data:; "
           "base-uri 'none'; form-action 'none'")
    title = "evaldsl report · " + ", ".join(r.id for r in records)
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{_e(title)}</title><style>{_asset('report.css')}</style></head><body>",
        f'<header><h1>evaldsl report</h1><p class="muted">generated {_e(generated)}</p>',
        _runs_header(records), "</header><main>",
        '<section id="summary"><h2>Summary</h2>', summary_table(records), _notes(records), "</section>",
        '<section id="charts"><h2>Metrics</h2>', charts(records, data["cols"]), "</section>",
        '<section id="samples"><h2>Samples</h2>',
        f'<p class="muted">{data["rows"]} sample row(s); {data["distinct"]} distinct sample(s). ',
        _selection_note(data),
        "Click a row for the prompt, references, inputs, every output and the judges' reasoning.</p>",
        '<noscript><p class="bad">The sample browser needs JavaScript.</p></noscript>',
        '<div id="browser"></div></section></main>',
        f'<script type="application/json" id="evaldsl-data">{_script_json(data)}</script>',
        f"<script>{script}</script></body></html>\n",
    ])


def _selection_note(data: dict[str, Any]) -> str:
    if len(data["items"]) >= data["distinct"]:
        return ""
    return (f'<span id="selection-note">The browser shows {len(data["items"])} of them, a stratified selection '
            "(every eval, errors and each score band kept; the same samples every time); charts and the summary "
            "cover all samples; <code>evaldsl report --samples N</code> shows more. </span>")


def write_report(store: Store, run_ids: Sequence[str], path: Path, samples: int | None = DEFAULT_SAMPLES
                 ) -> ReportInfo:
    """Write the report of stored runs `run_ids` (exact ids) to `path` atomically; the sample browser holds at
    most `samples` distinct samples (None: all)."""
    records = [store.get_run(run_id) for run_id in dict.fromkeys(run_ids)]
    if samples is None:
        data = browser_data(records, [store.iter_samples(r.id) for r in records])
    else:  # choose from the samples' briefs, then read only the chosen samples
        rows, n_rows, distinct, metrics = choose_rows([store.iter_sample_briefs(r.id) for r in records], samples)
        data = browser_data(records, [store.samples_at(r.id, chosen) for r, chosen in zip(records, rows, strict=True)])
        data.update(rows=n_rows, distinct=distinct, metrics=list(dict.fromkeys([*metrics, *data["metrics"]])))
    page = _page(records, data)
    path = Path(path)
    if path.is_dir():
        raise ReportError(f"{path} is a directory; give a file name such as {path / 'report.html'}")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ReportError(f"cannot write the report {path}: {exc.strerror or exc}") from None
    return ReportInfo(path, len(page.encode("utf-8")), data["rows"], len(data["items"]))
