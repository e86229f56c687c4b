"""Runs and outcomes in; out: per-sample CSV or JSONL, and JUnit XML (a testcase per eval × model)."""

from __future__ import annotations

import csv
import json
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from ..results import EvalModelResult, RunResult, SampleRecord, json_safe
from ..store import Store
from ..store.redact import Redactor
from .runs_view import fmt_value

# Sample fields that become their own CSV columns, in this order; every other field lands in `extra` (JSON).
CSV_FIELDS = ("run_id", "eval", "model", "index", "sample_key", "error", "cached", "truncated", "prompt",
              "output", "references", "inputs", "latency", "prompt_tokens", "completion_tokens", "cost",
              "finish_reason")
_SCORE_PREFIX = "score:"


class ExportError(Exception):
    """An export cannot be written (unknown format, unwritable file)."""


_LINE_BREAKS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\x85", "\\u0085"))


def sample_record_jsonl(row: dict[str, Any]) -> str:
    """One sample row as one line of JSON (no trailing newline): strict JSON, NaN written as null, and the
    characters some readers take for line breaks (U+2028, U+2029, U+0085) escaped."""
    text = json.dumps(json_safe(row), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for raw, escaped in _LINE_BREAKS:
        text = text.replace(raw, escaped)
    return text


def prompt_text(messages: Any) -> str:
    """Prompt messages as text: the content of a lone user message, else `role: content` blocks."""
    if not isinstance(messages, list):
        return "" if messages is None else str(messages)
    if len(messages) == 1 and isinstance(messages[0], dict) and messages[0].get("role") == "user":
        return str(messages[0].get("content", ""))
    blocks = [f"{m.get('role', '?')}: {m.get('content', '')}" for m in messages if isinstance(m, dict)]
    return "\n\n".join(blocks)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(json_safe(value), ensure_ascii=False)
    return value


def csv_header(metrics: Iterable[str]) -> list[str]:
    return [*CSV_FIELDS, *(_SCORE_PREFIX + m for m in metrics), "extra"]


def write_csv(run_id: str, rows: Iterable[dict[str, Any]], metrics: list[str], out: TextIO) -> int:
    """Sample rows as CSV: fixed columns, one `score:<metric>` column per metric, the rest as JSON in `extra`.
    Returns how many rows were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(csv_header(metrics))
    known = set(CSV_FIELDS) | {"scores"}
    n = 0
    for row in rows:
        scores = dict(row.get("scores") or {})
        record = {**row, "run_id": run_id, "prompt": prompt_text(row.get("prompt"))}
        cells = [_cell(record.get(name)) for name in CSV_FIELDS]
        cells += [_cell(scores.pop(m, None)) for m in metrics]
        extra = {k: v for k, v in row.items() if k not in known and v not in (None, {}, [])}
        if scores:  # a score not named by the run's results (should not happen): keep it
            extra["scores"] = scores
        cells.append(_cell(extra) if extra else "")
        writer.writerow(cells)
        n += 1
    return n


def write_jsonl(run_id: str, records: Iterable[SampleRecord], out: TextIO) -> int:
    """Sample records as JSON lines, each with its `run_id`. Returns how many were written."""
    n = 0
    for record in records:
        out.write(sample_record_jsonl({"run_id": run_id, **record.to_json()}) + "\n")
        n += 1
    return n


def write_run_jsonl(store_dir: Path | str, run_id: str, out: TextIO, redactor: Redactor | None = None) -> int:
    """`evaldsl run --format jsonl`: the samples of the run just stored, one JSON line each (read through
    `redactor`)."""
    with Store(store_dir, redactor=redactor) as store:
        return write_jsonl(run_id, store.iter_samples(run_id), out)


def run_metric_names(results: Iterable[EvalModelResult]) -> list[str]:
    """Every metric name of a run's results, in first-seen order."""
    names: dict[str, None] = {}
    for r in results:
        names.update(dict.fromkeys(r.metrics))
    return list(names)


def export_run(store: Store, run_id: str, fmt: str, out: TextIO) -> int:
    """Write run `run_id`'s samples to `out` as "csv" or "jsonl"; returns how many rows were written."""
    if fmt == "jsonl":
        return write_jsonl(run_id, store.iter_samples(run_id), out)
    if fmt == "csv":
        metrics = run_metric_names(store.get_run(run_id).results)
        return write_csv(run_id, (s.to_json() for s in store.iter_samples(run_id)), metrics, out)
    raise ExportError(f"unknown export format {fmt!r}; use csv or jsonl")


# ---------------------------------------------------------------- JUnit


def _metrics_text(result: EvalModelResult) -> str:
    lines = [f"n = {result.n}, errors = {result.errors}, status = {result.status}"]
    for name, m in result.metrics.items():
        lines.append(f"{name} = {fmt_value(m.value)} [{fmt_value(m.ci_low)}, {fmt_value(m.ci_high)}] n = {m.n}"
                     + (f", {m.unscored} unscored" if m.unscored else ""))
    return "\n".join(lines)


def _errors_text(result: EvalModelResult) -> str:
    return "\n".join(f"{g.count}× {g.stage}: {g.reason}" for g in result.error_summary)


def junit_tree(result: RunResult) -> ET.ElementTree:
    """The JUnit XML of a run; see `write_junit`."""
    suite = ET.Element("testsuite", name=result.spec or "evaldsl")
    props = ET.SubElement(suite, "properties")
    for key, value in (("run_id", result.run_id), ("status", result.status), ("spec", result.spec)):
        ET.SubElement(props, "property", name=key, value=str(value or ""))
    cases: dict[tuple[str, str], ET.Element] = {}

    def case(classname: str, name: str) -> ET.Element:
        if (classname, name) not in cases:
            cases[(classname, name)] = ET.SubElement(suite, "testcase", classname=classname, name=name,
                                                     time="0")
        return cases[(classname, name)]

    for r in result.results:
        tc = case(f"evaldsl.{r.eval}", r.model)
        if r.n == 0:
            error = ET.SubElement(tc, "error", message="no samples were evaluated", type="no_samples")
            error.text = "the dataset gave no samples"
        elif r.errors:
            tolerated = f" (tolerated: {r.max_error_rate:g})" if r.status == "partial" else ""
            error = ET.SubElement(tc, "error", message=f"{r.errors} of {r.n} samples failed{tolerated}",
                                  type="sample_errors")
            error.text = _errors_text(r)
        ET.SubElement(tc, "system-out").text = _metrics_text(r)
    for a in result.asserts:
        if a.passed:
            continue
        tc = case(f"evaldsl.{a.eval}", a.model)
        verdict = "failed" if a.status == "fail" else f"could not be judged ({a.reason})"
        text = f"assert {a.expr} {verdict}: value {fmt_value(a.value)}"
        failure = ET.SubElement(tc, "failure" if a.status == "fail" else "error", message=text, type="assert")
        failure.text = text
    if result.status not in ("completed", "partial"):
        tc = case("evaldsl", "run")
        message = result.message or f"run {result.status}"
        ET.SubElement(tc, "error", message=message, type=result.status).text = message
    for tc in cases.values():  # JUnit readers expect failures/errors before system-out
        outs = [child for child in tc if child.tag == "system-out"]
        for child in outs:
            tc.remove(child)
            tc.append(child)
    n_fail = sum(1 for tc in cases.values() if tc.find("failure") is not None)
    n_err = sum(1 for tc in cases.values() if tc.find("error") is not None)
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(n_fail))
    suite.set("errors", str(n_err))
    suite.set("skipped", "0")
    root = ET.Element("testsuites", name="evaldsl", tests=str(len(cases)), failures=str(n_fail),
                      errors=str(n_err))
    root.append(suite)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(result: RunResult, path: Path) -> None:
    """JUnit XML for CI: one testcase per eval × model (classname `evaldsl.<eval>`, name = model), a
    <failure> per failed assert (an <error> for one that could not be judged), an <error> when the eval × model
    had errors (grouped by reason) or no samples, and a testcase `run` with an <error> when the run failed or
    was interrupted. Raises ExportError if unwritable."""
    tree = junit_tree(result)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tree.write(tmp, encoding="utf-8", xml_declaration=True)
        os.replace(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write the JUnit report {path}: {exc.strerror or exc}") from None
