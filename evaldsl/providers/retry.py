"""Retry policy for API calls: exceptions in; a classified `Failure`, backoff delays, an adaptive limiter out.

Pure and dependency-free (litellm's exception classes are recognised by name, so this module never imports
litellm): `classify` decides whether an error is worth retrying, `backoff_delay` computes exponential backoff
with full jitter that honours `Retry-After`, and `AdaptiveLimiter` bounds requests in flight with AIMD
(halve on a rate limit, add one after a run of successes).
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, Literal

FailureKind = Literal[
    "rate_limit",
    "server",
    "timeout",
    "connection",
    "auth",
    "not_found",
    "context_window",
    "content_policy",
    "bad_request",
    "other",
]

RETRYABLE: frozenset[str] = frozenset({"rate_limit", "server", "timeout", "connection"})

_LABELS: dict[str, str] = {
    "rate_limit": "rate limited",
    "server": "server error",
    "timeout": "request timed out",
    "connection": "connection failed",
    "auth": "authentication failed",
    "not_found": "model or endpoint not found",
    "context_window": "prompt exceeds the model's context window",
    "content_policy": "refused by the provider's content policy",
    "bad_request": "bad request",
    "other": "request failed",
}

# Class names (anywhere in the exception's MRO) that decide the kind outright, checked in this order.
_BY_CLASS: tuple[tuple[str, FailureKind], ...] = (
    ("ContextWindowExceededError", "context_window"),
    ("ContentPolicyViolationError", "content_policy"),
    ("AuthenticationError", "auth"),
    ("PermissionDeniedError", "auth"),
    ("NotFoundError", "not_found"),
    ("RateLimitError", "rate_limit"),
    ("Timeout", "timeout"),
    ("APITimeoutError", "timeout"),
    ("TimeoutException", "timeout"),  # httpx
    ("TimeoutError", "timeout"),  # builtins / asyncio
    ("UnsupportedParamsError", "bad_request"),
    ("BadRequestError", "bad_request"),
    ("UnprocessableEntityError", "bad_request"),
)
# Class names anywhere in the cause chain that mean the connection itself failed.
_CONNECTION_CLASSES = frozenset(
    {
        "ConnectionError",
        "ConnectError",
        "ClientConnectorError",
        "ClientConnectionError",
        "ServerDisconnectedError",
        "RemoteProtocolError",
        "ReadError",
        "WriteError",
        "gaierror",
        "ClientOSError",
    }
)
_SERVER_CLASSES = frozenset(
    {"InternalServerError", "ServiceUnavailableError", "BadGatewayError", "APIConnectionError"}
)
_MISSING_KEY = re.compile(r"missing credentials|api[_ ]key.{0,80}(environment variable|must be set)", re.I)
_PREFIX = re.compile(r"^(?:litellm\.\w+:\s*|\w*(?:Error|Exception)\s*(?:-|:)\s*|APITimeoutError\s*-\s*)+")
_SECRET = re.compile(r"\b(sk|pk|rk|key|api|xai|gsk|hf)[-_][A-Za-z0-9_\-]{12,}")
_RETRY_AFTER_CAP_DEFAULT = 60.0


@dataclass(frozen=True)
class Failure:
    """What went wrong with one attempt, and whether another attempt may succeed."""

    kind: FailureKind
    detail: str
    status: int | None = None
    retry_after: float | None = None  # seconds the server asked us to wait
    refused: bool = False  # nothing listens at the address (connection refused)
    unresolved: bool = False  # the host name does not resolve

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @property
    def label(self) -> str:
        return _LABELS[self.kind]


def exception_chain(exc: BaseException, limit: int = 12) -> Iterator[BaseException]:
    """`exc`, then its causes/contexts (each once)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(seen) < limit:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def clean_message(exc: BaseException, max_len: int = 300) -> str:
    """A one-line, prefix-free, secret-free version of an exception's text."""
    text = " ".join(str(getattr(exc, "message", None) or exc).split())
    text = _PREFIX.sub("", text).strip() or type(exc).__name__
    text = _SECRET.sub(lambda m: m.group(1) + "-***", text)
    return text if len(text) <= max_len else text[: max_len - 1] + "…"


