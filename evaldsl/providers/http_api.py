"""The `http` provider: each sample is one request to your service (`url`, `method`, `headers` from environment
variables, a JSON `body` rendered from the messages, row and settings), and the reply is taken from the JSON
response by the `output` expression. Failures are classified and retried with the API retry policy (429, 5xx,
timeouts, connection errors; `Retry-After` honoured)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from ..compile.model_config import ModelConfig
from ..compile.templating import TemplateError, evaluate, render
from .base import ProviderError, request_fields
from .fanout import fan_out
from .records import ChoiceRequest, ChoiceScores, GenerateRequest, Generation, TextRequest, TextScore
from .retry import Failure, backoff_delay, classify


def body_variables(request: GenerateRequest) -> dict[str, Any]:
    """What a body template sees: the row's fields, `row`, `messages` and `settings`."""
    row = dict(request.variables.get("row") or {})
    return {
        **row,
        "row": row,
        "messages": [dict(m) for m in request.messages],
        "settings": request.params.model_dump(mode="json"),
    }


def reply_text(value: Any) -> str | None:
    """The extracted reply as text: strings as they are, numbers and structures as compact JSON, None as none."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class HTTPProvider:
    """Calls a service per sample, `concurrency` requests in flight, each limited to `timeout` seconds and
    retried up to `max_retries` times. Header values are read from the environment when the provider loads and
    appear in no identity, record or error text."""

    supports_loglikelihood = False

    def __init__(
        self,
        config: ModelConfig,
        *,
        base_dir: Path | None = None,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 60.0,
        seed: int | None = None,
    ) -> None:
        where = f"model {config.name!r}"
        if not config.url or not config.url.startswith(("http://", "https://")):
            raise ProviderError(f"{where}: `url` must be an http:// or https:// URL")
        if config.timeout <= 0:
            raise ProviderError(f"{where}: timeout must be positive (got {config.timeout})")
        missing = sorted(var for var in config.headers.values() if var not in os.environ)
        if missing:
            raise ProviderError(f"{where}: the header environment variable(s) {', '.join(missing)} are not set")
        self.config = config
        self.headers = {name: os.environ[var] for name, var in config.headers.items()}
        self.secrets = [v for v in self.headers.values() if v]
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.retries = 0
        self._rng = random.Random(seed)
        self._client: httpx.AsyncClient | None = None

    def identity(self) -> dict[str, Any]:
        """The service and how it is asked: URL, method, body template, output expression and the names (never
        the values) of the header variables."""
        c = self.config
        return {"provider": "http", "url": c.url, "method": c.method, "headers": dict(sorted(c.headers.items())),
                "body": c.body, "output": c.output}  # fmt: skip

    def request_key(self, request: Any) -> dict[str, Any]:
        """The body template sees the row, so the sample's variables are part of the key."""
        return request_fields(request, drop=())

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def body(self, request: GenerateRequest) -> Any:
        """The JSON body of one request (TemplateError when the template fails; ValueError when not JSON)."""
        variables = body_variables(request)
        if self.config.body is None:
            return {"messages": variables["messages"], "row": variables["row"], "settings": variables["settings"]}
        rendered = render(self.config.body, variables)
        try:
            return json.loads(rendered)
        except ValueError as exc:
            raise ValueError(f"the body template did not render JSON ({exc}): {rendered[:200]}") from None

    def extract(self, response: httpx.Response) -> Generation:
        try:
            parsed: Any = response.json()
        except ValueError:
            parsed = response.text
        if self.config.output is None:
            if isinstance(parsed, str):
                return Generation(text=parsed, finish_reason="stop")
            if isinstance(parsed, Mapping) and isinstance(parsed.get("output"), str):
                return Generation(text=parsed["output"], finish_reason="stop")
            return Generation(error='the response has no string `output`; set `output = "response.FIELD"`')
        try:
            value = evaluate(self.config.output, {"response": parsed, "status": response.status_code})
        except TemplateError as exc:
            return Generation(error=f"the output expression failed on the response: {exc}")
        text = reply_text(value)
        if text is None:
            return Generation(error="the output expression gave nothing (null) for this response")
        return Generation(text=text, finish_reason="stop")

    async def _call(self, request: GenerateRequest) -> Generation:
        try:
            payload = self.body(request)
        except (TemplateError, ValueError) as exc:
            return Generation(error=f"body: {exc}")
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.config.timeout)
        method = self.config.method
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            started = time.perf_counter()
            failure: Failure | None = None
            try:
                kwargs: dict[str, Any] = {"params": _flat(payload)} if method == "GET" else {"json": payload}
                response = await self._client.request(method, self.config.url or "", headers=self.headers, **kwargs)
                response.raise_for_status()
            except httpx.HTTPStatusError as exc:
                failure = dataclasses.replace(classify(exc), detail=" ".join(exc.response.text.split())[:200])
            except httpx.HTTPError as exc:
                failure = classify(exc)
            latency = time.perf_counter() - started
            if failure is None:
                result = self.extract(response)
                return dataclasses.replace(result, latency_s=latency)
            if not failure.retryable or attempt + 1 == attempts:
                status = f"HTTP {failure.status}" + (": " if failure.detail else "") if failure.status else ""
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                text = self._redact(f"{failure.label}: {status}{failure.detail}{tries}")
                return Generation(error=text, latency_s=latency)
            self.retries += 1
            await asyncio.sleep(backoff_delay(attempt, base=self.retry_base_delay, cap=self.retry_max_delay,
                                       retry_after=failure.retry_after, rng=self._rng))  # fmt: skip
        raise AssertionError("unreachable: the loop returns on its last attempt")

    async def generate(self, requests: Sequence[GenerateRequest]) -> AsyncIterator[tuple[int, Generation]]:
        async for item in fan_out(requests, self.config.concurrency, self._call):
            yield item

    async def score_choices(self, requests: Sequence[ChoiceRequest]) -> AsyncIterator[tuple[int, ChoiceScores]]:
        for index, _ in enumerate(requests):
            yield index, ChoiceScores(error="an http provider gives no log-likelihoods")

    async def score_text(self, requests: Sequence[TextRequest]) -> AsyncIterator[tuple[int, TextScore]]:
        for index, _ in enumerate(requests):
            yield index, TextScore(error="an http provider gives no log-likelihoods")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _flat(payload: Any) -> dict[str, str]:
    """A GET request's query parameters: the body's top-level entries (structures as JSON)."""
    if not isinstance(payload, Mapping):
        return {"q": reply_text(payload) or ""}
    return {str(k): (v if isinstance(v, str) else json.dumps(v)) for k, v in payload.items()}


