"""A lean HTTP client for OpenAI-compatible chat endpoints: litellm's call arguments in, the parsed JSON reply out.

litellm spends milliseconds of CPU on every call (logging objects, response models, cost lookups); at dozens of
requests in flight that alone saturates a small machine. For the case where litellm adds nothing — an
`openai/...` model at an explicit `api_base` that litellm's model map does not know (a self-hosted vLLM, TGI or
SGLang server, a proxy), with no unusual `extra` arguments — the `litellm` provider sends the same request body
with aiohttp instead. Errors are raised as exceptions that `retry.classify` sorts exactly as it sorts litellm's
(status codes, `Retry-After`, the context-window and content-policy messages litellm recognises), so retries,
rate-limit handling, cache keys and results are the same on both paths.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..compile.model_config import ModelConfig

# `extra` keys the lean path sends as they are (litellm passes these through to the body unchanged);
# `extra_body` is merged into the body, as litellm does. Any other key sends the model through litellm.
PASSTHROUGH_EXTRA = frozenset({"frequency_penalty", "presence_penalty", "user", "extra_body"})
# Arguments of `LiteLLMProvider._arguments` that are litellm's own, not part of the request body.
_CALL_ONLY = frozenset({"model", "timeout", "num_retries", "api_base", "extra_body"})
_PREFIX = "openai/"
_CONTEXT_WINDOW = (
    "this model's maximum context length is",
    "maximum context length",
    "context_length_exceeded",
    "is longer than the model's context length",
    "exceeds the available context size",
    "prompt is too long",
    "input tokens exceed the configured limit",
)
_CONTENT_POLICY = ("content_policy_violation", "violating our usage policy", "safety system")


@lru_cache(maxsize=1)
def _known_models() -> frozenset[str]:
    """The model names in litellm's bundled model map (read as JSON, without importing litellm)."""
    spec = importlib.util.find_spec("litellm")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "model_prices_and_context_window_backup.json"
        if path.is_file():
            try:
                return frozenset(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                break
    return frozenset({"*"})  # unknown map: treat every model as known, i.e. always use litellm


def lean_route(config: ModelConfig) -> bool:
    """Whether requests of this `litellm` model can go over the lean path with the same outcome as litellm's:
    an `openai/` model at an explicit `api_base`, unknown to litellm's model map (so litellm applies no
    model-specific parameter mapping, price or response-schema support), with only pass-through `extra`, no
    `tools` and no `logprobs`."""
    if not config.api_base or not config.id.startswith(_PREFIX) or config.tools or config.logprobs:
        return False  # (tool calling and log-probabilities go through litellm, which maps them)
    if set(config.extra) - PASSTHROUGH_EXTRA or not isinstance(config.extra.get("extra_body", {}), Mapping):
        return False
    name = config.id[len(_PREFIX) :]
    known = _known_models()
    return "*" not in known and not ({config.id, name, name.rsplit("/", 1)[-1]} & known)


class APIStatusError(Exception):
    """An HTTP error reply; `retry.classify` reads `status_code` and `headers`."""

    def __init__(self, message: str, status_code: int, headers: Mapping[str, str]) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.headers = dict(headers)


class ContextWindowExceededError(APIStatusError):
    """A 400 reply saying the prompt does not fit (classified as litellm's error of the same name)."""


class ContentPolicyViolationError(APIStatusError):
    """A 400 reply refusing the prompt on policy grounds (classified as litellm's error of the same name)."""


class MalformedResponseError(APIStatusError):
    """A 200 reply whose body is not JSON: a server error worth retrying, as litellm treats it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 500, {})


class APITimeoutError(Exception):
    """No complete reply within the model's `timeout`."""


def _error(status: int, raw: bytes, headers: Mapping[str, str]) -> APIStatusError:
    text = raw.decode("utf-8", "replace")
    message = text
    try:
        payload = json.loads(text)
        error = payload.get("error") if isinstance(payload, dict) else None
        if isinstance(error, dict) and error.get("message"):
            message = str(error["message"])
        elif isinstance(error, str):
            message = error
    except ValueError:
        pass
    lowered = text.lower()
    if status == 400 and any(s in lowered for s in _CONTEXT_WINDOW):
        return ContextWindowExceededError(message, status, headers)
    if status == 400 and any(s in lowered for s in _CONTENT_POLICY):
        return ContentPolicyViolationError(message, status, headers)
    return APIStatusError(message or f"HTTP {status}", status, headers)


class OpenAIHTTPClient:
    """An aiohttp session for one model while requests are being sent (`acquire`/`release` around each batch
    of requests, so that overlapping batches share it and none outlives its event loop); `complete` posts one
    chat request."""

    def __init__(self, config: ModelConfig) -> None:
        assert config.api_base
        self.url = config.api_base.rstrip("/") + "/chat/completions"
        self.timeout = config.timeout
        self.limit = config.concurrency
        self._session: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._users = 0

    def _headers(self) -> dict[str, str]:
        key = os.environ.get("OPENAI_API_KEY")
        if not key:  # the message litellm's OpenAI client gives, so that it is classified the same way
            raise APIStatusError(
                "The api_key client option must be set either by passing api_key to the client or by setting "
                "the OPENAI_API_KEY environment variable",
                401,
                {},
            )
        return {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def _open(self) -> Any:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.limit, limit_per_host=self.limit),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
            self._loop = loop
        return self._session

    @staticmethod
    def body(arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON body litellm's OpenAI route sends for these call arguments."""
        body = {k: v for k, v in arguments.items() if k not in _CALL_ONLY}
        body["model"] = str(arguments["model"])[len(_PREFIX) :]
        body.update(arguments.get("extra_body") or {})
        return body

    async def complete(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Post one chat request; the reply's JSON object, or an exception `classify` understands."""
        headers = self._headers()
        session = await self._open()
        data = json.dumps(self.body(arguments)).encode()
        try:
            async with session.post(self.url, data=data, headers=headers) as reply:
                raw = await reply.read()
                if reply.status >= 400:
                    raise _error(reply.status, raw, reply.headers)
        except asyncio.TimeoutError:
            raise APITimeoutError(f"Request timed out. - timeout value={self.timeout:g}") from None
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise MalformedResponseError(str(exc)) from None
        if not isinstance(payload, dict):
            raise MalformedResponseError("the reply is not a JSON object")
        return payload

    async def acquire(self) -> None:
        self._users += 1

    async def release(self) -> None:
        self._users = max(0, self._users - 1)
        if self._users == 0:
            await self.aclose()

    async def aclose(self) -> None:
        if self._session is not None and not self._session.closed:
            try:
                await self._session.close()
            except RuntimeError:  # its event loop is gone: nothing left to close
                pass
        self._session = None
