"""Model calls of a run: requests in; answers out, from the response cache or the provider (loaded once per
model), each fresh success written to the cache as it arrives. The one place that builds a cache key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import asdict, fields
from typing import Any, Protocol

from ..compile.model_config import ModelConfig
from ..hashing import content_hash
from ..providers import Provider, ProviderError, load_provider
from ..providers.records import ChoiceScores, Generation, TextScore
from ..store import Store
from .errors import RunFailed

Op = str  # "generate" | "score_choices" | "score_text"
RESULT_TYPES: Mapping[Op, type] = {"generate": Generation, "score_choices": ChoiceScores, "score_text": TextScore}


class Progress(Protocol):
    """Progress display: one task per eval × model (and per judge)."""

    def start(self, label: str, total: int) -> Any: ...
    def advance(self, task: Any, n: int = 1, errors: int = 0) -> None: ...
    def finish(self, task: Any) -> None: ...


class NoProgress:
    def start(self, label: str, total: int) -> Any:
        return None

    def advance(self, task: Any, n: int = 1, errors: int = 0) -> None:
        pass

    def finish(self, task: Any) -> None:
        pass


def cache_key(identity: Mapping[str, Any], op: Op, request: Mapping[str, Any]) -> str:
    """The response cache key: the provider's identity of the model (id, resolved weights, dtype...), the
    operation, and the parts of the request that decide the answer (as the provider reports them)."""
    return content_hash({"model": identity, "op": op, "request": request})


def _revive(result_type: type, value: Mapping[str, Any]) -> Any:
    names = {f.name for f in fields(result_type)}
    return result_type(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in value.items() if k in names})


def _one_line(text: str, limit: int = 400) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _load_failure(model: ModelConfig, exc: BaseException) -> RunFailed:
    """One line naming the model and what to do, whatever the backend raised."""
    if isinstance(exc, ProviderError):
        text = _one_line(str(exc))
        return RunFailed(text if text.startswith("model ") else f"model {model.name}: {text}")
    if isinstance(exc, MemoryError) or "out of memory" in str(exc).lower():
        return RunFailed(
            f"model {model.name} ({model.id}): out of memory while loading; use a smaller model, "
            '`dtype = "float16"` on a GPU, or free memory'
        )
    return RunFailed(
        f"model {model.name} ({model.id}) cannot be loaded: {type(exc).__name__}: {_one_line(str(exc), 300)}; "
        "check that `id` names a complete model folder or a model in the local Hugging Face cache"
    )


class ModelCalls:
    """The providers and response cache of one run, with its call counters.

    `on_errors(n)` is told of every failed counted request (it may raise to stop the run, e.g. --max-errors).
    """

    def __init__(
        self,
        store: Store,
        *,
        use_cache: bool = True,
        progress: Progress | None = None,
        on_errors: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.store = store
        self.use_cache = use_cache
        self.progress = progress or NoProgress()
        self.on_errors = on_errors
        self.cache_hits = 0
        self.model_calls = 0
        self._providers: dict[str, tuple[Provider, dict[str, Any]]] = {}

    def provider(self, model: ModelConfig) -> tuple[Provider, dict[str, Any]]:
        """The loaded provider of `model` and its cache identity; models that differ only in generation
        settings share one. A model that cannot be loaded stops the run (RunFailed)."""
        key = content_hash(model.loading_key())
        if key not in self._providers:
            try:
                provider = load_provider(model)
                self._providers[key] = (provider, provider.identity())
            except Exception as exc:  # noqa: BLE001 - any load failure is one clear line, never a traceback
                raise _load_failure(model, exc) from None
        return self._providers[key]

    async def ask(
        self, model: ModelConfig, op: Op, requests: Sequence[Any], task: Any, *, counted: bool = True
    ) -> tuple[list[Any], list[bool]]:
        """Answer every request (from the cache where possible); returns the results in request order and which
        of them came from the cache. Failed requests come back as results with `error` set."""
        provider, identity = self.provider(model)
        result_type = RESULT_TYPES[op]
        keys = [cache_key(identity, op, provider.request_key(r)) for r in requests]
        outputs: list[Any] = [None] * len(requests)
        cached = [False] * len(requests)
        use_cache = self.use_cache and model.cache
        if use_cache and requests:
            hits = self.store.cache_get_many(keys)
            for k, key in enumerate(keys):
                if key in hits:
                    outputs[k], cached[k] = _revive(result_type, hits[key]), True
            n_hits = sum(cached)
            self.cache_hits += n_hits
            if n_hits:
                self.progress.advance(task, n_hits)
        todo = [k for k in range(len(requests)) if not cached[k]]
        if todo:
            call: Any = {
                "generate": provider.generate, "score_choices": provider.score_choices,
                "score_text": provider.score_text,
            }[op]  # fmt: skip
            try:
                async with aclosing(call([requests[k] for k in todo])) as stream:
                    async for j, result in stream:
                        k = todo[j]
                        outputs[k] = result
                        self.model_calls += 1
                        failed = result.error is not None
                        if not failed and model.cache:
                            self.store.cache_put(keys[k], op, asdict(result))
                        self.progress.advance(task, errors=int(failed))
                        if failed and counted:
                            self.on_errors(1)
            except ProviderError as exc:
                raise _load_failure(model, exc) from None
        return [o if o is not None else result_type(error="not run") for o in outputs], cached

    async def aclose(self) -> None:
        for provider, _ in self._providers.values():
            try:
                await provider.aclose()
            except Exception:  # noqa: BLE001 - closing must not hide the run's own outcome
                pass
