"""What the runner asks a provider and what comes back: generation and log-likelihood requests and results."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..compile.model_config import GenerationParams

Message = dict[str, str]
"""One chat message: {"role": "system" | "user" | "assistant", "content": "..."}."""


@dataclass(frozen=True)
class GenerateRequest:
    """Generate a completion for `messages`.

    `variables` are the sample's template variables; only the `mock` provider reads them (to render its
    `response`). `draw` tells apart requests that are equal but must be answered independently (sampling at
    temperature > 0 without a seed, judge votes); providers ignore it, the cache key includes it.
    """

    messages: tuple[Message, ...]
    params: GenerationParams = GenerationParams()
    variables: Mapping[str, Any] = field(default_factory=dict)
    response_format: Mapping[str, Any] | None = None  # a JSON schema request, used where the provider supports it
    draw: str | None = None  # which draw of a non-deterministic request this is (a sample, a judge vote...)


@dataclass(frozen=True)
class Generation:
    """The outcome of one generation request. `error` set means no usable text (never scored)."""

    text: str = ""
    finish_reason: str | None = None  # "stop", "length", ...
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost: float | None = None
    latency_s: float = 0.0
    error: str | None = None
    metadata: Any = None  # python and http providers: what the application reported besides its reply
    tool_calls: tuple[Any, ...] | None = None  # the tool calls the reply made, as the provider reported them

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


@dataclass(frozen=True)
class ChoiceRequest:
    """Score each continuation given `context` (continuations already carry their delimiter, e.g. " Paris").

    With `messages`, the context is those chat messages as the model would see them before its reply (its chat
    template with the generation prompt, when it has one and `chat_template` is on; else the contents joined by
    blank lines), followed by `context`: judges scoring their verdicts use this."""

    context: str
    continuations: tuple[str, ...]
    messages: tuple[Message, ...] = ()
    chat_template: bool = True


@dataclass(frozen=True)
class ChoiceScores:
    """Summed log-likelihood (natural log) of each continuation, in request order."""

    logliks: tuple[float, ...] = ()
    is_greedy: tuple[bool, ...] = ()
    n_tokens: tuple[int, ...] = ()
    truncated: bool = False  # the context had to be cut to fit the model's window
    error: str | None = None


def merge_choice_scores(parts: list[ChoiceScores]) -> ChoiceScores:
    """One sample's scores from one request per choice (each choice after its own context)."""
    failed = next((p.error for p in parts if p.error is not None), None)
    if failed is not None:
        return ChoiceScores(error=failed)
    return ChoiceScores(
        logliks=tuple(x for p in parts for x in p.logliks),
        is_greedy=tuple(x for p in parts for x in p.is_greedy),
        n_tokens=tuple(x for p in parts for x in p.n_tokens),
        truncated=any(p.truncated for p in parts),
    )


@dataclass(frozen=True)
class TextRequest:
    """Score the whole of `text` (rolling windows, no silent truncation)."""

    text: str


@dataclass(frozen=True)
class TextScore:
    """Total log-likelihood (natural log) of a text and the units it spans."""

    loglik: float = 0.0
    n_tokens: int = 0
    truncated: bool = False
    error: str | None = None
