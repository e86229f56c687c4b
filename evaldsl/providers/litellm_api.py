"""The `litellm` provider: chat requests in, generations out, via `litellm.acompletion` with retries and AIMD.

litellm is imported lazily (on the first request) with its remote cost-map fetch, telemetry and banners off.
Requests run with at most `config.concurrency` in flight; rate limits halve that limit, successes restore it.
Retryable failures (429, 5xx, timeouts, connection errors) are retried with jittered exponential backoff up to
`config.max_retries` times; every failure ends up as a result with `error` set, never as an exception.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import random
import re
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Any

from ..compile.model_config import GenerationParams, ModelConfig
from ..compile.tools import normalize_call, openai_tools
from .base import ProviderError, request_fields
from .fanout import fan_out
from .openai_http import OpenAIHTTPClient, lean_route
from .records import (
    ChoiceRequest,
    ChoiceScores,
    GenerateRequest,
    Generation,
    TextRequest,
    TextScore,
)
from .retry import AdaptiveLimiter, Failure, backoff_delay, classify

_CREDENTIAL_NAME = re.compile(
    r"(^|_)(key|secret|password|passwd|credentials|(session|auth|ad|access|bearer|id|refresh)_token)$"
)
_LOGGERS = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
# litellm runs the first part of each call in a worker thread, then awaits the coroutine that returns: a call
# cancelled during that phase leaks a never-awaited coroutine (a RuntimeWarning). Calls cut short when a
# caller stops early get this long to pass that phase before they are cancelled.
_ABANDON_GRACE_S = 2.0


def import_litellm() -> Any:
    """Import litellm without network access at import time and with its chatter switched off."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    try:
        import litellm
    except Exception as exc:  # ImportError, or a broken installation
        raise ProviderError(
            f"cannot import litellm ({type(exc).__name__}: {exc}); pip install litellm"
        ) from exc
    litellm.telemetry = False
    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banner on errors
    litellm.set_verbose = False
    if "LITELLM_LOG" not in os.environ:  # a user debugging litellm sets LITELLM_LOG=DEBUG and keeps its logs
        for name in _LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    return litellm


