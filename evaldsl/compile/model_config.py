"""Resolved, validated configuration objects that the plan hands to the runner and its providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


@dataclass(frozen=True)
class GenerationParams:
    """Decoding parameters of one generation request (all part of the cache key)."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    chat_template: bool = True  # local models: format the messages with the tokenizer's chat template


Mode = Literal["generate", "choice", "perplexity"]
ProviderName = Literal["hf", "litellm", "mock"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelConfig(Frozen):
    """One `model` block, resolved: everything a provider needs to build a client."""

    name: str
    provider: ProviderName
    id: str = ""
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    batch_size: int = 8
    concurrency: int = 8
    api_base: str | None = None
    timeout: float = 120.0
    max_retries: int = 6
    dtype: str = "auto"  # hf: auto | float32 | float16 | bfloat16
    device: str = "auto"  # hf: auto | cpu | cuda | mps
    chat_template: bool = True  # hf generate mode: apply the tokenizer's chat template when it has one
    response: str | None = None  # mock: template rendered per sample (None = echo the prompt)
    extra: dict[str, Any] = Field(default_factory=dict)  # litellm: passed through to acompletion

    def generation_params(self) -> GenerationParams:
        return GenerationParams(
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            stop=self.stop,
            seed=self.seed,
            chat_template=self.chat_template,
        )

    def loading_key(self) -> dict[str, Any]:
        """What decides the loaded model itself (not per-request settings): evals that override only
        generation settings share one loaded model."""
        return self.model_dump(exclude={"name", "max_tokens", "temperature", "top_p", "stop", "seed", "chat_template"})

    @property
    def supports_loglikelihood(self) -> bool:
        return self.provider in ("hf", "mock")
