"""The `mock` provider: requests in, instant deterministic results out (no model; for dry runs and tests).

Generation renders the model's `response` template with each sample's variables (or echoes the last user
message). Log-likelihoods are pseudo-random numbers derived from a sha256 of the scored text: deterministic
and length-scaled, but otherwise MEANINGLESS — they exist only so that choice/perplexity pipelines can be
tested.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from ..compile.model_config import ModelConfig
from ..compile.templating import TemplateError, render
from .base import request_fields
from .records import (
    ChoiceRequest,
    ChoiceScores,
    GenerateRequest,
    Generation,
    GenerationParams,
    Message,
    TextRequest,
    TextScore,
)


def _words(text: str) -> int:
    return len(text.split())


def pseudo_loglik(context: str, continuation: str) -> tuple[float, int]:
    """(log-likelihood, units) for `continuation` after `context`: -units * (0.5 .. 4.5), from a sha256.

    Units are whitespace words (at least 1 for a non-empty text, 0 for an empty one).
    """
    units = max(_words(continuation), 1 if continuation else 0)
    if units == 0:
        return 0.0, 0
    digest = hashlib.sha256(f"{context}\x00{continuation}".encode()).digest()
    fraction = int.from_bytes(digest[:8], "big") / 2.0**64
    return -units * (0.5 + 4.0 * fraction), units


def last_user_content(messages: Sequence[Message]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message.get("content", "")
    return ""


def apply_limits(text: str, params: GenerationParams) -> tuple[str, str]:
    """Cut `text` at the first stop sequence, then at `max_tokens` words: (text, finish_reason)."""
    for stop in params.stop:
        if stop and stop in text:
            text = text[: text.index(stop)]
    words = text.split()
    if len(words) > params.max_tokens:
        return " ".join(words[: params.max_tokens]), "length"
    return text, "stop"


class MockProvider:
    """Answers instantly: `config.response` rendered per sample, or an echo of the last user message.

    Like a real model it honours `stop` sequences and cuts replies longer than `max_tokens` words (then
    finish_reason is "length"); token counts are whitespace word counts.
    """

    supports_loglikelihood = True

    def __init__(self, config: ModelConfig, *, base_dir: Path | None = None) -> None:
        self.config = config
        self.base_dir = base_dir

    def identity(self) -> dict[str, Any]:
        return {"provider": "mock", "response": self.config.response}

    def request_key(self, request: Any) -> dict[str, Any]:
        """The reply is rendered from the sample's variables, so they are part of the key."""
        return request_fields(request, drop=())

    def _generate_one(self, request: GenerateRequest) -> Generation:
        if self.config.response is None:
            raw = last_user_content(request.messages)
        else:
            try:
                raw = render(self.config.response, request.variables)
            except TemplateError as exc:
                return Generation(error=f"mock response template failed: {exc}")
        text, finish = apply_limits(raw, request.params)
        prompt_tokens = sum(_words(m.get("content", "")) for m in request.messages)
        return Generation(
            text=text,
            finish_reason=finish,
            prompt_tokens=prompt_tokens,
            completion_tokens=_words(text),
            cost=0.0,
            latency_s=0.0,
        )

    async def generate(self, requests: Sequence[GenerateRequest]) -> AsyncIterator[tuple[int, Generation]]:
        for index, request in enumerate(requests):
            yield index, self._generate_one(request)

    async def score_choices(
        self, requests: Sequence[ChoiceRequest]
    ) -> AsyncIterator[tuple[int, ChoiceScores]]:
        for index, request in enumerate(requests):
            context = "\n\n".join([*(m["content"] for m in request.messages), request.context])
            scored = [pseudo_loglik(context if request.messages else request.context, c)
                      for c in request.continuations]  # fmt: skip
            logliks = tuple(loglik for loglik, _ in scored)
            best = max(logliks) if logliks else 0.0
            yield (
                index,
                ChoiceScores(
                    logliks=logliks,
                    is_greedy=tuple(loglik == best for loglik in logliks),
                    n_tokens=tuple(units for _, units in scored),
                ),
            )

    async def score_text(self, requests: Sequence[TextRequest]) -> AsyncIterator[tuple[int, TextScore]]:
        for index, request in enumerate(requests):
            loglik, units = pseudo_loglik("", request.text)
            yield index, TextScore(loglik=loglik, n_tokens=units)

    async def aclose(self) -> None:
        return None
