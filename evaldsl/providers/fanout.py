"""Requests answered concurrently by one async function, results yielded as they finish (litellm, python and http
providers): at most `concurrency` in flight, a bug (not a request failure) surfaced to the caller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import TypeVar

Req = TypeVar("Req")
Res = TypeVar("Res")


async def fan_out(
    requests: Sequence[Req], concurrency: int, answer: Callable[[Req], Awaitable[Res]]
) -> AsyncGenerator[tuple[int, Res], None]:
    """`(index, answer(request))` in completion order, `concurrency` workers sharing the requests."""
    if not requests:
        return
    queue: asyncio.Queue[tuple[int, Res] | BaseException] = asyncio.Queue()
    pending = iter(enumerate(requests))

    async def worker() -> None:
        try:
            for index, request in pending:  # shared iterator: each request is taken by one worker
                queue.put_nowait((index, await answer(request)))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - a bug, not a request failure: surface it to the caller
            queue.put_nowait(exc)

    workers = [asyncio.create_task(worker()) for _ in range(max(1, min(concurrency, len(requests))))]
    try:
        for _ in range(len(requests)):
            item = await queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
