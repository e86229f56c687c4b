"""The HTML report in headless Chromium (DevTools protocol): renders, filters, pages, escapes, no errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from evaldsl.report.html import write_report
from evaldsl.store import Store
from tests.report.cdp import CHROMIUM, Browser
from tests.report.conftest import XSS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (Debian: apt-get install chromium)"
)
pytest.importorskip("websocket", reason="the browser test drives Chromium with websocket-client")

# Installed before the page's own scripts: records alert() calls instead of opening dialogs.
TRAP = "window.__alerts = []; window.alert = function (m) { window.__alerts.push(String(m)); };"


@pytest.fixture
def browser(make_run, store_dir: Path, tmp_path: Path) -> Iterator[Browser]:
    outcome = make_run()
    target = tmp_path / "report.html"
    with Store(store_dir) as store:
        write_report(store, [outcome.run_id], target)
    with Browser() as b:
        b.call("Page.addScriptToEvaluateOnNewDocument", {"source": TRAP})
        b.navigate(target.as_uri())
        yield b


def _matches(b: Browser) -> int:
    return int(b.evaluate("document.getElementById('sample-count').getAttribute('data-matches')"))


def _set(b: Browser, element_id: str, value: Any, event: str = "change") -> None:
    prop = "checked" if isinstance(value, bool) else "value"
    b.evaluate(f"(function () {{ var e = document.getElementById({json.dumps(element_id)}); "
               f"e.{prop} = {json.dumps(value)}; e.dispatchEvent(new Event({json.dumps(event)})); }})()")


def test_report_in_headless_chromium(browser: Browser) -> None:
    b = browser
    assert b.evaluate("document.body.getAttribute('data-ready')") is not None  # the script ran (CSP hash ok)
    assert b.evaluate("document.querySelectorAll('#summary-table tbody tr').length") == 8
    assert b.evaluate("document.querySelectorAll('svg.chart').length") == 4
    assert b.evaluate("document.querySelectorAll('svg.chart circle.dot').length") == 8
    assert b.evaluate("document.querySelector('svg.chart').getBoundingClientRect().width") > 100
    assert b.evaluate("document.querySelectorAll('#samples-table tbody tr.item').length") == 25
    headers = b.evaluate("Array.from(document.querySelectorAll('#samples-table thead th'))"
                         ".map(function (t) { return t.textContent; })")
    assert headers == ["#", "eval", "prompt", "good", "worse"]
    assert _matches(b) == 60

    # Filters: errors only; a metric range within one model; the search box (debounced).
    _set(b, "f-errors", True)
    assert _matches(b) == 1
    assert b.evaluate("document.querySelector('#samples-table tbody tr.item td').textContent") == "5"
    _set(b, "f-errors", False)
    _set(b, "f-metric", "exact_match")
    _set(b, "f-max", "0", "input")
    assert _matches(b) == 21  # worse is wrong on rows 0, 3, ..., 57 and on row 7
    _set(b, "f-col", "0")  # only `good`: never wrong
    assert _matches(b) == 0
    assert "no sample matches" in b.evaluate("document.getElementById('sample-count').textContent")
    _set(b, "f-min", "1", "input")
    _set(b, "f-max", "", "input")
    assert _matches(b) == 60
    _set(b, "f-col", "-1")
    _set(b, "f-metric", "")
    _set(b, "f-eval", "0")
    _set(b, "f-search", "onerror=alert", "input")
    b.evaluate("new Promise(function (r) { setTimeout(r, 400); })")
    assert _matches(b) == 1

    # Open the row with the HTML payload: shown as text, nothing executed or injected.
    b.evaluate("document.querySelector('#samples-table tbody tr.item').click()")
    pres = b.evaluate("Array.from(document.querySelectorAll('.detail pre')).map(function (p) "
                      "{ return p.textContent; })")
    assert XSS in pres and "Looks <b>fine</b> to me." in pres
    assert b.evaluate("document.querySelectorAll('img, .detail b:not(.judge b)').length") == 0
    assert b.evaluate("window.__alerts") == []

    # Paging over everything.
    _set(b, "f-search", "", "input")
    b.evaluate("new Promise(function (r) { setTimeout(r, 400); })")
    b.evaluate("document.getElementById('p-next').click()")
    assert b.evaluate("document.getElementById('sample-count').textContent").startswith("samples 26–50 of 60")
    b.evaluate("document.getElementById('p-last').click()")
    assert b.evaluate("document.querySelectorAll('#samples-table tbody tr.item').length") == 10
    assert b.evaluate("document.getElementById('p-next').disabled") is True
    assert b.console_errors() == []
