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

from ..store.sqlite import Store
from .runs_view import fmt_value

# Sample fields that become their own CSV columns, in this order; every other field lands in `extra` (JSON).
CSV_FIELDS = ("run_id", "eval", "model", "index", "sample_key", "error", "cached", "truncated", "prompt",
              "output", "references", "inputs", "latency", "prompt_tokens", "completion_tokens", "cost",
              "finish_reason")
_SCORE_PREFIX = "score:"


class ExportError(Exception):
    """An export cannot be written (unknown format, unwritable file)."""


def _clean(obj: Any) -> Any:
    """JSON-safe copy: NaN/inf become null, tuples lists, unknown objects their str()."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


_LINE_BREAKS = (("\u2028", "\\u2028"), ("\u2029", "\\u2029"), ("\x85", "\\u0085"))


def sample_record_jsonl(row: dict[str, Any]) -> str:
    """One sample row as one line of JSON (no trailing newline): strict JSON, NaN written as null, and the
    characters some readers take for line breaks (U+2028, U+2029, U+0085) escaped."""
    text = json.dumps(_clean(row), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
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
        return json.dumps(_clean(value), ensure_ascii=False)
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


def write_jsonl(run_id: str, rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    """Sample rows as JSON lines, each with its `run_id`. Returns how many rows were written."""
    n = 0
    for row in rows:
        out.write(sample_record_jsonl({"run_id": run_id, **row}) + "\n")
        n += 1
    return n


def run_metric_names(results: Iterable[dict[str, Any]]) -> list[str]:
    """Every metric name of a run's results, in first-seen order."""
    names: dict[str, None] = {}
    for r in results:
        names.update(dict.fromkeys(r.get("metrics") or {}))
    return list(names)


def export_run(store: Store, run_id: str, fmt: str, out: TextIO) -> int:
    """Write run `run_id`'s samples to `out` as "csv" or "jsonl"; returns how many rows were written."""
    if fmt == "jsonl":
        return write_jsonl(run_id, store.iter_samples(run_id), out)
    if fmt == "csv":
        metrics = run_metric_names(store.get_run(run_id).results)
        return write_csv(run_id, store.iter_samples(run_id), metrics, out)
    raise ExportError(f"unknown export format {fmt!r}; use csv or jsonl")


# ---------------------------------------------------------------- JUnit


def _testcase_name(result: dict[str, Any]) -> tuple[str, str]:
    return f"evaldsl.{result['eval']}", str(result["model"])


def _metrics_text(result: dict[str, Any]) -> str:
    lines = [f"n = {result.get('n')}, errors = {result.get('errors', 0)}"]
    for name, m in (result.get("metrics") or {}).items():
        lines.append(f"{name} = {fmt_value(m.get('value'))} [{fmt_value(m.get('ci_low'))}, "
                     f"{fmt_value(m.get('ci_high'))}] n = {m.get('n')}"
                     + (f", {m['unscored']} unscored" if m.get("unscored") else ""))
    return "\n".join(lines)


def junit_tree(outcome_json: dict[str, Any]) -> ET.ElementTree:
    """The JUnit XML of a run outcome (`RunOutcome.to_json()` shape); see `write_junit`."""
    results = list(outcome_json.get("results") or [])
    asserts = list(outcome_json.get("asserts") or [])
    spec = str(outcome_json.get("spec") or "evaldsl")
    suite = ET.Element("testsuite", name=spec)
    props = ET.SubElement(suite, "properties")
    for key in ("run_id", "status", "spec"):
        ET.SubElement(props, "property", name=key, value=str(outcome_json.get(key) or ""))
    cases: dict[tuple[str, str], ET.Element] = {}

    def case(classname: str, name: str) -> ET.Element:
        if (classname, name) not in cases:
            cases[(classname, name)] = ET.SubElement(suite, "testcase", classname=classname, name=name,
                                                     time="0")
        return cases[(classname, name)]

    for r in results:
        tc = case(*_testcase_name(r))
        n, errors = int(r.get("n") or 0), int(r.get("errors") or 0)
        examples = "\n".join(r.get("error_examples", []))
        if n == 0:
            error = ET.SubElement(tc, "error", message="no samples were evaluated", type="no_samples")
            error.text = examples or "the dataset gave no samples"
        elif errors:
            message = f"{errors} of {n} samples failed"
            error = ET.SubElement(tc, "error", message=message, type="sample_errors")
            error.text = examples
        ET.SubElement(tc, "system-out").text = _metrics_text(r)
    for a in asserts:
        if a.get("passed"):
            continue
        tc = case(f"evaldsl.{a.get('eval')}", str(a.get("model")))
        text = f"assert {a.get('expr')} failed: value {fmt_value(a.get('value'))}"
        failure = ET.SubElement(tc, "failure", message=text, type="assert")
        failure.text = text
    if outcome_json.get("status") not in (None, "completed"):
        tc = case("evaldsl", "run")
        message = str(outcome_json.get("message") or f"run {outcome_json.get('status')}")
        ET.SubElement(tc, "error", message=message, type=str(outcome_json.get("status"))).text = message
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


def write_junit(outcome_json: dict[str, Any], path: Path) -> None:
    """JUnit XML for CI: one testcase per eval × model (classname `evaldsl.<eval>`, name = model), a
    <failure> per failed assert, an <error> when the eval × model had errors or no samples, and a testcase
    `run` with an <error> when the run itself failed or was interrupted. Raises ExportError if unwritable."""
    tree = junit_tree(outcome_json)
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tree.write(tmp, encoding="utf-8", xml_declaration=True)
        os.replace(tmp, path)
    except OSError as exc:
        raise ExportError(f"cannot write the JUnit report {path}: {exc.strerror or exc}") from None
