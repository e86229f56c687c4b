"""The CI-gate contract end to end: sample errors fail their eval unless tolerated, an assert never passes on a
failed eval, every outcome is one JSON object with a status and a message, interrupted and failed runs are
stored as such, prompt A/B diffs pair every row, and one rule finds the store."""

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
from evaldsl.store import Store
from tests.fakeserver import FakeOpenAIServer

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def write(folder: Path, spec: str, rows: list[dict[str, object]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    path = folder / "spec.eval"
    path.write_text(spec, encoding="utf-8")
    return path


# 15 rows; `n` is 0 on 10 of them, so `10 // n` cannot be rendered there.
ROWS = [{"q": f"question {i}", "answer": f"a{i}", "n": 0 if i < 10 else 1} for i in range(15)]

RENDER_FAILS = """
dataset d {{ path = "data.jsonl" }}
model oracle {{ provider = "mock", response = "{{{{ answer }}}}" }}
eval qa {{
  dataset = d
  prompt  = "{{{{ q }}}} ({{{{ 10 // n }}}})"
  models  = [oracle]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match]
  {extra}
  assert mean(exact_match) >= 0.5
}}
"""


def test_render_errors_fail_the_eval_and_its_assert_is_an_error(tmp_path: Path) -> None:
    spec = write(tmp_path, RENDER_FAILS.format(extra=""), ROWS)
    code, out, err = run_cli("run", str(spec), "--format", "json")
    data = json.loads(out)
    assert code == 3 and data["status"] == "failed" and "10 of 15 samples failed" in data["message"]
    [result] = data["results"]
    assert result["status"] == "failed" and result["errors"] == 10 and result["metrics"]["exact_match"]["n"] == 5
    [group] = result["error_summary"]
    assert group["stage"] == "render" and group["count"] == 10 and "ZeroDivisionError" in group["reason"]
    assert group["example"] == 0 and data["error_summary"][0]["eval"] == "qa"
    [check] = data["asserts"]
    assert check["status"] == "error" and check["passed"] is False and "10 of 15" in check["reason"]
    assert "stored as run" in err.strip().splitlines()[-1]
    with Store(tmp_path / ".evaldsl") as store:
        [info] = store.list_runs()
        assert info.status == "failed"
        errors = [(s.error_stage, s.error) for s in store.iter_samples(info.id) if s.error]
    assert len(errors) == 10 and all(stage == "render" for stage, _ in errors)


def test_a_tolerated_share_of_errors_gives_a_partial_run_whose_asserts_count(tmp_path: Path) -> None:
    spec = write(tmp_path, RENDER_FAILS.format(extra="max_error_rate = 0.7"), ROWS)
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "partial" and "within" in data["message"]
    assert data["results"][0]["status"] == "partial" and data["asserts"][0]["status"] == "pass"
    code, out, _ = run_cli("run", str(spec), "--format", "json", "--max-error-rate", "0.5")  # the CLI overrides
    assert code == 3 and json.loads(out)["status"] == "failed"


def test_the_table_shows_errors_grouped_by_reason(tmp_path: Path) -> None:
    spec = write(tmp_path, RENDER_FAILS.format(extra=""), ROWS)
    code, out, _ = run_cli("run", str(spec))
    assert code == 3
    assert "10× render: ZeroDivisionError" in out and "(e.g. sample 0)" in out
    assert "ERROR qa · oracle: mean(exact_match) >= 0.5" in out and "PASS" not in out
    assert out.strip().splitlines()[-1].startswith("stored as run ")


def test_judge_failures_are_errors_with_their_reason(tmp_path: Path) -> None:
    spec = write(tmp_path, """
dataset d { path = "data.jsonl" }
model oracle { provider = "mock", response = "{{ answer }}" }
model grader { provider = "mock", response = "{\\"reasoning\\": \\"ok\\", \\"score\\": 4}" }
judge strict { model = grader, rubric = "Grade it ({{ 10 // n }})." }
eval qa {
  dataset = d
  prompt  = "{{ q }}"
  models  = [oracle]
  target  = "{{ answer }}"
  metrics = [exact_match, strict]
  max_error_rate = 1
}
""", ROWS)
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    data = json.loads(out)
    [result] = data["results"]
    assert code == 0 and data["status"] == "partial" and result["errors"] == 10
    [group] = result["error_summary"]
    assert group["stage"] == "judge" and "judge strict: rubric or reference" in group["reason"]
    assert "ZeroDivisionError" in group["reason"]
    strict = result["metrics"]["strict"]
    assert strict["n"] == 5 and strict["unscored"] == 0 and strict["value"] == 4.0 and strict["range"] == [1, 5]


def test_missing_hf_model_is_one_line_and_a_stored_failed_run(tmp_path: Path) -> None:
    spec = write(tmp_path, """
dataset d { path = "data.jsonl" }
model candidate { provider = "hf", id = "./checkpoints/step-4000" }
eval qa { dataset = d, prompt = "{{ q }}", models = [candidate], target = "{{ answer }}", metrics = [exact_match] }
""", ROWS)
    proc = subprocess.run([sys.executable, "-m", "evaldsl", "run", str(spec), "--format", "json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object
    assert data["status"] == "failed" and "model candidate" in data["message"]
    assert "checkpoints/step-4000 does not exist" in data["message"]
    with Store(tmp_path / ".evaldsl") as store:
        assert [r.status for r in store.list_runs()] == ["failed"]


def test_unreadable_weights_are_one_line_too(tmp_path: Path) -> None:
    broken = tmp_path / "ckpt"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    spec = write(tmp_path, """
dataset d { path = "data.jsonl" }
model candidate { provider = "hf", id = "ckpt" }
eval qa { dataset = d, prompt = "{{ q }}", models = [candidate], target = "{{ answer }}", metrics = [exact_match] }
""", ROWS)
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    data = json.loads(out)
    assert code == 3 and data["status"] == "failed" and data["message"].startswith("model candidate")
    assert "\n" not in data["message"] and "Traceback" not in data["message"]


def test_a_store_that_cannot_be_opened_still_gives_one_json_object(tmp_path: Path) -> None:
    spec = write(tmp_path, RENDER_FAILS.format(extra=""), ROWS)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    code, out, _ = run_cli("run", str(spec), "--format", "json", "--store", str(blocker))
    data = json.loads(out)
    assert code == 3 and data["status"] == "failed" and data["run_id"] is None and "not a directory" in data["message"]


def test_ctrl_c_stores_an_interrupted_run(tmp_path: Path, api_key: str) -> None:
    rows = [{"q": f"question {i}", "answer": f"a{i}", "n": 1} for i in range(40)]
    with FakeOpenAIServer(latency=0.2) as slow:
        spec = write(tmp_path, f"""
dataset d {{ path = "data.jsonl" }}
model api {{ provider = "litellm", id = "openai/test", api_base = "{slow.api_base}", concurrency = 2 }}
eval qa {{ dataset = d, prompt = "{{{{ q }}}}", models = [api], target = "{{{{ answer }}}}", metrics = [f1] }}
""", rows)
        proc = subprocess.Popen([sys.executable, "-m", "evaldsl", "run", str(spec), "--format", "json"],
                                cwd=tmp_path, env={**os.environ, "OPENAI_API_KEY": api_key},
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while slow.count < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3 and "Traceback" not in err
    data = json.loads(out)
    assert data["status"] == "interrupted" and "SIGINT" in data["message"]
    with sqlite3.connect(tmp_path / ".evaldsl" / "evaldsl.db") as con:
        assert con.execute("SELECT status FROM runs").fetchall() == [("interrupted",)]


# ---------------------------------------------------------------- diffs pair by row


def _prompt_spec(system: str) -> str:
    return f"""
dataset d {{ path = "data.jsonl" }}
model m {{ provider = "mock", response = "{{{{ answer }}}}{{% if n == 0 %}} maybe{{% endif %}}" }}
prompt p {{ system = "{system}", user = "{{{{ q }}}}" }}
eval qa {{ dataset = d, prompt = p, models = [m], target = "{{{{ answer }}}}", metrics = [exact_match, f1] }}
"""


def test_prompt_a_b_diff_pairs_every_row_and_says_what_differs(tmp_path: Path) -> None:
    a = write(tmp_path / "a", _prompt_spec("Be brief."), ROWS)
    b = write(tmp_path / "b", _prompt_spec("Answer with one word."), ROWS)
    store = str(tmp_path / "store")
    run_a = json.loads(run_cli("run", str(a), "--format", "json", "--store", store)[1])["run_id"]
    run_b = json.loads(run_cli("run", str(b), "--format", "json", "--store", store)[1])["run_id"]
    code, out, _ = run_cli("diff", run_a, run_b, "--store", store, "--format", "json")
    data = json.loads(out)
    assert code == 0
    assert {m["metric"]: m["n_paired"] for m in data["metrics"]} == {"exact_match": 15, "f1": 15}
    assert data["changes"] == [{"eval": "qa", "model": "m", "differs": ["prompt"]}]
    code, out, _ = run_cli("diff", run_a, run_b, "--store", store)
    assert "qa · m: prompt differ" in out.replace("\n", " ") or "prompt differ" in out


# ---------------------------------------------------------------- one store rule


def test_one_store_rule_for_run_and_the_result_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)  # a git work tree: the store goes to its root
    spec = write(repo / "specs", RENDER_FAILS.format(extra="max_error_rate = 1"), ROWS)
    monkeypatch.chdir(repo / "specs")
    code, out, err = run_cli("run", str(spec), "--format", "json")
    assert code == 0 and json.loads(out)["store"] == str(repo / ".evaldsl")
    assert err.strip().splitlines()[-1].endswith(f"in {repo / '.evaldsl'}")
    monkeypatch.chdir(repo)  # the result commands find it from the root...
    assert json.loads(run_cli("runs", "--format", "json")[1])[0]["spec"] == str(spec)
    deep = repo / "docs" / "deep"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)  # ... and from any folder below it
    assert run_cli("show", "latest")[0] == 0
    monkeypatch.setenv("EVALDSL_HOME", str(tmp_path / "home"))  # $EVALDSL_HOME wins over the nearest store
    code, out, _ = run_cli("run", str(spec), "--format", "json")
    assert json.loads(out)["store"] == str(tmp_path / "home")


def test_outside_git_the_store_is_beside_the_spec(tmp_path: Path) -> None:
    spec = write(tmp_path / "project", RENDER_FAILS.format(extra="max_error_rate = 1"), ROWS)
    assert json.loads(run_cli("run", str(spec), "--format", "json")[1])["store"] == str(spec.parent / ".evaldsl")
