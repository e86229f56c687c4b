"""Fixtures for the result commands: specs with mock models run by the real runner into a temporary store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer

from evaldsl import api
from evaldsl.cli.results import register
from evaldsl.results import RunResult
from evaldsl.run.runner import RunConfig

XSS = "<script>alert(1)</script><img src=x onerror=alert(2)>"
N_ROWS = 60


def write_data(folder: Path, n: int = N_ROWS) -> Path:
    """n QA rows; `bad` is wrong on every third row, holds an HTML/JS payload on row 7, is missing on row 5
    (a mock answering `{{ bad }}` then fails with an error on that row)."""
    path = folder / "data.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            row: dict[str, Any] = {"question": f"What is {i} + {i}?", "answer": str(2 * i),
                                   "bad": "wrong" if i % 3 == 0 else str(2 * i)}
            if i == 7:
                row["bad"] = XSS
            if i == 5:
                del row["bad"]
            f.write(json.dumps(row) + "\n")
    return path


SPEC = """
dataset d {{ path = "data.jsonl" }}
model good {{
  provider = "mock"
  response = "{{{{ answer }}}}"
}}
model worse {{
  provider = "mock"
  response = "{{{{ bad }}}}"
}}
model judgebot {{
  provider = "mock"
  response = "{{\\"reasoning\\": \\"Looks <b>fine</b> to me.\\", \\"score\\": 4}}"
}}
judge correctness {{
  model  = judgebot
  rubric = "Is the answer correct?"
  scale  = [1, 5]
}}
prompt p = "Q: {{{{ question }}}}"
eval qa {{
  dataset = d
  prompt  = p
  models  = [{models}]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match, f1, bleu{judge}]
  max_error_rate = 0.05
  assert mean(exact_match) >= 0.9
}}
"""

# One model called `m` whose answers come from the `answer` (A) or the `bad` field (B): the same samples, so
# `evaldsl diff A B` pairs them and sees exact_match drop on every third row.
SPEC_SAME_NAME = """
dataset d {{ path = "data.jsonl" }}
model m {{
  provider = "mock"
  response = "{{{{ {field} }}}}"
}}
prompt p = "Q: {{{{ question }}}}"
eval qa {{
  dataset = d
  prompt  = p
  models  = [m]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match, f1, chrf]
  max_error_rate = 0.05
}}
"""


def run_spec(spec: Path, store: Path, **plan: Any) -> RunResult:
    """Compile and run `spec` with the real runner (in this process) into `store`."""
    graph = api.compile(spec, **plan)
    return api.run(graph, RunConfig(store_dir=store))


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def make_run(tmp_path: Path, store_dir: Path) -> Callable[..., RunResult]:
    """make_run(models="good, worse", judge=True, name="spec") -> the outcome of a run stored in store_dir."""
    write_data(tmp_path)

    def make(models: str = "good, worse", judge: bool = True, name: str = "spec", **plan: Any) -> RunResult:
        spec = tmp_path / f"{name}.eval"
        spec.write_text(SPEC.format(models=models, judge=", correctness" if judge else ""), encoding="utf-8")
        return run_spec(spec, store_dir, **plan)

    return make


@pytest.fixture
def same_model_runs(tmp_path: Path, store_dir: Path) -> tuple[RunResult, RunResult]:
    """Run A (model m answers right) and run B (m answers `bad`: wrong on 20 of 60 rows, one error)."""
    write_data(tmp_path)
    outcomes = []
    for name, field in (("a", "answer"), ("b", "bad")):
        spec = tmp_path / f"{name}.eval"
        spec.write_text(SPEC_SAME_NAME.format(field=field), encoding="utf-8")
        outcomes.append(run_spec(spec, store_dir))
    return outcomes[0], outcomes[1]


@pytest.fixture
def app() -> typer.Typer:
    """A Typer app with only the result commands (as `evaldsl.cli` gets them from `register`)."""
    result_app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(result_app)
    return result_app
