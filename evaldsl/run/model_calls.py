"""Model calls of a run: requests in; answers out, from the response cache or the provider (loaded once per
model), each fresh success written to the cache as it arrives. The one place that builds a cache key."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import fields
from typing import Any, Protocol

from ..compile.model_config import ModelConfig
from ..hashing import content_hash
from ..providers import Provider, ProviderError, load_provider
from ..providers.records import ChoiceScores, Generation, TextScore
from ..store import Store
from .errors import RunFailed

Op = str  # "generate" | "score_choices" | "score_text"
# Cache writes in a burst of answers: at most this many, held at most this long. Each write transaction inserts
# into the key index at random places, so fewer, larger ones cost less (a third less at 1,024 than at 256).
_PUT_BATCH, _PUT_HOLD_S = 1024, 0.1
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


Loader = Callable[[ModelConfig], Provider]


def provider_loader(executor: str = "local", *, ray_actors: int | None = None) -> Loader:
    """How a run loads its models: in this process (`local`), or with local (`hf`) models sharded over Ray
    actors (`ray`; API and mock models stay in this process). Only one model's actors live at a time."""
    if executor == "local":
        return load_provider
    if executor != "ray":
        raise RunFailed(f"unknown executor {executor!r} (use local or ray)")
    pools: list[Any] = []

    def load(model: ModelConfig) -> Provider:
        if model.provider != "hf":
            return load_provider(model)
        from ..providers.ray_pool import RayPool

        for pool in pools:
            pool.release()
        pool = RayPool(model, actors=ray_actors)
        pools.append(pool)
        return pool

    return load


class ModelCalls:
    """The providers and response cache of one run, with its call counters.

    `on_errors(n)` is told of every failed counted request (it may raise to stop the run, e.g. --max-errors);
    `on_call(result)` of every fresh call's result (it may raise to stop the run, e.g. --max-cost).
    """

    def __init__(
        self,
        store: Store,
        *,
        use_cache: bool = True,
        progress: Progress | None = None,
        on_errors: Callable[[int], None] = lambda n: None,
        on_call: Callable[[Any], None] = lambda result: None,
        loader: Loader = load_provider,
    ) -> None:
        self.store = store
        self.use_cache = use_cache
        self.progress = progress or NoProgress()
        self.on_errors = on_errors
        self.on_call = on_call
        self.spent_usd = 0.0  # what the fresh calls cost, as their providers report it
        self.loader = loader
        self.cache_hits = 0
        self.model_calls = 0
        self._providers: dict[str, tuple[Provider, dict[str, Any]]] = {}

    def provider(self, model: ModelConfig) -> tuple[Provider, dict[str, Any]]:
        """The loaded provider of `model` and its cache identity; models that differ only in generation
        settings share one. A model that cannot be loaded stops the run (RunFailed)."""
        key = content_hash(model.loading_key())
        if key not in self._providers:
            try:
                provider = self.loader(model)
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
        todo = list(range(len(requests)))
        waiting: list[int] = []
        use_cache = self.use_cache and model.cache  # `cache = false`: every request is asked
        if use_cache and requests:
            todo = self._from_cache(todo, keys, outputs, cached, result_type, task)
            if todo:  # another runner sharing the store may be asking the same already: claim before asking
                todo, waiting = self._claim(todo, keys, outputs, cached, result_type, task)
        try:
            await self._call(model, provider, op, requests, keys, todo, outputs, task, counted)
            pause = 0.05
            while waiting:  # answers another runner is getting: wait for them, or take over what it gives up
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                waiting = self._from_cache(waiting, keys, outputs, cached, result_type, task)
                if waiting:
                    todo, waiting = self._claim(waiting, keys, outputs, cached, result_type, task)
                    await self._call(model, provider, op, requests, keys, todo, outputs, task, counted)
        finally:
            if use_cache:
                self.store.release(keys)  # failed or unsent requests: another runner may try them
        return [o if o is not None else result_type(error="not run") for o in outputs], cached

    def _from_cache(self, idx: list[int], keys: list[str], outputs: list[Any], cached: list[bool],
                    result_type: type, task: Any) -> list[int]:
        """Fill the requests `idx` whose answer is cached; returns those that are not."""
        hits = self.store.cache_get_many([keys[k] for k in idx])
        for k in idx:
            if keys[k] in hits:
                outputs[k], cached[k] = _revive(result_type, hits[keys[k]]), True
        found = sum(1 for k in idx if cached[k])
        if found:
            self.cache_hits += found
            self.progress.advance(task, found)
        return [k for k in idx if not cached[k]]

    def _claim(self, idx: list[int], keys: list[str], outputs: list[Any], cached: list[bool], result_type: type,
               task: Any) -> tuple[list[int], list[int]]:
        """Claim the requests `idx`: (those to ask now, those another runner holds). A claimed request whose
        answer landed just before the claim is filled from the cache instead."""
        mine = self.store.claim([keys[k] for k in idx])
        todo = self._from_cache([k for k in idx if keys[k] in mine], keys, outputs, cached, result_type, task)
        return todo, [k for k in idx if keys[k] not in mine]

    async def _call(self, model: ModelConfig, provider: Provider, op: Op, requests: Sequence[Any], keys: list[str],
                    todo: list[int], outputs: list[Any], task: Any, counted: bool) -> None:
        """Send the requests `todo` to the provider; store each fresh success in the cache as it arrives."""
        if not todo:
            return
        call: Any = {
            "generate": provider.generate, "score_choices": provider.score_choices, "score_text": provider.score_text,
        }[op]  # fmt: skip
        pending: list[tuple[str, str, dict[str, Any]]] = []
        since = last = 0.0
        try:
            async with aclosing(call([requests[k] for k in todo])) as stream:
                async for j, result in stream:
                    k = todo[j]
                    outputs[k] = result
                    self.model_calls += 1
                    self.spent_usd += getattr(result, "cost", None) or 0.0
                    failed = result.error is not None
                    if not failed and model.cache:  # answers arriving back to back are written together
                        now = time.monotonic()
                        burst, last, since = now - last < _PUT_HOLD_S, now, since or now
                        pending.append((keys[k], op, {f.name: getattr(result, f.name) for f in fields(result)}))
                        if not burst or len(pending) >= _PUT_BATCH or now - since > _PUT_HOLD_S:
                            self.store.cache_put_many(pending)
                            pending, since = [], 0.0
                    self.progress.advance(task, errors=int(failed))
                    if failed and counted:
                        self.on_errors(1)
                    self.on_call(result)
        except ProviderError as exc:
            raise _load_failure(model, exc) from None
        finally:
            if pending:
                self.store.cache_put_many(pending)

    async def aclose(self) -> None:
        for provider, _ in self._providers.values():
            try:
                await provider.aclose()
            except Exception:  # noqa: BLE001 - closing must not hide the run's own outcome
                pass
