"""The Ray executor: a local model's requests in, sharded over Ray actors (one model load each), results out.

`RayPool` is a `Provider` for the driver. It connects to the cluster named by `RAY_ADDRESS` or starts a local
one, places its actors by resources (one GPU each when the cluster has GPUs, an equal share of the CPUs
otherwise; each runs torch with this process's thread count) and sends them the provider's own batches
(`HFProvider.shards`), a few in flight per actor; results stream back to the driver as batches finish, where
the runner writes the response cache. Choice scores are memoised in the driver exactly as the single-process
provider memoises them, so the model sees the same pairs in the same batches and every number is bit-identical
to a single-process run. An actor that dies has its batch retried on another (a replacement is started); a
batch that kills actors `MAX_ATTEMPTS` times comes back as errors. `aclose` kills the actors and stops a
cluster it started (the runner calls it on Ctrl-C too).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from ..compile.model_config import ModelConfig
from .base import Provider, ProviderError, request_fields
from .choice_memo import Memo, memoized_choices
from .hf_loading import cpu_threads
from .records import ChoiceRequest, ChoiceScores, GenerateRequest, Generation, TextRequest, TextScore

MAX_ATTEMPTS = 3
IN_FLIGHT_PER_ACTOR = 2
_ERRORS = {"generate": Generation, "score_choices": ChoiceScores, "score_text": TextScore}
Loader = Callable[[ModelConfig], Provider]


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ProviderError("--executor ray needs the ray package (pip install 'evaldsl[ray]')") from exc
    return ray


class ShardWorker:
    """One Ray actor: loads the model once, then runs whole batches (`run`) and plans them (`shards`)."""

    def __init__(self, config: ModelConfig, loader: Loader | None, threads: int | None) -> None:
        if threads:
            import torch

            torch.set_num_threads(threads)
        if loader is None:
            from . import load_provider

            loader = load_provider
        self.provider: Any = loader(config)

    def identity(self) -> dict[str, Any]:
        return self.provider.identity()

    async def shards(self, op: str, requests: list[Any]) -> list[list[int]]:
        return await self.provider.shards(op, requests)

    async def run(self, op: str, requests: list[Any]) -> list[tuple[int, Any]]:
        call = {
            "generate": self.provider.generate,
            "score_choices": self.provider.score_choices_uncached,
            "score_text": self.provider.score_text,
        }[op]
        return [pair async for pair in call(requests)]


class RayPool:
    """A local (`hf`) model served by `actors` Ray actors; the same protocol and cache keys as the model
    itself (`identity` comes from an actor's provider)."""

    supports_loglikelihood = True

    def __init__(self, config: ModelConfig, *, actors: int | None = None, loader: Loader | None = None) -> None:
        self.config = config
        self.ray = import_ray()
        self._started = False
        if not self.ray.is_initialized():
            address = os.environ.get("RAY_ADDRESS") or "local"
            try:
                self.ray.init(
                    address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR
                )
            except Exception as exc:  # noqa: BLE001 - an unreachable cluster is one line, not a traceback
                raise ProviderError(f"cannot start or reach the Ray cluster ({address}): {exc}") from None
            self._started = address == "local"
        resources = self.ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
        self.size = actors or (gpus if gpus else max(1, cpus // 4))
        # Placement: one GPU per actor, else an equal share of the CPUs (fractions when there are more actors than
        # devices, so that every actor can start). Threads: the count the hf provider would use in this process
        # (`cpu_threads`: the model's `threads`, else $OMP_NUM_THREADS, else half the cores; Ray would give an
        # actor one thread per CPU it holds), because a CPU matrix product's result depends on how many threads
        # split it: the same count keeps every number bit-identical with a run without Ray.
        if gpus:
            self._options: dict[str, Any] = {"num_gpus": _share(gpus, self.size, cap=1.0), "num_cpus": 0}
        else:
            self._options = {"num_cpus": _share(cpus, self.size)}
        self._threads = cpu_threads(config.threads)
        self._loader = loader
        self._remote = self.ray.remote(ShardWorker)
        self._actors: list[Any] = []
        self._replacements = self.size
        self._ensure_actors()
        self._identity: dict[str, Any] | None = None
        self._memo: Memo = {}

    def _ensure_actors(self) -> None:
        if not self._actors:
            self._actors = [self._spawn() for _ in range(self.size)]

    def release(self) -> None:
        """Kill the actors (their resources go to another model's actors); they start again when needed."""
        actors, self._actors = self._actors, []
        for actor in actors:
            try:
                self.ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass

    def _spawn(self) -> Any:
        return self._remote.options(**self._options).remote(self.config, self._loader, self._threads)

    # -- protocol ----------------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        if self._identity is None:
            self._ensure_actors()
            self._identity = self._get(self._actors[0].identity.remote())
        return dict(self._identity)

    def request_key(self, request: Any) -> dict[str, Any]:
        return request_fields(request)

    async def generate(self, requests: Sequence[GenerateRequest]) -> AsyncIterator[tuple[int, Generation]]:
        async for pair in self._sharded("generate", requests):
            yield pair

    async def score_choices(self, requests: Sequence[ChoiceRequest]) -> AsyncIterator[tuple[int, ChoiceScores]]:
        async for pair in memoized_choices(self._memo, requests, self._score_choices_uncached):
            yield pair

    def _score_choices_uncached(self, requests: Sequence[ChoiceRequest]) -> AsyncIterator[tuple[int, ChoiceScores]]:
        return self._sharded("score_choices", requests)

    async def score_text(self, requests: Sequence[TextRequest]) -> AsyncIterator[tuple[int, TextScore]]:
        async for pair in self._sharded("score_text", requests):
            yield pair

    async def aclose(self) -> None:
        self.release()
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
            self._started = False

    # -- scheduling --------------------------------------------------------------------------------------
    def _get(self, ref: Any) -> Any:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            raise ProviderError(_cause(exc)) from None
        except self.ray.exceptions.RayActorError as exc:
            raise ProviderError(f"a Ray actor died while loading model {self.config.name!r}: {exc}") from None

    async def _plan(self, op: str, requests: list[Any]) -> list[list[int]]:
        for _ in range(MAX_ATTEMPTS):
            if not self._actors:
                break
            actor = self._actors[0]
            try:
                return await _await(actor.shards.remote(op, requests))
            except self.ray.exceptions.RayTaskError as exc:
                raise ProviderError(_cause(exc)) from None
            except self.ray.exceptions.RayActorError:
                self._replace(actor)
        raise ProviderError(f"model {self.config.name!r}: every Ray actor died")

    def _replace(self, actor: Any) -> None:
        if actor in self._actors:
            self._actors.remove(actor)
            if self._replacements > 0:
                self._replacements -= 1
                self._actors.append(self._spawn())

    async def _sharded(self, op: str, requests: Sequence[Any]) -> AsyncIterator[tuple[int, Any]]:
        if not requests:
            return
        items = list(requests)
        self._ensure_actors()
        queue = deque((shard, 0) for shard in await self._plan(op, items))
        slots = deque(actor for actor in self._actors for _ in range(IN_FLIGHT_PER_ACTOR))
        running: dict[asyncio.Future[Any], tuple[Any, list[int], int, Any]] = {}
        try:
            while queue or running:
                while queue and slots:
                    actor = slots.popleft()
                    shard, attempts = queue.popleft()
                    ref = actor.run.remote(op, [items[i] for i in shard])
                    running[asyncio.ensure_future(_await(ref))] = (actor, shard, attempts, ref)
                if not running:
                    raise ProviderError(f"model {self.config.name!r}: every Ray actor died")
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    actor, shard, attempts, _ref = running.pop(future)
                    try:
                        pairs = future.result()
                    except self.ray.exceptions.RayTaskError as exc:
                        raise ProviderError(_cause(exc)) from None
                    except self.ray.exceptions.RayActorError:
                        slots = deque(a for a in slots if a is not actor)
                        before = set(map(id, self._actors))
                        self._replace(actor)
                        slots.extend(a for a in self._actors if id(a) not in before for _ in range(IN_FLIGHT_PER_ACTOR))
                        if attempts + 1 >= MAX_ATTEMPTS:
                            error = f"a Ray actor died on this batch {attempts + 1} times; gave up"
                            for index in shard:
                                yield index, _ERRORS[op](error=error)
                        else:
                            queue.appendleft((shard, attempts + 1))
                        continue
                    slots.append(actor)
                    for position, result in pairs:
                        yield shard[position], result
        finally:
            for future, (_, _, _, ref) in running.items():
                future.cancel()
                try:
                    self.ray.cancel(ref)
                except Exception:  # noqa: BLE001 - finished or gone
                    pass


def _share(amount: int, actors: int, cap: float | None = None) -> float:
    """Each actor's part of `amount` devices: whole devices where there are enough, else a fraction."""
    share = amount / actors
    share = float(int(share)) if share >= 1 else max(0.0001, round(share - 0.00005, 4))
    return min(share, cap) if cap is not None else share


async def _await(ref: Any) -> Any:
    return await asyncio.wrap_future(ref.future())


def _cause(exc: BaseException) -> str:
    """The message of the exception a Ray task raised (without Ray's traceback decoration)."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return str(cause)
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