def response_headers(exc: BaseException) -> dict[str, str]:
    """The HTTP response headers an exception carries (lower-cased names), or {}."""
    found: dict[str, str] = {}
    sources: tuple[Any, ...] = (
        getattr(exc, "headers", None),
        getattr(exc, "litellm_response_headers", None),
        getattr(getattr(exc, "response", None), "headers", None),
    )
    for source in sources:
        if source is not None and hasattr(source, "items"):  # dict, httpx.Headers, multidict...
            try:
                for key, value in source.items():
                    found.setdefault(str(key).lower(), str(value))
            except Exception:  # a foreign object with an odd items(): ignore it
                continue
    return found


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait per `retry-after-ms` or `Retry-After` (seconds or HTTP date); None if absent or bad."""
    lowered = {k.lower(): v for k, v in headers.items()}
    raw_ms = lowered.get("retry-after-ms")
    if raw_ms is not None:
        try:
            value = float(raw_ms) / 1000.0
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
        return value if math.isfinite(value) and value >= 0 else None
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) else None


def classify(exc: BaseException) -> Failure:
    """Sort an exception from an API call into a `Failure` (litellm, openai, httpx, aiohttp and builtins)."""
    names = _class_names(exc)
    chain = list(exception_chain(exc))
    chain_names = set().union(*(_class_names(e) for e in chain))
    status = _status(exc)
    detail = clean_message(exc)
    retry_after = parse_retry_after(response_headers(exc))
    refused = "ConnectionRefusedError" in chain_names or any(
        "connection refused" in str(e).lower() for e in chain
    )
    unresolved = "gaierror" in chain_names or any(
        "name or service not known" in str(e).lower() or "nodename nor servname" in str(e).lower()
        for e in chain
    )

    def make(kind: FailureKind) -> Failure:
        return Failure(kind, detail, status, retry_after, refused=refused, unresolved=unresolved)

    for name, kind in _BY_CLASS:
        if name in names:
            return make(kind)
    if any(_MISSING_KEY.search(str(e)) for e in chain):
        return make("auth")
    if refused or unresolved or chain_names & _CONNECTION_CLASSES:
        return make("connection")
    if status is not None:
        if status == 429:
            return make("rate_limit")
        if status == 408:
            return make("timeout")
        if status >= 500:
            return make("server")
        if status in (401, 403):
            return make("auth")
        if status == 404:
            return make("not_found")
        if 400 <= status < 500:
            return make("bad_request")
    if names & _SERVER_CLASSES:
        return make("server")
    return make("other")


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float = _RETRY_AFTER_CAP_DEFAULT,
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float:
    """Seconds to sleep before retry number `attempt` (0 = first retry).

    Full jitter: uniform in [0, min(cap, base * 2**attempt)]. A server's `Retry-After` (capped at `cap`) is a
    lower bound.
    """
    ceiling = min(cap, base * (2.0 ** min(attempt, 62)))
    delay = (rng or random).uniform(0.0, max(0.0, ceiling))
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


class AdaptiveLimiter:
    """An asyncio limiter on requests in flight whose capacity adapts (AIMD).

    `record_rate_limit` halves the limit (never below `minimum`); one decrease per congestion episode: only a
    request admitted after the last decrease (same `epoch`) can trigger the next one. `record_success` raises
    the limit by one after `increase_after` consecutive successes (default: the current limit, i.e. one step
    per round of requests), never above `maximum`. Not thread-safe; use from one event loop at a time.
    """

    def __init__(self, maximum: int, *, minimum: int = 1, increase_after: int | None = None) -> None:
        if maximum < 1:
            raise ValueError("maximum must be at least 1")
        self.maximum = maximum
        self.minimum = max(1, min(minimum, maximum))
        self._increase_after = increase_after
        self._limit = maximum
        self._in_flight = 0
        self._epoch = 0
        self._successes = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.peak_in_flight = 0
        self.decreases = 0

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def epoch(self) -> int:
        return self._epoch

    async def acquire(self) -> int:
        """Wait for a free slot (first come, first served); returns the epoch for `record_rate_limit`."""
        if self._in_flight < self._limit and not self._waiters:
            self._take()
            return self._epoch
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        try:
            await future  # `_wake` takes the slot on our behalf before resolving the future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the slot was handed over just before the cancellation: give it back
            else:
                try:
                    self._waiters.remove(future)
                except ValueError:
                    pass
            raise
        return self._epoch

    def release(self) -> None:
        if self._in_flight <= 0:
            raise RuntimeError("release() without acquire()")
        self._in_flight -= 1
        self._wake()

    def _take(self) -> None:
        self._in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)

    def _wake(self) -> None:
        while self._waiters and self._in_flight < self._limit:
            future = self._waiters.popleft()
            if not future.done():
                self._take()
                future.set_result(None)

    def record_success(self) -> None:
        if self._limit >= self.maximum:
            self._successes = 0
            return
        self._successes += 1
        if self._successes >= (self._increase_after or self._limit):
            self._successes = 0
            self._limit += 1
            self._wake()

    def record_rate_limit(self, epoch: int | None = None) -> None:
        """Halve the limit, unless this signal belongs to an episode already reacted to."""
        self._successes = 0
        if epoch is not None and epoch != self._epoch:
            return
        self._epoch += 1
        new = max(self.minimum, self._limit // 2)
        if new < self._limit:
            self._limit = new
            self.decreases += 1

    async def __aenter__(self) -> int:
        return await self.acquire()

    async def __aexit__(self, *exc: Any) -> None:
        self.release()
