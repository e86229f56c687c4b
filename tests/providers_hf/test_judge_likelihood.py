"""A judge on a local `hf` model reads its verdict by likelihood (the default for local judges): each point of
the scale is scored as the judge's reply after its chat-formatted prompt — checked against transformers
directly — so no verdict is unscored."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl.cli.app import app
from evaldsl.store.sqlite import Store

from .conftest import build_tiny_model

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def wide_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("judge") / "model", max_positions=4096)


def test_local_judge_scores_every_verdict(tmp_path: Path, wide_model: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = [{"question": "Capital of France?", "answer": "Paris"}, {"question": "Two plus two?", "answer": "4"}]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "j.eval").write_text(f"""
dataset qa {{ path = "qa.jsonl" }}
model answerer {{ provider = "mock", response = "{{{{ answer }}}}" }}
model tiny {{ provider = "hf", id = "{wide_model}", dtype = "float32" }}
judge correct {{
  model = tiny
  rubric = "Is the answer correct?"
  scale = [1, 3]
}}
eval judged {{ dataset = qa, prompt = "{{{{ question }}}}", models = [answerer], metrics = [correct] }}
""")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "j.eval"), "--format", "json", "--allow-path",
                                      str(wide_model), "--store", str(tmp_path / "store")])  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    metric = data["results"][0]["metrics"]["correct"]
    assert metric["n"] == 2 and metric["unscored"] == 0 and sum(metric["outcomes"].values()) == 2
    tokenizer = AutoTokenizer.from_pretrained(wide_model)
    model = AutoModelForCausalLM.from_pretrained(wide_model, torch_dtype=torch.float32).eval()
    with Store(tmp_path / "store") as store:
        records = list(store.iter_samples(data["run_id"]))
    for record in records:
        (call,) = record.judges["correct"]["calls"]
        text = tokenizer.apply_chat_template(call["prompt"], add_generation_prompt=True, tokenize=False)
        context = tokenizer(text, add_special_tokens=False)["input_ids"]
        for reply in ("1", "2", "3"):
            ids = tokenizer(text + reply, add_special_tokens=False)["input_ids"]
            with torch.no_grad():
                logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
            expected = sum(float(logprobs[p - 1, ids[p]]) for p in range(len(context), len(ids)))
            assert call["logliks"][reply] == pytest.approx(expected, abs=1e-3)
        lls = [call["logliks"][r] for r in ("1", "2", "3")]
        weights = [math.exp(x - max(lls)) for x in lls]
        score = sum(w * k for w, k in zip(weights, (1, 2, 3), strict=True)) / sum(weights)
        assert record.judges["correct"]["verdict"]["score"] == pytest.approx(score)
