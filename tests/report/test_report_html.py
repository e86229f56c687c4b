"""The HTML report as a file: self-contained, escaped, with the data the browser script needs (no browser)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from evaldsl.report.html import ReportError, axis_range, browser_data, render_report, write_report
from evaldsl.store import RunRecord, Store
from tests.report.conftest import XSS


class _Page(HTMLParser):
    """Collects scripts (attributes + text), elements with src/href, and every tag name."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.links: list[str] = []
        self.tags: list[str] = []
        self._in_script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        for key in ("src", "href"):
            if found.get(key):
                self.links.append(str(found[key]))
        if tag == "script":
            self._in_script = found

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            self.scripts.append((self._in_script, data))
            self._in_script = None


@pytest.fixture
def page(make_run, store_dir: Path, tmp_path: Path) -> tuple[str, _Page]:
    outcome = make_run()
    target = tmp_path / "r.html"
    with Store(store_dir) as store:
        info = write_report(store, [outcome.run_id], target)
    assert info.samples == 120 and info.items == 60 and info.bytes == target.stat().st_size
    text = target.read_text(encoding="utf-8")
    parser = _Page()
    parser.feed(text)
    return text, parser


def test_self_contained_and_escaped(page: tuple[str, _Page]) -> None:
    text, parsed = page
    assert parsed.links == ["data:,"]  # the empty favicon; nothing else is fetched
    assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text
    assert len(parsed.scripts) == 2  # the data and the browser script: the XSS payload made no script tag
    assert "<script>alert(1)" not in text and "<img src=x" not in text and "<b>fine" not in text
    assert "img" not in parsed.tags and "b" in parsed.tags  # <b> only from the page's own notes


def test_embedded_data_round_trips(page: tuple[str, _Page]) -> None:
    _, parsed = page
    (attrs, payload), (_, script) = parsed.scripts
    assert attrs == {"type": "application/json", "id": "evaldsl-data"}
    data = json.loads(payload)
    assert [c["label"] for c in data["cols"]] == ["good", "worse"]
    assert data["evals"] == ["qa"] and data["rows"] == 120 and len(data["items"]) == 60
    assert data["metrics"] == ["exact_match", "f1", "correctness"]  # bleu has no per-sample score
    item7 = data["items"][7]
    outputs = {data["cols"][o["c"]]["model"]: o for o in item7["o"]}
    assert outputs["worse"]["o"] == XSS and outputs["good"]["o"] == "14"
    assert outputs["good"]["j"][0]["calls"][0]["why"] == "Looks <b>fine</b> to me."
    assert data["items"][5]["o"][1]["err"].startswith("mock response template failed")
    assert "textContent" in script and "innerHTML" not in script


def test_csp_allows_only_the_page_script(page: tuple[str, _Page]) -> None:
    text, parsed = page
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert csp is not None
    script = parsed.scripts[1][1]
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    policy = html.unescape(csp.group(1))
    assert f"script-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy


def test_summary_and_one_chart_per_metric(page: tuple[str, _Page]) -> None:
    text, _ = page
    summary = text[text.index('id="summary-table"'):text.index("</table>", text.index('id="summary-table"'))]
    assert summary.count("<tr") == 1 + 8  # header + 2 models x 4 metrics
    assert '<td class="num bad">1</td>' in summary  # worse has 1 error
    charts = re.findall(r'data-metric="([^"]+)"', text)
    assert charts == ["exact_match", "f1", "bleu", "correctness"]
    assert text.count("<svg") == 4 and text.count('class="dot"') == 8
    assert "FAIL</b> qa · worse" in text and "PASS</b> qa · good" in text


def test_several_runs_become_side_by_side_columns(make_run, store_dir: Path) -> None:
    a = make_run(judge=False)
    b = make_run(models="good", judge=False, name="other")
    with Store(store_dir) as store:
        records = [store.get_run(a.run_id), store.get_run(b.run_id)]
        data = browser_data(records, [store.iter_samples(r.id) for r in records])
    assert [c["label"] for c in data["cols"]] == ["A · good", "A · worse", "B · good"]
    assert len(data["items"]) == 60 and all(len(item["o"]) == 3 for item in data["items"])


def test_empty_report_is_an_error() -> None:
    with pytest.raises(ReportError):
        render_report([], [])


def test_run_without_samples_renders() -> None:
    record = RunRecord("r", "failed", "t", None, {"models": ["m"]}, (), (), {"message": "model m: <down>"})
    text = render_report([record], [[]])
    assert "model m: &lt;down&gt;" in text and "No metric values" in text


@pytest.mark.parametrize(("values", "expected"), [
    ([0.2, 0.9], (0.0, 1.0, 0.2)),
    ([3.0, 4.0, 4.5], (3.0, 4.5, 0.5)),
    ([12.0, 87.0], (0.0, 100.0, 20.0)),
    ([35.2, 35.9], (35.2, 36.0, 0.2)),  # perplexities: zero is far away, keep the differences visible
    ([4.0, 4.0], (3.6, 4.4, 0.2)),
    ([-0.5, 0.25], (-0.6, 0.4, 0.2)),
])
def test_axis_range(values: list[float], expected: tuple[float, float, float]) -> None:
    assert axis_range(values) == pytest.approx(expected)
