"""Benchmark: a run of N samples (mock models) in; out: the HTML report's size, the time to write it, and the
time headless Chromium takes to load and render it (and to filter it). `python bench/report_size.py`."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evaldsl import api  # noqa: E402
from evaldsl.report.html import write_report  # noqa: E402
from evaldsl.run.runner import RunConfig, run_graph  # noqa: E402
from evaldsl.store.sqlite import Store  # noqa: E402

SPEC = """
dataset d { path = "data.jsonl" }
model good { provider = "mock"
  response = "The answer is {{ answer }}." }
model other { provider = "mock"
  response = "I think it is {{ alt }}, because {{ context[:80] }}" }
model judgebot { provider = "mock"
  response = "{\\"reasoning\\": \\"States the key fact; matches the reference.\\", \\"score\\": 4}" }
judge quality { model = judgebot
  rubric = "Is the response correct and concise?"
  scale = [1, 5] }
prompt p {
  system = "Answer the question from the context in one sentence."
  user   = "Context: {{ context }}\\nQuestion: {{ question }}"
}
eval qa {
  dataset = d
  prompt  = p
  models  = [good, other]
  target  = "{{ answer }}"
  metrics = [exact_match, f1, contains, quality]
}
"""

WORDS = ("river", "mountain", "history", "science", "city", "language", "market", "island", "engine",
         "garden", "theory", "ocean", "music", "forest", "bridge", "planet")


def write_data(folder: Path, n: int) -> None:
    with (folder / "data.jsonl").open("w", encoding="utf-8") as f:
        for i in range(n):
            words = [WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(40)]
            answer = f"{WORDS[i % len(WORDS)]} {i}"
            row = {"question": f"Which {words[0]} is mentioned in passage {i}?",
                   "context": " ".join(words) + f". The {answer} appears here.", "answer": answer,
                   "alt": answer if i % 4 else f"{WORDS[(i + 1) % len(WORDS)]} {i}"}
            f.write(json.dumps(row) + "\n")


# Timed inside the page: a metric-range filter over every sample (select + max box), and one page turn.
FILTER_JS = """(function () {
  var t = performance.now();
  var s = document.getElementById('f-metric'); s.value = 'exact_match'; s.dispatchEvent(new Event('change'));
  var m = document.getElementById('f-max'); m.value = '0'; m.dispatchEvent(new Event('input'));
  return performance.now() - t; })()"""
PAGE_JS = """(function () {
  var t = performance.now(); document.getElementById('p-next').click(); return performance.now() - t; })()"""


def browser_timings(report: Path, repeats: int) -> dict[str, float]:
    from tests.report.cdp import Browser

    loads, ready, fcp, dcl, filters, pages = [], [], [], [], [], []
    with Browser(timeout_s=120) as b:
        for _ in range(repeats):
            loads.append(b.navigate(report.as_uri()) * 1000)
            nav = b.evaluate("JSON.stringify(performance.getEntriesByType('navigation')[0])")
            dcl.append(json.loads(nav)["domContentLoadedEventEnd"])
            paint = b.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime")
            fcp.append(float(paint or "nan"))
            ready.append(float(b.evaluate("document.body.getAttribute('data-ready')")))
            filters.append(b.evaluate(FILTER_JS))
            pages.append(b.evaluate(PAGE_JS))
        errors = b.console_errors()
    if errors:
        raise SystemExit(f"console errors in the report: {errors[:3]}")
    med = statistics.median
    return {"load_event_ms": med(loads), "dom_content_loaded_ms": med(dcl),
            "first_contentful_paint_ms": med(fcp), "first_rows_rendered_ms": med(ready),
            "metric_filter_ms": med(filters), "page_turn_ms": med(pages)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=5000, help="dataset rows (each run by 2 models)")
    parser.add_argument("--repeats", type=int, default=3, help="page loads to take the median of")
    parser.add_argument("--keep", type=Path, default=None, help="also copy the report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_data(folder, args.rows)
        (folder / "bench.eval").write_text(SPEC, encoding="utf-8")
        started = time.perf_counter()
        graph = api.compile(folder / "bench.eval")
        outcome = asyncio.run(run_graph(graph, RunConfig(store_dir=folder / "store")))
        run_s = time.perf_counter() - started
        report = folder / "report.html"
        started = time.perf_counter()
        with Store(folder / "store") as store:
            info = write_report(store, [outcome.run_id], report)
        write_s = time.perf_counter() - started
        print(f"run: {args.rows} rows x 2 models = {info.samples} sample rows ({run_s:.1f} s, mock models)")
        print(f"report: {info.bytes / 1e6:.2f} MB ({info.bytes} bytes), written in {write_s:.2f} s")
        chromium = Path("/usr/bin/chromium")
        if not chromium.exists():
            print("headless Chromium timings skipped: /usr/bin/chromium is missing")
        else:
            for name, value in browser_timings(report, args.repeats).items():
                print(f"chromium {name}: {value:.0f}")
        if args.keep:
            args.keep.write_bytes(report.read_bytes())


if __name__ == "__main__":
    main()
