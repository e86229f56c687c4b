"""Specs of known sizes for the plan, budget, baseline and affected-evals tests (mock models only)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# 40 rows; `where` keeps the 20 with an even n; the eval's limit keeps 4 of them.
ROWS = [{"n": i, "question": f"question number {i}", "answer": f"ans{i}"} for i in range(40)]

SPEC = r'''
dataset qa { path = "qa.jsonl", where = `n % 2 == 0` }
model a { provider = "mock", response = "{{ answer }}" }
model b { provider = "mock", response = "not sure at all" }
model grader { provider = "mock", temperature = 0.7, response = """{"reasoning": "fine", "score": 4}""" }
model pgrader { provider = "mock", temperature = 0.7, response = """{"reasoning": "fine", "winner": "A"}""" }
judge single { model = grader, rubric = "Is it right?", votes = 3 }
judge pair { model = pgrader, rubric = "Which is better?", mode = "pairwise", votes = 2 }
template small_qa(models, data, limit = 0) {
  eval run {
    dataset = data
    prompt  = "Q: {{ question }}"
    models  = models
    target  = "{{ answer }}"
    metrics = [exact_match]
    limit   = limit
  }
}
eval quiz {
  dataset = qa
  prompt  = "{{ question }}"
  models  = [a, b]
  target  = "{{ answer }}"
  metrics = [exact_match, single, pair]
  limit   = 4
}
eval mine = small_qa(models = [a], data = qa, limit = 3)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with the spec (spec.eval), its data and an empty store folder name (.evaldsl)."""
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "spec.eval").write_text(SPEC)
    return tmp_path
