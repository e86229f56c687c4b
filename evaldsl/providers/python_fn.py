"""The `python` provider: a function of the project (`id = "my_app.qa:answer"`, sync or async) answers each
sample. It is called with the rendered messages, the sample's row and the generation settings, and returns
the reply text or a mapping (`output`, optional `metadata`, `usage`, `cost`, `tool_calls`). An exception is
that sample's error; the cache identity holds the source fingerprint of the function's module and of the
project modules it imports."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
import traceback
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..compile.model_config import ModelConfig
from ..compile.tools import normalize_call
from ..project import project_root
from ..project_code import CodeError, Located, find_module, fingerprint, load_function
from .base import ProviderError, request_fields
from .fanout import fan_out
from .records import ChoiceRequest, ChoiceScores, GenerateRequest, Generation, TextRequest, TextScore

ARGUMENTS = ("messages", "row", "settings")


def positional_count(function: Callable[..., Any]) -> int:
    """How many of (messages, row, settings) the function takes: its positional parameters, 3 with *args."""
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return len(ARGUMENTS)
    count = 0
    for p in parameters:
        if p.kind == p.VAR_POSITIONAL:
            return len(ARGUMENTS)
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            count += 1
    return min(count, len(ARGUMENTS))


def _where(exc: BaseException, folder: Path) -> str:
    """` (my_app/qa.py:12)`: the last frame of the traceback inside the project, if any."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename)
        if path.is_absolute() and path.resolve().is_relative_to(folder):
            return f" ({path.resolve().relative_to(folder)}:{frame.lineno})"
    return ""


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def to_generation(value: Any, latency: float) -> Generation:
    """The function's return value as a Generation (an unusable value is the sample's error, saying why)."""
    if isinstance(value, str):
        return Generation(text=value, finish_reason="stop", latency_s=latency)
    if not isinstance(value, Mapping):
        return Generation(error=f"the function returned {type(value).__name__}; return a string or a mapping "
                                "with `output`", latency_s=latency)  # fmt: skip
    output = value.get("output")
    if not isinstance(output, str):
        got = "no `output`" if output is None else f"`output` of type {type(output).__name__}"
        return Generation(error=f"the function returned a mapping with {got}; `output` must be a string",
                          latency_s=latency)  # fmt: skip
    unknown = sorted(set(value) - {"output", "metadata", "usage", "cost", "tool_calls", "finish_reason"})
    if unknown:
        return Generation(error=f"the function returned unknown key(s) {', '.join(unknown)} (accepted: output, "
                                "metadata, usage, cost, tool_calls, finish_reason)", latency_s=latency)  # fmt: skip
    usage = value.get("usage") or {}
    cost = value.get("cost")
    metadata = value.get("metadata")
    tool_calls = value.get("tool_calls")
    try:
        json.dumps([metadata, tool_calls])
    except (TypeError, ValueError) as exc:
        return Generation(error=f"`metadata` and `tool_calls` must be JSON values: {exc}", latency_s=latency)
    if not isinstance(usage, Mapping) or (cost is not None and _int(cost) is None):
        return Generation(error="`usage` must be a mapping of token counts and `cost` a number", latency_s=latency)
    return Generation(
        text=output,
        finish_reason=str(value.get("finish_reason") or "stop"),
        prompt_tokens=_int(usage.get("prompt_tokens", usage.get("input_tokens"))),
        completion_tokens=_int(usage.get("completion_tokens", usage.get("output_tokens"))),
        cost=float(cost) if cost is not None else None,
        latency_s=latency,
        metadata=dict(metadata) if isinstance(metadata, Mapping) else metadata,
        tool_calls=tuple(normalize_call(c) for c in tool_calls) if isinstance(tool_calls, (list, tuple)) else None,
    )


class PythonProvider:
    """Calls a project function per sample, `concurrency` at a time (sync functions in worker threads), each
    call limited to `timeout` seconds."""

    supports_loglikelihood = False

    def __init__(self, config: ModelConfig, *, base_dir: Path | None = None) -> None:
        self.config = config
        base = base_dir or Path.cwd()
        self.roots = [project_root(base)]
        try:
            self.located: Located = find_module(config.id, base, self.roots)
            self.fingerprint = fingerprint(self.located, self.roots)
            self.function = load_function(self.located)
        except CodeError as exc:
            raise ProviderError(f"model {config.name!r}: {exc}") from None
        if config.timeout <= 0:
            raise ProviderError(f"model {config.name!r}: timeout must be positive (got {config.timeout})")
        self.n_args = positional_count(self.function)
        # Sync functions run in threads of their own, as many as calls in flight (asyncio's default pool has
        # only a few threads: it would cap the concurrency).
        self._threads = ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix=f"evaldsl-{config.name}")

    def identity(self) -> dict[str, Any]:
        return {"provider": "python", "id": self.config.id, "source": self.fingerprint}

    def request_key(self, request: Any) -> dict[str, Any]:
        """The function sees the row, so the sample's variables are part of the key."""
        return request_fields(request, drop=())

    async def _call(self, request: GenerateRequest) -> Generation:
        row = dict(request.variables.get("row") or {})
        settings = request.params.model_dump(mode="json")
        if self.config.tools:
            settings["tools"] = [dict(t) for t in self.config.tools]
        arguments = ([dict(m) for m in request.messages], row, settings)[: self.n_args]
        started = time.perf_counter()
        try:
            if inspect.iscoroutinefunction(self.function):
                value = await asyncio.wait_for(self.function(*arguments), self.config.timeout)
            else:
                call = asyncio.get_running_loop().run_in_executor(self._threads, self.function, *arguments)
                value = await asyncio.wait_for(call, self.config.timeout)
                if inspect.isawaitable(value):
                    value = await asyncio.wait_for(value, self.config.timeout)
        except TimeoutError:
            return Generation(error=f"no reply within {self.config.timeout:g} s (timeout)",
                              latency_s=time.perf_counter() - started)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the user's function failed: the sample's error, with why
            where = _where(exc, self.located.folder)
            text = " ".join(str(exc).split())[:300]
            return Generation(error=f"{type(exc).__name__}: {text}{where}", latency_s=time.perf_counter() - started)
        return to_generation(value, time.perf_counter() - started)

    async def generate(self, requests: Sequence[GenerateRequest]) -> AsyncIterator[tuple[int, Generation]]:
        async for item in fan_out(requests, self.config.concurrency, self._call):
            yield item

    async def score_choices(self, requests: Sequence[ChoiceRequest]) -> AsyncIterator[tuple[int, ChoiceScores]]:
        for index, _ in enumerate(requests):
            yield index, ChoiceScores(error="a python provider gives no log-likelihoods")

    async def score_text(self, requests: Sequence[TextRequest]) -> AsyncIterator[tuple[int, TextScore]]:
        for index, _ in enumerate(requests):
            yield index, TextScore(error="a python provider gives no log-likelihoods")

    async def aclose(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
