"""Bounded execution: a spec cannot hang or exhaust the runner. Runaway templates, huge values, backtracking
regexes and slow user metrics become sample errors with their reason, in bounded time."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.cli.app import app
from evaldsl.compile.templating import TemplateError, evaluate, render
from evaldsl.limits import LimitExceeded, time_limit, time_limit_each

ROWS = [{"q": f"question {i}", "answer": "a" * 41 + "b"} for i in range(3)]


def run_json(folder: Path, spec: str, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (folder / "spec.eval").write_text(spec)
    result = CliRunner().invoke(app, ["run", str(folder / "spec.eval"), "--format", "json", *args])
    return result.exit_code, json.loads(result.stdout)


def spec_with(prompt: str, metrics: str = "[exact_match]", extra: str = "") -> str:
    return f"""
dataset d {{ path = "data.jsonl" }}
model m {{ provider = "mock", response = "{{{{ answer }}}}" }}
{extra}
eval e {{ dataset = d, prompt = {json.dumps(prompt)}, models = [m], target = "{{{{ answer }}}}", metrics = {metrics} }}
"""


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "range items"),
        ("{{ 'x' * 10**9 }}", "would build a value of 1,000,000,000 items"),
        ("{{ 10 ** 1000000 }}", "`**` would build an integer"),
        ("{% for i in range(200000) %}0123456789{% endfor %}", "more than 1,000,000 characters"),
    ],
)
def test_runaway_templates_are_sample_errors(tmp_path: Path, template: str, reason: str) -> None:
    started = time.monotonic()
    code, data = run_json(tmp_path, spec_with("{{ q }} " + template))
    assert time.monotonic() - started < 30
    [group] = data["results"][0]["error_summary"]
    assert code == 3 and group["stage"] == "render" and group["count"] == 3 and reason in group["reason"]


def test_a_template_that_runs_too_long_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("evaldsl.run.samples.RENDER_SECONDS", 0.3)
    slow = "{% for c in q * 1000 %}{% for d in q * 1000 %}{% endfor %}{% endfor %}"  # no range, no output
    started = time.monotonic()
    code, data = run_json(tmp_path, spec_with(slow))
    assert time.monotonic() - started < 20
    [group] = data["results"][0]["error_summary"]
    assert code == 3 and group["count"] == 3 and "rendering the sample took longer than 0.3 s" in group["reason"]


def test_a_slow_python_metric_is_stopped_per_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("evaldsl.run.scoring.METRIC_SECONDS", 0.3)
    (tmp_path / "slow.py").write_text("def score(prediction, references, row):\n    while True:\n        pass\n")
    code, data = run_json(tmp_path, spec_with("{{ q }}", "[exact_match, forever]",
                                              'metric forever = python("slow:score")'))  # fmt: skip
    result = data["results"][0]
    [group] = result["error_summary"]
    assert code == 3 and group["stage"] == "metric" and "metric forever took longer than 0.3 s" in group["reason"]
    assert result["metrics"]["exact_match"]["n"] == 3  # other metrics still score those samples


def test_a_backtracking_regex_does_not_hang(tmp_path: Path) -> None:
    started = time.monotonic()
    code, data = run_json(tmp_path, spec_with("{{ q }}", "[trap]", 'metric trap = regex(pattern = "^(a+)+$")'))
    assert time.monotonic() - started < 30 and code == 0
    assert data["results"][0]["metrics"]["trap"]["value"] == 0.0


def test_render_and_evaluate_limits_in_process() -> None:
    with pytest.raises(TemplateError, match="range items"):
        evaluate("range(2000000) | list", {})
    assert render("{{ [1, 2] * 3 }}", {}) == "[1, 2, 1, 2, 1, 2]"  # small values are fine
    assert render("{{ 2 ** 64 }}", {}) == str(2**64)
    with pytest.raises(LimitExceeded, match="spinning took longer than 0.2 s"), time_limit(0.2, "spinning"):
        while True:
            pass


def test_checking_a_huge_constant_expression_costs_nothing(tmp_path: Path) -> None:
    spec = tmp_path / "spec.eval"
    spec.write_text(spec_with("{{ q }} {{ 'x' * 10**9 }} {{ 9 ** 9 ** 9 }}"))
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    # Peak memory of this process image (VmHWM; ru_maxrss would include the forked parent's pages).
    code = (
        "import re, sys\nfrom evaldsl import api\nr = api.check(sys.argv[1])\n"
        "print(r.ok, re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(spec)], capture_output=True, text=True, timeout=120)
    ok, rss_kib = out.stdout.split()
    assert ok == "True" and int(rss_kib) < 400_000, out.stderr  # no constant folding: well under 400 MB
    assert api.check(spec).ok


def test_a_time_limit_restores_the_previous_handler_and_nests() -> None:
    import signal

    seen: list[int] = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: seen.append(signum))
    try:
        with time_limit(5.0, "outer"):
            assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 5.0
            with time_limit(0.1, "inner"):  # an outer limit is set: the inner one does nothing
                time.sleep(0.2)
        assert signal.getitimer(signal.ITIMER_REAL)[0] == 0  # disarmed on exit
        signal.setitimer(signal.ITIMER_REAL, 0.05)  # the caller's own handler is back in place
        time.sleep(0.2)
        assert seen == [signal.SIGALRM]
        with pytest.raises(LimitExceeded, match="the second took longer"), time_limit(0.1, "the second"):
            time.sleep(1)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def test_a_limit_for_each_item_gives_every_item_its_own_time() -> None:
    import signal

    previous = signal.getsignal(signal.SIGALRM)
    outcomes: list[str] = []
    with time_limit_each(0.3, "item") as limit:
        for seconds in (0.2, 0.2, 5.0, 0.2):  # together far over 0.3 s; only the third is over on its own
            try:
                limit.arm()
                time.sleep(seconds)
                outcomes.append("done")
            except LimitExceeded as exc:
                outcomes.append(str(exc))
            finally:
                limit.disarm()
            assert signal.getitimer(signal.ITIMER_REAL)[0] == 0  # nothing runs between items
    assert outcomes == ["done", "done", "item took longer than 0.3 s", "done"]
    assert signal.getsignal(signal.SIGALRM) is previous
    with time_limit(5.0, "outer"), time_limit_each(0.1, "inner") as inner:  # inside an outer limit: no effect
        inner.arm()
        time.sleep(0.2)
        inner.disarm()
        assert 0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 5.0
