"""`embedding_similarity` with a tiny local encoder built here (its cosines recomputed with transformers
directly) and with an API embedding model on a local OpenAI-compatible server (letter-count embeddings)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl.cli.app import app
from evaldsl.metrics import MetricError, build_metric
from tests.fakeserver import FakeOpenAIServer, letter_vector
from tests.providers_hf.conftest import build_tiny_model

ROWS = [
    {"question": "Capital of France?", "answer": "Paris is the capital", "said": "Paris is the capital"},
    {"question": "Largest planet?", "answer": "Jupiter", "said": "The quick brown fox"},
    {"question": "Author of Hamlet?", "answer": "Shakespeare", "said": "Numbers like 12 appear"},
]


def run(tmp_path: Path, metric: str) -> dict:
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    (tmp_path / "e.eval").write_text(f"""
dataset qa {{ path = "qa.jsonl" }}
model m {{ provider = "mock", response = "{{{{ said }}}}" }}
metric sim = {metric}
eval qa {{ dataset = qa, prompt = "{{{{ question }}}}", models = [m], target = "{{{{ answer }}}}", metrics = [sim] }}
""")
    result = CliRunner().invoke(app, ["run", str(tmp_path / "e.eval"), "--format", "json",
                                      "--store", str(tmp_path / "store")])  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)["results"][0]["metrics"]["sim"]


def cos(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def test_a_local_encoder(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from transformers import AutoModel, AutoTokenizer

    encoder = build_tiny_model(tmp_path / "encoder")
    m = run(tmp_path, 'embedding_similarity(model = "encoder")')
    tokenizer, model = AutoTokenizer.from_pretrained(encoder), AutoModel.from_pretrained(encoder).eval()

    def embed(text: str) -> list[float]:  # one text at a time: no padding at all
        ids = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            return model(**ids).last_hidden_state[0].mean(dim=0).tolist()

    expected = [cos(embed(r["said"]), embed(r["answer"])) for r in ROWS]
    assert expected[0] == pytest.approx(1.0)
    assert m["n"] == 3 and m["value"] == pytest.approx(sum(expected) / 3, abs=1e-4)
    assert m["range"] == [-1.0, 1.0]


def test_an_api_embedding_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with FakeOpenAIServer() as server:
        m = run(tmp_path, f'embedding_similarity(api = "openai/text-embedding-fake", api_base = "{server.api_base}")')
    expected = [cos(letter_vector(r["said"]), letter_vector(r["answer"])) for r in ROWS]
    assert m["n"] == 3 and m["value"] == pytest.approx(sum(expected) / 3)


def test_one_encoder_is_needed() -> None:
    with pytest.raises(MetricError, match="exactly one of"):
        build_metric("embedding_similarity", {})
    with pytest.raises(MetricError, match="exactly one of"):
        build_metric("embedding_similarity", {"model": "a", "api": "b"})
