"""Tests of evaldsl.providers.retry: exceptions in, failure classes, delays and limiter behaviour out."""

from __future__ import annotations

import asyncio
import random
import socket
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from evaldsl.providers.retry import (
    AdaptiveLimiter,
    backoff_delay,
    classify,
    clean_message,
    parse_retry_after,
    response_headers,
)


# Stand-ins named like litellm's exception classes (classification goes by class name and status code).
class APIError(Exception):
    def __init__(self, message: str, status_code: int | None = None, headers: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.litellm_response_headers = headers


class RateLimitError(APIError):
    pass


class AuthenticationError(APIError):
    pass


class NotFoundError(APIError):
    pass


class BadRequestError(APIError):
    pass


class ContextWindowExceededError(BadRequestError):
    pass


class InternalServerError(APIError):
    pass


class APIConnectionError(APIError):
    pass


class Timeout(APIConnectionError):  # litellm.Timeout derives from APIConnectionError
    pass


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


@pytest.mark.parametrize(
    ("exc", "kind", "retryable"),
    [
        (RateLimitError("slow down", 429), "rate_limit", True),
        (InternalServerError("boom", 500), "server", True),
        (APIError("bad gateway", 502), "server", True),
        (APIError("overloaded", 503), "server", True),
        (APIError("teapot", 418), "bad_request", False),
        (APIError("request timeout", 408), "timeout", True),
        (APIError("no status"), "other", False),
        (Timeout("timed out", 408), "timeout", True),
        (TimeoutError(), "timeout", True),
        (asyncio.TimeoutError(), "timeout", True),
        (AuthenticationError("Incorrect API key provided", 401), "auth", False),
        (APIError("forbidden", 403), "auth", False),
        (NotFoundError("model does not exist", 404), "not_found", False),
        (BadRequestError("bad", 400), "bad_request", False),
        (ContextWindowExceededError("too long", 400), "context_window", False),
        (ValueError("a bug"), "other", False),
        (ConnectionResetError("reset by peer"), "connection", True),
    ],
)
def test_classify_kinds(exc: BaseException, kind: str, retryable: bool) -> None:
    failure = classify(exc)
    assert failure.kind == kind
    assert failure.retryable is retryable


def test_classify_looks_through_the_cause_chain() -> None:
    # litellm reports a refused connection as InternalServerError(500) caused by ConnectionRefusedError.
    wrapped = InternalServerError("Connection error.", 500)
    refused = classify(chained(wrapped, ConnectionRefusedError(111, "x")))
    assert (refused.kind, refused.refused, refused.retryable) == ("connection", True, True)
    dns = classify(chained(InternalServerError("Connection error.", 500), socket.gaierror(-2, "unknown")))
    assert (dns.kind, dns.unresolved) == ("connection", True)
    # ...and a missing key as InternalServerError(500) too: must not be retried.
    missing = classify(
        InternalServerError(
            "Missing credentials. Please pass an `api_key` or set the `OPENAI_API_KEY` environment variable.",
            500,
        )
    )
    assert (missing.kind, missing.retryable) == ("auth", False)


def test_classify_reads_retry_after_and_status() -> None:
    failure = classify(RateLimitError("slow down", 429, headers={"Retry-After": "7"}))
    assert failure.retry_after == 7.0
    assert failure.status == 429
    assert classify(RateLimitError("slow down", 429)).retry_after is None


def test_response_headers_from_a_response_object() -> None:
    class Response:
        headers = {"Retry-After-Ms": "250"}

    exc = APIError("x", 429)
    exc.response = Response()  # type: ignore[attr-defined]
    assert response_headers(exc) == {"retry-after-ms": "250"}
    assert classify(exc).retry_after == 0.25


def test_clean_message_strips_prefixes_and_secrets() -> None:
    exc = APIError(
        "litellm.AuthenticationError: AuthenticationError: OpenAIException - bad key sk-abcdefghijklmnop12"
    )
    text = clean_message(exc)
    assert text.startswith("bad key")
    assert "abcdefghijklmnop" not in text
    assert "sk-***" in text
    assert len(clean_message(APIError("x" * 1000), max_len=50)) == 50


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"Retry-After": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-3"}) is None
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    date = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now.timestamp()) == pytest.approx(30.0)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now.timestamp()) == 0.0


