"""The one protocol every model backend implements: batches of requests in, results out as they finish."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, runtime_checkable

from .records import (
    ChoiceRequest,
    ChoiceScores,
    GenerateRequest,
    Generation,
    TextRequest,
    TextScore,
)


class ProviderError(Exception):
    """A model cannot be used at all (missing package, unknown model, bad configuration): the run stops (exit 3).

    Per-request failures are not raised; they come back as results with `error` set.
    """


@runtime_checkable
class Provider(Protocol):
    """A loaded model. Results are yielded as `(index into the request list, result)` in completion order."""

    supports_loglikelihood: bool

    def identity(self) -> dict[str, Any]:
        """What identifies this model's outputs for the response cache (provider, id, resolved path/revision,
        weights hash, dtype...). Must not contain secrets."""
        ...

    def request_key(self, request: Any) -> dict[str, Any]:
        """What of `request` decides this provider's answer (the request's part of the cache key); most
        providers return `request_fields(request)`."""
        ...

    def generate(self, requests: Sequence[GenerateRequest]) -> AsyncIterator[tuple[int, Generation]]: ...

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> AsyncIterator[tuple[int, ChoiceScores]]: ...

    def score_text(self, requests: Sequence[TextRequest]) -> AsyncIterator[tuple[int, TextScore]]: ...

    async def aclose(self) -> None: ...


def request_fields(request: Any, *, drop: tuple[str, ...] = ("variables",)) -> dict[str, Any]:
    """A request as a dict without the fields that do not reach the model (by default the sample's template
    variables, which only the mock provider reads)."""
    # Shallow: nested records stay records (hashed as their fields, the same JSON), and the dropped fields (the
    # sample's whole row) are never copied — a deep `asdict` per request dominated large runs.
    fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request) if f.name not in drop}
    if "continuations" in fields and not fields.get("messages"):  # a plain choice request keeps its old key
        fields.pop("messages", None)
        fields.pop("chat_template", None)
    return fields
