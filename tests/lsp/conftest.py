"""A workspace of specs, and a language server process over stdio for each test module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lsp.client import Editor

MAIN = """\
import "./shared.eval"
import "std/general"

dataset trivia { path = "data/qa.jsonl" }
dataset inline {
  rows = [{ question = "2 + 2?", answer = "4", level = 1 }]
}

metric em_raw = exact_match(normalize = false)

eval qa {
  dataset = trivia
  prompt  = ask
  models  = [small]
  target  = "{{ answer }}"
  metrics = [exact_match, em_raw]
  assert mean(em_raw) >= 0.1
}

eval sums {
  dataset = inline
  prompt  = ask
  models  = [small]
  target  = "{{ answer }}"
  metrics = [f1]
}

eval suite = general(models = [small], data = trivia, limit = 2)
"""

SHARED = """\
# Shared models and prompts.
model small {
  provider   = "mock"
  response   = "{{ answer }}"
  max_tokens = 16
}

prompt ask {
  system = "Answer briefly."
  user   = "{{ question }}"
}
"""

ROWS = [
    {"question": "Capital of France?", "answer": "Paris", "aliases": ["Paris"]},
    {"question": "Largest planet?", "answer": "Jupiter", "aliases": []},
]


@pytest.fixture(scope="session")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("workspace")
    (root / "data").mkdir()
    (root / "data" / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    (root / "main.eval").write_text(MAIN, encoding="utf-8")
    (root / "shared.eval").write_text(SHARED, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def editor(workspace: Path) -> Iterator[Editor]:
    """One server per test module: what a module opens does not leak into another's references."""
    ed = Editor(workspace)
    try:
        yield ed
    finally:
        ed.close()
