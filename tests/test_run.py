"""End-to-end `evaldsl run`: the litellm path against a local server, the cache, the run store, exit codes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl.cli.app import app
from tests.fakeserver import FakeOpenAIServer

ROWS = [
    {"question": "Capital of France?", "answer": "Paris"},
    {"question": "Capital of Japan?", "answer": "Tokyo"},
    {"question": "Largest planet?", "answer": "Jupiter"},
    {"question": "Author of Hamlet?", "answer": "Shakespeare"},
    {"question": "Chemical symbol for gold?", "answer": "Au"},
    {"question": "Boiling point of water in Celsius?", "answer": "100"},
]
ANSWERS = {f"Q: {r['question']}": r["answer"] for r in ROWS}
ANSWERS["Q: Largest planet?"] = "Saturn"  # one wrong answer


def write_spec(
    folder: Path,
    api_base: str,
    *,
    metrics: str = "[exact_match, f1]",
    extra: str = "",
    n: int = len(ROWS),
    model_extra: str = "",
    retries: int = 3,
) -> Path:
    data = folder / "qa.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in (ROWS * (n // len(ROWS) + 1))[:n]))
    spec = folder / "spec.eval"
    spec.write_text(f"""
dataset qa {{ path = "qa.jsonl" }}
model api {{
  provider = "litellm"
  id = "openai/test-model"
  api_base = "{api_base}"
  max_retries = {retries}
  timeout = 5
  {model_extra}
}}
prompt ask = "Q: {{{{ question }}}}"
eval quiz {{
  dataset = qa
  prompt  = ask
  models  = [api]
  target  = "{{{{ answer }}}}"
  metrics = {metrics}
  {extra}
}}
""")
    return spec


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def server(api_key: str):
    with FakeOpenAIServer(ANSWERS) as s:
        yield s


def test_run_json_results_and_cache(tmp_path: Path, server: FakeOpenAIServer) -> None:
    spec = write_spec(tmp_path, server.api_base)
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert set(data) >= {"run_id", "spec", "results", "asserts"}
    (result,) = data["results"]
    assert result["eval"] == "quiz" and result["model"] == "api"
    assert result["n"] == 6 and result["errors"] == 0
    em = result["metrics"]["exact_match"]
    assert em["value"] == pytest.approx(5 / 6)
    assert em["ci_low"] <= em["value"] <= em["ci_high"]
    assert server.count == 6
    # An unchanged re-run makes zero model requests.
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    assert code == 0 and server.count == 6
    assert json.loads(out)["results"][0]["metrics"]["exact_match"]["value"] == pytest.approx(5 / 6)
    # Changing only the metrics re-scores from the cache.
    write_spec(tmp_path, server.api_base, metrics="[exact_match, contains, rougeL]")
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    assert code == 0 and server.count == 6
    assert set(json.loads(out)["results"][0]["metrics"]) == {"exact_match", "contains", "rougeL"}
    # --no-cache forces the calls again.
    code, _, _ = run_cli("run", str(spec), "--format", "json", "--no-cache")
    assert code == 0 and server.count == 12


def test_bootstrap_ci_is_seeded(tmp_path: Path, server: FakeOpenAIServer) -> None:
    spec = write_spec(tmp_path, server.api_base)
    first = json.loads(run_cli("run", str(spec), "--format", "json")[1])["results"][0]["metrics"]
    second = json.loads(run_cli("run", str(spec), "--format", "json")[1])["results"][0]["metrics"]
    assert first == second


def test_asserts_gate_the_exit_code(tmp_path: Path, server: FakeOpenAIServer) -> None:
    spec = write_spec(tmp_path, server.api_base, extra="assert mean(exact_match) >= 0.9")
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    assert code == 1
    (a,) = json.loads(out)["asserts"]
    assert a == {
        "eval": "quiz",
        "model": "api",
        "expr": "mean(exact_match) >= 0.9",
        "value": pytest.approx(5 / 6),
        "status": "fail",
        "passed": False,
    }
    write_spec(tmp_path, server.api_base, extra="assert mean(exact_match) > 0.8")
    assert run_cli("run", str(spec), "--format", "json")[0] == 0


def test_compile_error_exits_2(tmp_path: Path) -> None:
    spec = tmp_path / "bad.eval"
    spec.write_text("eval x { dataset = nowhere }\n")
    code, _, err = run_cli("run", str(spec))
    assert code == 2
    assert "bad.eval:1:" in err and "Traceback" not in err


def test_transient_faults_are_retried(tmp_path: Path, server: FakeOpenAIServer) -> None:
    spec = write_spec(tmp_path, server.api_base)
    server.fail_next(2, "429", retry_after=0)
    server.fail_next(1, "500", retry_after=0)
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    assert code == 0
    result = json.loads(out)["results"][0]
    assert result["errors"] == 0 and result["metrics"]["exact_match"]["n"] == 6
    assert server.count == 9


def test_persistent_errors_are_counted_not_scored(tmp_path: Path, server: FakeOpenAIServer) -> None:
    spec = write_spec(tmp_path, server.api_base)
    server.fail_next(1, "401")  # not retryable: that sample fails, the others run
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    data = json.loads(out)
    result = data["results"][0]
    assert code == 3 and data["status"] == "failed"  # by default any error fails its eval
    assert result["errors"] == 1 and result["status"] == "failed"
    assert result["metrics"]["exact_match"]["n"] == 5  # the failed sample is not scored as 0
    [group] = result["error_summary"]
    assert group["stage"] == "model" and group["count"] == 1 and "401" in group["reason"]
    server.fail_next(1, "401")
    code, out, _ = run_cli("run", str(spec), "--format", "json", "--max-error-rate", "0.2", "--no-cache")
    data = json.loads(out)
    assert code == 0 and data["status"] == "partial" and "within" in data["message"]
    assert data["results"][0]["status"] == "partial" and data["results"][0]["max_error_rate"] == 0.2


def test_max_errors_aborts_cleanly(tmp_path: Path, server: FakeOpenAIServer) -> None:
    spec = write_spec(tmp_path, server.api_base, model_extra="concurrency = 1")
    server.fail_next(6, "401")
    code, out, err = run_cli("run", str(spec), "--format", "json", "--max-errors", "2")
    assert code == 3
    data = json.loads(out)
    assert data["status"] == "failed" and "max-errors" in data["message"]
    assert "max-errors" in err


def test_unreachable_model_exits_3(tmp_path: Path, api_key: str) -> None:
    spec = write_spec(tmp_path, "http://127.0.0.1:9/v1", retries=0)
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    assert code == 3
    data = json.loads(out)
    assert data["status"] == "failed" and "6 of 6 samples failed" in data["message"]
    result = data["results"][0]
    assert result["errors"] == 6 and result["metrics"]["exact_match"]["n"] == 0
    [group] = result["error_summary"]
    assert group["count"] == 6 and ("127.0.0.1:9" in group["reason"] or "onnect" in group["reason"])


def test_store_location_and_no_secrets(
    tmp_path: Path, server: FakeOpenAIServer, api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_spec(tmp_path, server.api_base)
    home = tmp_path / "home"
    monkeypatch.setenv("EVALDSL_HOME", str(home))
    assert run_cli("run", str(spec), "--format", "json")[0] == 0
    db = home / "evaldsl.db"
    assert db.is_file() and not (tmp_path / ".evaldsl").exists()
    for f in home.iterdir():
        assert api_key.encode() not in f.read_bytes()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        (n,) = con.execute("SELECT COUNT(*) FROM samples").fetchone()
    assert n == 6


def test_killed_run_resumes_from_the_cache(tmp_path: Path, api_key: str) -> None:
    with FakeOpenAIServer(latency=0.05) as slow:
        spec = write_spec(tmp_path, slow.api_base, n=60, model_extra="concurrency = 2")
        env = {**os.environ, "OPENAI_API_KEY": api_key}
        proc = subprocess.Popen(
            [sys.executable, "-m", "evaldsl", "run", str(spec), "--format", "json"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while slow.count < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        answered = slow.count
        assert 0 < answered < 60
        code, out, _ = run_cli("run", str(spec), "--format", "json")
        assert code == 0
        result = json.loads(out)["results"][0]
        assert result["n"] == 60 and result["errors"] == 0
        # Only the requests that had not been answered (and cached) before the kill are made again; a few
        # answered in the very last moment may not have reached the cache.
        assert slow.count - answered <= 60 - answered + 2
        assert slow.count < 60 + 2 + 2