def _forget(call: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned call's outcome so that asyncio does not log it as never retrieved."""
    if not call.cancelled():
        call.exception()


class LiteLLMProvider:
    """A model served by any API litellm knows (`openai/...`, `anthropic/...`, `hosted_vllm/...`).

    API keys come from the environment only (litellm's variables, e.g. OPENAI_API_KEY) and never appear in
    `identity()` or error texts. `retry_base_delay`/`retry_max_delay` shape the backoff (seconds). Models that
    `openai_http.lean_route` accepts go over the lean HTTP client (same requests, results and cache keys; litellm
    is then not even imported); `lean` forces the choice either way (tests compare the two paths).
    """

    supports_loglikelihood = False

    def __init__(
        self,
        config: ModelConfig,
        *,
        base_dir: Path | None = None,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 60.0,
        seed: int | None = None,
        lean: bool | None = None,
    ) -> None:
        where = f"model {config.name!r}"
        if not config.id:
            raise ProviderError(f'{where}: a litellm model needs an `id` such as "openai/gpt-4o-mini"')
        secrets = sorted(k for k in config.extra if _CREDENTIAL_NAME.search(k.lower()))
        if secrets:
            raise ProviderError(
                f"{where}: `extra` must not hold credentials ({', '.join(secrets)}); "
                "API keys come from the environment (e.g. OPENAI_API_KEY)"
            )
        if config.concurrency < 1:
            raise ProviderError(f"{where}: concurrency must be at least 1 (got {config.concurrency})")
        if config.max_retries < 0:
            raise ProviderError(f"{where}: max_retries must not be negative (got {config.max_retries})")
        if config.timeout <= 0:
            raise ProviderError(f"{where}: timeout must be positive (got {config.timeout})")
        if importlib.util.find_spec("litellm") is None:
            raise ProviderError(f"{where}: the litellm package is not installed (pip install litellm)")
        self.config = config
        self.base_dir = base_dir
        self.retry_base_delay = retry_base_delay
        self.retry_max_delay = retry_max_delay
        self.limiter = AdaptiveLimiter(config.concurrency)
        self.retries = 0  # retries made so far (all requests)
        self._rng = random.Random(seed)
        self._litellm: Any = None
        self._schema_support: bool | None = None
        self._priced: bool | None = None  # None = not known yet; False = litellm has no price for this model
        use_lean = lean_route(config) if lean is None else lean
        self._lean = OpenAIHTTPClient(config) if use_lean and config.api_base else None

    def request_key(self, request: Any) -> dict[str, Any]:
        return request_fields(request)

    def identity(self) -> dict[str, Any]:
        return {
            "provider": "litellm",
            "id": self.config.id,
            "api_base": self.config.api_base,
            "extra": dict(sorted(self.config.extra.items())),
        }

    # -- generation ----------------------------------------------------------------------------------------
    async def generate(self, requests: Sequence[GenerateRequest]) -> AsyncIterator[tuple[int, Generation]]:
        if not requests:
            return
        if self._litellm is None and self._lean is None:
            self._litellm = import_litellm()
        abandoned: set[asyncio.Future[Any]] = set()
        if self._lean is not None:
            await self._lean.acquire()
        try:
            answers = fan_out(requests, self.config.concurrency, lambda request: self._complete(request, abandoned))
            async with aclosing(answers) as stream:  # its workers are cancelled before the cleanup below
                async for item in stream:
                    yield item
        finally:
            if abandoned:
                _, still_running = await asyncio.wait(abandoned, timeout=_ABANDON_GRACE_S)
                for call in still_running:
                    call.cancel()
                await asyncio.gather(*still_running, return_exceptions=True)
            if self._lean is not None:
                await self._lean.release()

    def _arguments(self, request: GenerateRequest) -> dict[str, Any]:
        params = request.params
        kwargs: dict[str, Any] = {
            "model": self.config.id,
            "messages": [dict(message) for message in request.messages],
            "temperature": params.temperature,
            "max_tokens": params.max_tokens,
            "timeout": self.config.timeout,
            "num_retries": 0,  # retries are ours (with backoff and AIMD)
        }
        if params.top_p is not None:
            kwargs["top_p"] = params.top_p
        if params.stop:
            kwargs["stop"] = list(params.stop)
        if params.seed is not None:
            kwargs["seed"] = params.seed
        if self.config.api_base:
            kwargs["api_base"] = self.config.api_base
        if self.config.tools:
            kwargs["tools"] = openai_tools(self.config.tools)
        if request.response_format is not None and self._lean is None and self._supports_schema():
            kwargs["response_format"] = dict(request.response_format)
        kwargs.update(self.config.extra)
        return kwargs

    def _supports_schema(self) -> bool:
        """Whether litellm knows this model accepts a JSON-schema `response_format` (asked once per provider)."""
        if self._schema_support is None:
            try:
                self._schema_support = bool(self._litellm.supports_response_schema(model=self.config.id))
            except Exception:  # noqa: BLE001 - unknown models: ask for plain text and parse it
                self._schema_support = False
        return self._schema_support

    async def _complete(self, request: GenerateRequest, abandoned: set[asyncio.Future[Any]]) -> Generation:
        outcome = await self._call(self._arguments(request), abandoned)
        if isinstance(outcome, Generation):
            return outcome
        return self._result_from_json(*outcome) if self._lean is not None else self._result(*outcome)

    async def _call(
        self, kwargs: dict[str, Any], abandoned: set[asyncio.Future[Any]]
    ) -> Generation | tuple[Any, float]:
        """One completion with retries: (response, latency), or a Generation carrying the final error."""
        attempts = self.config.max_retries + 1
        for attempt in range(attempts):
            epoch = await self.limiter.acquire()
            started = time.perf_counter()
            failure: Failure | None = None
            call = asyncio.ensure_future(
                self._lean.complete(kwargs) if self._lean is not None else self._litellm.acompletion(**kwargs)
            )
            try:
                response = await asyncio.shield(call)
            except asyncio.CancelledError:
                if not call.done():  # see _ABANDON_GRACE_S
                    abandoned.add(call)
                    call.add_done_callback(_forget)
                raise
            except Exception as exc:
                failure = classify(exc)
            finally:
                self.limiter.release()
            latency = time.perf_counter() - started
            if failure is None:
                self.limiter.record_success()
                return response, latency
            if failure.kind == "rate_limit":
                self.limiter.record_rate_limit(epoch)
            if not failure.retryable or attempt + 1 == attempts:
                return Generation(error=self.describe(failure, attempt + 1), latency_s=latency)
            self.retries += 1
            await asyncio.sleep(
                backoff_delay(
                    attempt,
                    base=self.retry_base_delay,
                    cap=self.retry_max_delay,
                    retry_after=failure.retry_after,
                    rng=self._rng,
                )
            )
        raise AssertionError("unreachable: the loop returns on its last attempt")

    def _result(self, response: Any, latency: float) -> Generation:
        try:
            choice = response.choices[0]
            content = choice.message.content
            finish_reason = choice.finish_reason
        except (AttributeError, IndexError, TypeError, KeyError) as exc:
            return Generation(error=f"malformed response from {self.config.id}: {exc}", latency_s=latency)
        calls = getattr(choice.message, "tool_calls", None)
        tool_calls = tuple(normalize_call(c) for c in calls) if calls else None
        usage = getattr(response, "usage", None)
        prompt_tokens = getattr(usage, "prompt_tokens", None)
        completion_tokens = getattr(usage, "completion_tokens", None)
        return Generation(
            text=content if isinstance(content, str) else ("" if content is None else str(content)),
            finish_reason=str(finish_reason) if finish_reason is not None else None,
            prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
            completion_tokens=completion_tokens if isinstance(completion_tokens, int) else None,
            cost=self._cost(response),
            latency_s=latency,
            tool_calls=tool_calls,
        )

    def _result_from_json(self, response: dict[str, Any], latency: float) -> Generation:
        """`_result` for the lean path's JSON reply (no price: litellm knows none for these models)."""
        try:
            choice = response["choices"][0]
            content = choice["message"]["content"]
            finish_reason = choice.get("finish_reason")
        except (AttributeError, IndexError, TypeError, KeyError) as exc:
            return Generation(error=f"malformed response from {self.config.id}: {exc!r}", latency_s=latency)
        usage = response.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        prompt_tokens = usage.get("prompt_tokens")
        completion_tokens = usage.get("completion_tokens")
        return Generation(
            text=content if isinstance(content, str) else ("" if content is None else str(content)),
            finish_reason=str(finish_reason) if finish_reason is not None else None,
            prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
            completion_tokens=completion_tokens if isinstance(completion_tokens, int) else None,
            cost=None,
            latency_s=latency,
        )

    def _cost(self, response: Any) -> float | None:
        """The call's cost in USD when litellm has a price for the model; None (and remembered) otherwise."""
        if self._priced is False:
            return None
        hidden = getattr(response, "_hidden_params", None)
        known = hidden.get("response_cost") if isinstance(hidden, dict) else None
        if isinstance(known, (int, float)) and not isinstance(known, bool):
            self._priced = True
            return float(known)
        try:
            cost = self._litellm.completion_cost(completion_response=response)
        except Exception:  # unknown model, missing usage...: litellm raises; no price, and don't ask again
            self._priced = False
            return None
        if not isinstance(cost, (int, float)):
            self._priced = False
            return None
        self._priced = True
        return float(cost)

    # -- errors --------------------------------------------------------------------------------------------
    def describe(self, failure: Failure, attempts: int) -> str:
        """A precise, secret-free error text for a failed request."""
        where = self.config.api_base or "the provider's default endpoint"
        status = f" (HTTP {failure.status})" if failure.status and failure.kind != "connection" else ""
        if failure.kind == "connection" and failure.refused:
            text = f"connection refused at {where} (is the server running?)"
        elif failure.kind == "connection" and failure.unresolved:
            text = f"cannot resolve the host of {where} (check api_base and the network): {failure.detail}"
        elif failure.kind == "connection":
            text = f"connection to {where} failed: {failure.detail}"
        elif failure.kind == "auth":
            text = f"authentication failed for {self.config.id}{status}: {failure.detail}{self._key_hint()}"
        elif failure.kind == "not_found":
            text = f"model or endpoint not found ({self.config.id} at {where}){status}: {failure.detail}"
        elif failure.kind == "timeout":
            text = f"request timed out after {self.config.timeout:g} s: {failure.detail}"
        else:
            text = f"{failure.label}{status}: {failure.detail}"
        if failure.retryable and attempts > 1:
            text += f" (gave up after {attempts} attempts)"
        return text

    def _key_hint(self) -> str:
        try:
            if self._litellm is None:  # the lean path: litellm knows which variable the provider reads
                self._litellm = import_litellm()
            report = self._litellm.validate_environment(model=self.config.id)
        except Exception:
            return ""
        missing = [str(k) for k in (report or {}).get("missing_keys") or []]
        if missing:
            return f" — litellm expects the environment variable {' / '.join(missing)}, which is not set"
        return " — the API key in the environment was rejected"

    # -- log-likelihoods: only a judge's verdicts, from the first token's top log-probabilities ----------------
    def score_choices(self, requests: Sequence[ChoiceRequest]) -> AsyncIterator[tuple[int, ChoiceScores]]:
        if self.config.logprobs and all(r.messages for r in requests):
            return self._score_replies(requests)
        raise ProviderError(
            f"model {self.config.name!r}: litellm models cannot give log-likelihoods "
            "(choice mode needs a local `hf` model, or score choices by generation instead)"
        )

    async def _score_replies(self, requests: Sequence[ChoiceRequest]) -> AsyncIterator[tuple[int, ChoiceScores]]:
        """Each allowed reply's log-probability as the first token of the model's answer (`top_logprobs`);
        a reply outside the returned top tokens gets the lowest of them (an upper bound of its own)."""
        if self._litellm is None:
            self._litellm = import_litellm()
        abandoned: set[asyncio.Future[Any]] = set()
        for index, request in enumerate(requests):
            asked = GenerateRequest(messages=request.messages, params=GenerationParams(max_tokens=1))
            kwargs = self._arguments(asked)
            kwargs.update(logprobs=True, top_logprobs=20)
            outcome = await self._call(kwargs, abandoned)
            if isinstance(outcome, Generation):
                yield index, ChoiceScores(error=outcome.error)
                continue
            yield index, reply_scores(outcome[0], request.continuations, self.config.id)

    def score_text(self, requests: Sequence[TextRequest]) -> AsyncIterator[tuple[int, TextScore]]:
        raise ProviderError(
            f"model {self.config.name!r}: litellm models cannot give log-likelihoods "
            "(perplexity mode needs a local `hf` model)"
        )

    async def aclose(self) -> None:
        # litellm's HTTP clients live in its own process-wide cache, shared with other litellm models: they
        # are not ours to close. The lean path's session is.
        if self._lean is not None:
            await self._lean.aclose()


def reply_scores(response: Any, replies: Sequence[str], model: str) -> ChoiceScores:
    """The log-probability of each reply as the first token of the answer, from the response's `top_logprobs`:
    a token equal to the reply (spaces aside), else the likeliest token the reply starts with, else the lowest
    returned log-probability."""
    try:
        first = response.choices[0].logprobs.content[0]
        top = [(str(_field(t, "token")).strip(), float(_field(t, "logprob"))) for t in _field(first, "top_logprobs")]
    except (AttributeError, IndexError, TypeError, KeyError, ValueError):
        return ChoiceScores(error=f"{model} returned no token log-probabilities (does it support `logprobs`?)")
    if not top:
        return ChoiceScores(error=f"{model} returned no top log-probabilities")
    floor = min(lp for _, lp in top)
    scores = []
    for reply in replies:
        want = reply.strip()
        exact = [lp for token, lp in top if token == want]
        prefix = [lp for token, lp in top if token and want.startswith(token)]
        scores.append(max(exact) if exact else max(prefix) if prefix else floor)
    greedy = max(top, key=lambda t: t[1])[0]  # the token greedy decoding would pick
    return ChoiceScores(logliks=tuple(scores), is_greedy=tuple(reply.strip() == greedy for reply in replies),
                        n_tokens=tuple(1 for _ in scores))  # fmt: skip


def _field(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)
