"""Token counts and prices without calling a model: litellm's token counter and price map for API models, the
model's own tokenizer (read from its local folder, never loaded onto a device) for `hf` models, and whitespace
words for the `mock` provider (the unit its replies report). A price that is not known is `None`, never 0."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..compile.model_config import ModelConfig
from .records import Message


def _words(text: str) -> int:
    return len(text.split())


@dataclass
class TokenCounter:
    """Counts the tokens of prompts for one model. `basis` says how: "litellm", "tokenizer" or "words"."""

    model: ModelConfig
    basis: str
    _tokenizer: Any = None
    _litellm: Any = None

    def text(self, text: str) -> int:
        if self.basis == "tokenizer":
            return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        if self.basis == "litellm":
            return int(self._litellm.token_counter(model=self.model.id, text=text))
        return _words(text)

    def messages(self, messages: Sequence[Message]) -> int:
        if self.basis == "litellm":
            return int(self._litellm.token_counter(model=self.model.id, messages=[dict(m) for m in messages]))
        return sum(self.text(m.get("content", "")) for m in messages)


def token_counter(model: ModelConfig, provider: Any) -> TokenCounter:
    """The counter for `model` (its loaded-but-not-run `provider` gives a local model's folder); falls back to
    words when a tokenizer cannot be read (the basis says so)."""
    if model.provider == "litellm":
        from .litellm_api import import_litellm

        return TokenCounter(model, "litellm", _litellm=import_litellm())
    if model.provider == "hf":
        try:
            from transformers import AutoTokenizer

            source = provider.source()
            path = source.path
            if source.kind == "default":  # the packaged GGUF: its converted folder, if a run converted it already
                from .default_model import converted_dir, packaged_gguf

                path = converted_dir(packaged_gguf())
            tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
            return TokenCounter(model, "tokenizer", _tokenizer=tokenizer)
        except Exception:  # noqa: BLE001 - no tokenizer on disk: count words and say so
            return TokenCounter(model, "words")
    return TokenCounter(model, "words")


@dataclass(frozen=True)
class Price:
    """What `input_tokens` and `output_tokens` fresh tokens cost in USD; `usd` None when the price is unknown.
    `source`: "litellm price map", "free (mock)", "local (no API price)" or "unknown"."""

    usd: float | None
    source: str


def price(model: ModelConfig, input_tokens: int, output_tokens: int) -> Price:
    if model.provider == "mock":
        return Price(0.0, "free (mock)")
    if model.provider == "hf":
        return Price(0.0, "local (no API price)")
    if model.provider == "litellm":
        from .litellm_api import import_litellm

        litellm = import_litellm()
        try:
            cost_in, cost_out = litellm.cost_per_token(model=model.id, prompt_tokens=input_tokens,
                                                       completion_tokens=output_tokens)  # fmt: skip
        except Exception:  # noqa: BLE001 - litellm raises several kinds for a model missing from its map
            return Price(None, "unknown")
        return Price(float(cost_in) + float(cost_out), "litellm price map")
    return Price(None, "unknown")
