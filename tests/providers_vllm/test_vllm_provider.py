"""The `vllm` provider.

On a machine with vLLM and a GPU: parity with the `hf` provider on the same weights (mc2 within 0.002,
identical greedy text). Everywhere: the provider's own logic (prompt rendering, which prompt positions are
summed, greedy flags, rolling windows) against the `hf` provider, through a stand-in for vLLM's documented
offline API (`LLM.generate` with `SamplingParams`, `prompt_logprobs`) computed with transformers on a tiny
model; and a clear error when vLLM is not installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from evaldsl.compile.model_config import GenerationParams, ModelConfig
from evaldsl.providers import load_provider
from evaldsl.providers.base import ProviderError
from evaldsl.providers.hf import HFProvider
from evaldsl.providers.records import ChoiceRequest, GenerateRequest, TextRequest
from tests.providers_hf.conftest import SENTENCES, build_tiny_model

HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _has_gpu() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("vllm-tiny") / "model")


def collect(stream: Any) -> list[Any]:
    async def go() -> list[Any]:
        pairs = dict([pair async for pair in stream])
        return [pairs[i] for i in range(len(pairs))]

    return asyncio.run(go())


CHOICES = [
    ChoiceRequest(context=s.split(",")[0], continuations=(" the lazy dog", " four", " Paris"))
    for s in SENTENCES
] + [ChoiceRequest(context="Question: What is two plus two? Answer:", continuations=(" four", " five"))]
TEXTS = [TextRequest(text=s) for s in SENTENCES] + [TextRequest(text=" ".join(SENTENCES * 3))]  # > one window


def mc2(logliks: tuple[float, ...], labels: tuple[int, ...]) -> float:
    top = max(logliks)
    weights = [math.exp(ll - top) for ll in logliks]
    return sum(w for w, label in zip(weights, labels, strict=True) if label) / sum(weights)


def generations(config: ModelConfig) -> list[GenerateRequest]:
    return [
        GenerateRequest(messages=({"role": "user", "content": s},), params=config.generation) for s in SENTENCES
    ]


# -- a stand-in for vLLM's offline API ------------------------------------------------------------------------


@dataclass
class Logprob:
    logprob: float
    rank: int


@dataclass
class CompletionOutput:
    text: str
    token_ids: list[int]
    finish_reason: str


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    prompt_logprobs: list[dict[int, Logprob] | None] | None
    outputs: list[CompletionOutput] = field(default_factory=list)


@dataclass
class SamplingParams:
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 16
    stop: list[str] | None = None
    seed: int | None = None
    prompt_logprobs: int | None = None


class FakeLLM:
    """`vllm.LLM` as documented, computed with transformers (float32 on the CPU, one prompt at a time)."""

    def __init__(self, model: str, dtype: str = "auto", seed: int = 0, **kwargs: Any) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.model = AutoModelForCausalLM.from_pretrained(model).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(model)
        self.llm_engine = types.SimpleNamespace(
            model_config=types.SimpleNamespace(max_model_len=self.model.config.max_position_embeddings)
        )

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, prompts: list[dict[str, Any]], params: Any, use_tqdm: bool = True) -> list[RequestOutput]:
        import torch

        params_list = params if isinstance(params, list) else [params] * len(prompts)
        out = []
        for prompt, p in zip(prompts, params_list, strict=True):
            ids = list(prompt["prompt_token_ids"])
            logprobs: list[dict[int, Logprob] | None] | None = None
            with torch.no_grad():
                if p.prompt_logprobs is not None:
                    logits = self.model(torch.tensor([ids])).logits[0].float().log_softmax(-1)
                    logprobs = [None]
                    for position in range(1, len(ids)):
                        row = logits[position - 1]
                        token = ids[position]
                        rank = int((row > row[token]).sum()) + 1
                        logprobs.append({token: Logprob(float(row[token]), rank)})
                generated: list[int] = []
                finish = "length"
                for _ in range(p.max_tokens):
                    logits = self.model(torch.tensor([ids + generated])).logits[0, -1]
                    token = int(logits.argmax())
                    if token == self.tokenizer.eos_token_id:
                        finish = "stop"
                        break
                    generated.append(token)
            text = self.tokenizer.decode(generated, skip_special_tokens=True)
            out.append(RequestOutput(ids, logprobs, [CompletionOutput(text, generated, finish)]))
        return out


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("vllm")
    module.LLM = FakeLLM  # type: ignore[attr-defined]
    module.SamplingParams = SamplingParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)


def test_vllm_logic_matches_hf_through_the_documented_api(fake_vllm: None, tiny: Path) -> None:
    config = ModelConfig(name="t", provider="vllm", id=str(tiny), batch_size=4,
                         generation=GenerationParams(max_tokens=5))  # fmt: skip
    vllm = load_provider(config)
    hf = HFProvider(config.model_copy(update={"provider": "hf"}), base_dir=tiny.parent, progress=False)
    assert vllm.identity()["weights"] == hf.identity()["weights"]
    ours, theirs = collect(vllm.score_choices(CHOICES)), collect(hf.score_choices(CHOICES))
    for a, b in zip(ours, theirs, strict=True):
        assert a.error is None and a.n_tokens == b.n_tokens and a.is_greedy == b.is_greedy
        assert all(math.isclose(x, y, abs_tol=1e-4) for x, y in zip(a.logliks, b.logliks, strict=True))
    ours_text, theirs_text = collect(vllm.score_text(TEXTS)), collect(hf.score_text(TEXTS))
    for a, b in zip(ours_text[:-1], theirs_text[:-1], strict=True):  # texts within one window: the same
        assert a.n_tokens == b.n_tokens and math.isclose(a.loglik, b.loglik, rel_tol=1e-5)
    # a text over several windows: every token scored once, in windows one token shorter (vLLM needs the
    # predicted token inside its prompt), so the sums differ a little
    assert ours_text[-1].n_tokens == theirs_text[-1].n_tokens and ours_text[-1].error is None
    assert math.isclose(ours_text[-1].loglik, theirs_text[-1].loglik, rel_tol=0.05)
    ours_gen, theirs_gen = collect(vllm.generate(generations(config))), collect(hf.generate(generations(config)))
    assert [g.text for g in ours_gen] == [g.text for g in theirs_gen]
    assert [g.completion_tokens for g in ours_gen] == [g.completion_tokens for g in theirs_gen]


def test_vllm_missing_is_one_clear_error(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(ProviderError, match=r"provider vllm needs the vllm package and a GPU"):
        load_provider(ModelConfig(name="t", provider="vllm", id=str(tiny)))


@pytest.mark.skipif(not (HAS_VLLM and _has_gpu()), reason="needs the vllm package and a CUDA GPU")
def test_vllm_parity_with_hf_on_the_default_model() -> None:  # pragma: no cover - GPU machines only
    from evaldsl.compile.model_config import DEFAULT_MODEL_ID

    config = ModelConfig(name="d", provider="vllm", id=DEFAULT_MODEL_ID, dtype="float32",
                         generation=GenerationParams(max_tokens=16), extra={"gpu_memory_utilization": 0.3})  # fmt: skip
    vllm = load_provider(config)
    hf = HFProvider(config.model_copy(update={"provider": "hf", "extra": {}}), base_dir=Path.cwd(), progress=False)
    requests = [ChoiceRequest(context=f"Q: {s}\nA:", continuations=(" Yes.", " No.", " Maybe.")) for s in SENTENCES]
    labels = (1, 0, 0)
    for a, b in zip(collect(vllm.score_choices(requests)), collect(hf.score_choices(requests)), strict=True):
        assert abs(mc2(a.logliks, labels) - mc2(b.logliks, labels)) <= 0.002
    ours_gen, theirs_gen = collect(vllm.generate(generations(config))), collect(hf.generate(generations(config)))
    assert [g.text for g in ours_gen] == [g.text for g in theirs_gen]