def test_backoff_is_full_jitter_exponential_and_capped() -> None:
    rng = random.Random(0)
    for attempt in range(8):
        ceiling = min(10.0, 0.5 * 2**attempt)
        delays = [backoff_delay(attempt, base=0.5, cap=10.0, rng=rng) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > 0.7 * ceiling  # spread over the whole range (full jitter)
        assert min(delays) < 0.3 * ceiling
    assert backoff_delay(100, base=0.5, cap=10.0, rng=rng) <= 10.0


def test_backoff_honours_retry_after_as_a_lower_bound_capped() -> None:
    rng = random.Random(1)
    assert all(backoff_delay(0, base=0.01, retry_after=3.0, rng=rng) >= 3.0 for _ in range(50))
    assert backoff_delay(0, base=0.01, cap=5.0, retry_after=3600.0, rng=rng) == 5.0


def test_limiter_halves_once_per_episode_and_recovers() -> None:
    limiter = AdaptiveLimiter(8, increase_after=2)

    async def scenario() -> None:
        epochs = [await limiter.acquire() for _ in range(8)]
        for _ in range(8):
            limiter.release()
        # a burst of 429s from requests admitted in the same episode halves only once
        for epoch in epochs:
            limiter.record_rate_limit(epoch)
        assert limiter.limit == 4
        assert limiter.decreases == 1
        # a request admitted after the decrease can halve again
        epoch = await limiter.acquire()
        limiter.release()
        limiter.record_rate_limit(epoch)
        assert limiter.limit == 2
        for _ in range(10):
            limiter.record_rate_limit()
        assert limiter.limit == 1  # never below the minimum
        for _ in range(2 * 7):
            limiter.record_success()
        assert limiter.limit == 8  # additive increase back to the maximum, not beyond
        for _ in range(10):
            limiter.record_success()
        assert limiter.limit == 8

    asyncio.run(scenario())


def test_limiter_bounds_in_flight_and_adapts_while_busy() -> None:
    limiter = AdaptiveLimiter(4)
    active = 0
    peak_after_drop = 0
    dropped = asyncio.Event()

    async def job(i: int) -> None:
        nonlocal active, peak_after_drop
        async with limiter:
            active += 1
            assert active <= 4
            if dropped.is_set():
                peak_after_drop = max(peak_after_drop, active)
            if i == 3:
                limiter.record_rate_limit()  # capacity 4 -> 2 while 4 are in flight
                limiter.record_rate_limit(limiter.epoch)  # 2 -> 1
                dropped.set()
            await asyncio.sleep(0.005)
            active -= 1

    async def scenario() -> None:
        await asyncio.gather(*(job(i) for i in range(40)))

    asyncio.run(scenario())
    assert limiter.limit == 1
    assert limiter.peak_in_flight == 4
    assert limiter.in_flight == 0
    # the jobs already running finish; everything admitted after the drop runs alone
    assert peak_after_drop == 1
    assert limiter.decreases == 2


def test_limiter_serialises_after_drop() -> None:
    limiter = AdaptiveLimiter(3)
    limiter.record_rate_limit()
    limiter.record_rate_limit(limiter.epoch)
    assert limiter.limit == 1
    active = 0
    peak = 0

    async def job() -> None:
        nonlocal active, peak
        async with limiter:
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.001)
            active -= 1

    async def scenario() -> None:
        await asyncio.gather(*(job() for _ in range(10)))

    asyncio.run(scenario())
    assert peak == 1


def test_limiter_is_fifo_and_survives_cancelled_waiters() -> None:
    limiter = AdaptiveLimiter(1)
    order: list[int] = []

    async def job(i: int) -> None:
        async with limiter:
            order.append(i)
            await asyncio.sleep(0.001)

    async def scenario() -> None:
        await limiter.acquire()
        tasks = [asyncio.create_task(job(i)) for i in range(5)]
        await asyncio.sleep(0.001)
        tasks[1].cancel()  # a waiter gives up before its turn
        limiter.release()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(scenario())
    assert order == [0, 2, 3, 4]
    assert limiter.in_flight == 0


def test_limiter_rejects_bad_use() -> None:
    with pytest.raises(ValueError):
        AdaptiveLimiter(0)
    with pytest.raises(RuntimeError):
        AdaptiveLimiter(2).release()
