"""Tests of the litellm provider: requests in (litellm mock_response, a local fake server), results out."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from evaldsl.compile.model_config import ModelConfig
from evaldsl.providers import load_provider
from evaldsl.providers.base import Provider, ProviderError
from evaldsl.providers.litellm_api import LiteLLMProvider
from evaldsl.providers.records import ChoiceRequest, GenerateRequest, Generation, GenerationParams, TextRequest
from tests import fakeserver
from tests.fakeserver import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sk-test-do-not-leak-0123456789"


@pytest.fixture(autouse=True)
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


@pytest.fixture(autouse=True, params=["lean", "litellm"])
def call_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs over both paths: models at a local api_base take the lean HTTP path unless it is off."""
    if request.param == "litellm":
        monkeypatch.setattr("evaldsl.providers.litellm_api.lean_route", lambda config: False)
    return str(request.param)


@pytest.fixture
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


def model(api_base: str | None = None, **fields: Any) -> ModelConfig:
    values: dict[str, Any] = {
        "name": "api",
        "provider": "litellm",
        "id": "openai/fake-model",
        "api_base": api_base,
        "max_retries": 3,
        "timeout": 5.0,
        "concurrency": 4,
    }
    values.update(fields)
    return ModelConfig(**values)


def provider(api_base: str | None = None, *, max_delay: float = 0.05, **fields: Any) -> LiteLLMProvider:
    config = model(api_base, **fields)
    return LiteLLMProvider(config, retry_base_delay=0.01, retry_max_delay=max_delay, seed=0)


def ask(text: str, **params: Any) -> GenerateRequest:
    return GenerateRequest(messages=({"role": "user", "content": text},), params=GenerationParams(**params))


def run(p: LiteLLMProvider, requests: Sequence[GenerateRequest]) -> list[tuple[int, Generation]]:
    async def gather() -> list[tuple[int, Generation]]:
        return [item async for item in p.generate(requests)]

    return asyncio.run(gather())


def results(p: LiteLLMProvider, requests: Sequence[GenerateRequest]) -> list[Generation]:
    pairs = run(p, requests)
    assert sorted(i for i, _ in pairs) == list(range(len(requests)))
    return [g for _, g in sorted(pairs, key=lambda pair: pair[0])]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- construction, identity, laziness ----------------------------------------------------------------------
def test_importing_providers_does_not_import_litellm_or_torch() -> None:
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "import evaldsl.providers, evaldsl.providers.litellm_api\n"
        "import evaldsl.providers.mock, evaldsl.providers.retry\n"
        "from evaldsl.compile.model_config import ModelConfig\n"
        "p = evaldsl.providers.load_provider(ModelConfig(name='m', provider='litellm', id='openai/x',"
        " base_dir=Path('.')))\n"
        "p.identity()\n"
        "bad = [m for m in ('litellm', 'torch', 'transformers', 'openai') if m in sys.modules]\n"
        "print('imported:', bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_load_provider_and_identity(tmp_path: Path) -> None:
    p = load_provider(model("http://127.0.0.1:1/v1", extra={"drop_params": True}, base_dir=tmp_path))
    assert isinstance(p, LiteLLMProvider)
    assert isinstance(p, Provider)
    assert p.supports_loglikelihood is False
    assert p.identity() == {
        "provider": "litellm",
        "id": "openai/fake-model",
        "api_base": "http://127.0.0.1:1/v1",
        "extra": {"drop_params": True},
    }
    assert SECRET not in repr(p.identity())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": ""}, "needs an `id`"),
        ({"extra": {"api_key": "sk-x"}}, "must not hold credentials (api_key)"),
        ({"extra": {"aws_secret_access_key": "x"}}, "must not hold credentials"),
        ({"concurrency": 0}, "concurrency"),
        ({"max_retries": -1}, "max_retries"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_configurations_are_clear_errors(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ProviderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        LiteLLMProvider(model(**fields))


def test_pricing_settings_in_extra_are_not_mistaken_for_credentials() -> None:
    LiteLLMProvider(model(extra={"input_cost_per_token": 0.0, "max_completion_tokens": 5}))


def test_log_likelihoods_are_refused() -> None:
    p = provider()
    with pytest.raises(ProviderError, match="cannot give log-likelihoods"):
        p.score_choices([ChoiceRequest(context="a", continuations=(" b",))])
    with pytest.raises(ProviderError, match="cannot give log-likelihoods"):
        p.score_text([TextRequest(text="a b")])
    asyncio.run(p.aclose())


# -- litellm's own mock_response -----------------------------------------------------------------------------
def test_mock_response_basic_path_with_cost_for_a_known_model() -> None:
    p = provider(id="gpt-4o-mini", extra={"mock_response": "Paris"})
    first, second = results(p, [ask("Capital of France?"), ask("Again?")])
    assert (first.text, first.finish_reason, first.error) == ("Paris", "stop", None)
    assert first.prompt_tokens and first.completion_tokens
    assert first.cost is not None and first.cost > 0
    assert second.text == "Paris"
    assert run(p, []) == []


def test_mock_response_unknown_model_has_no_cost_and_is_not_priced_again() -> None:
    p = provider(id="openai/no-such-model-anywhere", extra={"mock_response": "ok"})
    [result] = results(p, [ask("hi")])
    assert (result.text, result.cost) == ("ok", None)
    p._litellm.completion_cost = None  # would raise TypeError if it were called again
    [again] = results(p, [ask("hi")])
    assert (again.text, again.cost) == ("ok", None)


def test_mock_rate_limit_error_is_retried_then_recorded() -> None:
    p = provider(id="gpt-4o-mini", max_retries=2, extra={"mock_response": "litellm.RateLimitError"})
    [result] = results(p, [ask("hi")])
    assert result.error is not None and result.error.startswith("rate limited (HTTP 429)")
    assert "gave up after 3 attempts" in result.error
    assert p.retries == 2
    assert p.limiter.limit < 4


# -- against the fake OpenAI-compatible server --------------------------------------------------------------
def test_success_sends_the_parameters_and_parses_the_reply(fake_openai_server: FakeOpenAIServer) -> None:
    # `fake_openai_server` is the shared fixture (tests/fakeserver.py, re-exported by tests/conftest.py)
    p = provider(fake_openai_server.api_base, extra={"frequency_penalty": 0.5})
    request = ask("what is up", temperature=0.5, max_tokens=7, top_p=0.9, stop=("\n",), seed=3)
    [result] = results(p, [request])
    assert result == Generation(
        text="what is up",
        finish_reason="stop",
        prompt_tokens=3,
        completion_tokens=3,
        cost=None,
        latency_s=result.latency_s,
    )
    assert result.latency_s > 0
    [body] = fake_openai_server.bodies
    assert body["model"] == "fake-model"
    assert body["messages"] == [{"role": "user", "content": "what is up"}]
    assert (body["temperature"], body["max_tokens"], body["top_p"], body["seed"]) == (0.5, 7, 0.9, 3)
    assert body["stop"] == ["\n"]
    assert body["frequency_penalty"] == 0.5
    assert "num_retries" not in body and "timeout" not in body
    assert fake_openai_server.headers[0]["authorization"] == f"Bearer {SECRET}"


def test_unset_parameters_are_not_sent(server: FakeOpenAIServer) -> None:
    results(provider(server.api_base), [ask("hi")])
    [body] = server.bodies
    assert not {"top_p", "stop", "seed"} & set(body)


def test_length_finish_reason_and_empty_content(server: FakeOpenAIServer) -> None:
    p = provider(server.api_base)
    long, empty = results(p, [ask("a b c d e f", max_tokens=2), ask("")])
    assert (long.text, long.finish_reason, long.truncated) == ("a b", "length", True)
    assert (empty.text, empty.error) == ("", None)


def test_results_come_in_completion_order() -> None:
    def reply(body: dict[str, Any]) -> str:
        text = fakeserver.last_user_message(body)
        time.sleep(0.3 if text == "slow" else 0.0)
        return text

    with FakeOpenAIServer(reply) as server:
        pairs = run(provider(server.api_base), [ask("slow"), ask("fast")])
    assert [i for i, _ in pairs] == [1, 0]
    assert [g.text for _, g in pairs] == ["fast", "slow"]


def test_concurrency_never_exceeds_the_limit() -> None:
    with FakeOpenAIServer(latency=0.05) as server:
        p = provider(server.api_base, concurrency=3)
        out = results(p, [ask(f"q{i}") for i in range(15)])
        assert server.max_in_flight == 3
    assert [g.text for g in out] == [f"q{i}" for i in range(15)]
    assert p.limiter.peak_in_flight == 3


def test_rate_limit_is_retried_and_shrinks_the_limiter() -> None:
    with FakeOpenAIServer(latency=0.02) as server:
        server.fail_next(3, "429", retry_after=0)
        p = provider(server.api_base, concurrency=4)
        out = results(p, [ask(f"q{i}") for i in range(4)])
        assert server.count == 7
    assert all(g.error is None for g in out)
    assert [g.text for g in out] == ["q0", "q1", "q2", "q3"]
    assert p.retries == 3
    assert p.limiter.decreases >= 1
    assert p.limiter.limit < 4


def test_retry_after_is_honoured(server: FakeOpenAIServer) -> None:
    server.fail_next(1, "429", retry_after=0.4)
    p = provider(server.api_base, max_delay=5.0)
    started = time.perf_counter()
    [result] = results(p, [ask("hi")])
    assert result.error is None
    assert time.perf_counter() - started >= 0.4
    assert server.count == 2


def test_limiter_recovers_after_successes(server: FakeOpenAIServer) -> None:
    server.fail_next(1, "429", retry_after=0)
    p = provider(server.api_base, concurrency=4)
    results(p, [ask("q")])
    assert p.limiter.limit == 2
    results(p, [ask(f"q{i}") for i in range(12)])
    assert p.limiter.limit == 4


@pytest.mark.parametrize("kind", ["500", "503"])
def test_server_errors_are_retried(server: FakeOpenAIServer, kind: fakeserver.FaultKind) -> None:
    server.fail_next(2, kind)
    p = provider(server.api_base)
    [result] = results(p, [ask("hello")])
    assert (result.text, result.error) == ("hello", None)
    assert server.count == 3
    assert p.limiter.limit == 4  # only rate limits shrink the limiter


def test_server_errors_give_up_after_max_retries(server: FakeOpenAIServer) -> None:
    server.fail_next(10, "500")
    [result] = results(provider(server.api_base, max_retries=2), [ask("hello")])
    assert result.error == (
        "server error (HTTP 500): The server had an error while processing your request"
        " (gave up after 3 attempts)"
    )
    assert server.count == 3


def test_timeout_is_retried(server: FakeOpenAIServer) -> None:
    server.fail_next(1, "hang", hang_s=5.0)
    [result] = results(provider(server.api_base, timeout=0.3), [ask("hello")])
    assert (result.text, result.error) == ("hello", None)
    assert server.count == 2


def test_timeouts_give_up_with_a_clear_message(server: FakeOpenAIServer) -> None:
    server.fail_next(2, "hang", hang_s=5.0)
    [result] = results(provider(server.api_base, timeout=0.2, max_retries=1), [ask("hello")])
    assert result.error is not None
    assert result.error.startswith("request timed out after 0.2 s")
    assert result.error.endswith("(gave up after 2 attempts)")


def test_malformed_body_is_recorded_as_an_error(server: FakeOpenAIServer) -> None:
    server.fail_next(2, "malformed")
    [result] = results(provider(server.api_base, max_retries=1), [ask("hello")])
    assert result.error is not None and result.text == ""
    assert "gave up after 2 attempts" in result.error
    assert server.count == 2


def test_authentication_error_fails_at_once(server: FakeOpenAIServer) -> None:
    server.fail_next(1, "401")
    p = provider(server.api_base)
    [result] = results(p, [ask("hello")])
    assert server.count == 1
    assert p.retries == 0
    assert result.error is not None
    assert result.error.startswith("authentication failed for openai/fake-model (HTTP 401): Incorrect API")
    assert "the API key in the environment was rejected" in result.error
    assert SECRET not in result.error


def test_missing_key_names_the_variable(server: FakeOpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    p = provider(server.api_base)
    [result] = results(p, [ask("hello")])
    assert server.count == 0
    assert p.retries == 0
    assert result.error is not None and result.error.startswith("authentication failed")
    assert "litellm expects the environment variable OPENAI_API_KEY, which is not set" in result.error


@pytest.mark.parametrize(
    ("kind", "start"),
    [
        ("404", "model or endpoint not found (openai/fake-model at http://127.0.0.1:"),
        ("400", "prompt exceeds the model's context window (HTTP 400)"),
    ],
)
def test_client_errors_are_not_retried(server: FakeOpenAIServer, kind: fakeserver.FaultKind, start: str):
    server.fail_next(1, kind)
    [result] = results(provider(server.api_base), [ask("hello")])
    assert server.count == 1
    assert result.error is not None and result.error.startswith(start), result.error


def test_connection_refused_after_retries() -> None:
    base = f"http://127.0.0.1:{closed_port()}/v1"
    p = provider(base, max_retries=2)
    [result] = results(p, [ask("hello")])
    assert result.error == f"connection refused at {base} (is the server running?) (gave up after 3 attempts)"
    assert p.retries == 2


def test_one_bad_request_does_not_spoil_the_others(server: FakeOpenAIServer) -> None:
    server.fail_next(1, "400")
    out = results(provider(server.api_base, concurrency=1), [ask("a"), ask("b"), ask("c")])
    assert [g.error is None for g in out] == [False, True, True]
    assert [g.text for g in out[1:]] == ["b", "c"]


def test_stopping_early_cancels_the_outstanding_requests() -> None:
    with FakeOpenAIServer(latency=0.2) as server:
        p = provider(server.api_base, concurrency=2)

        async def first_only() -> tuple[int, Generation]:
            stream = p.generate([ask(f"q{i}") for i in range(10)])
            item = await stream.__anext__()
            await stream.aclose()  # type: ignore[attr-defined]
            return item

        index, result = asyncio.run(first_only())
        time.sleep(0.3)
        assert result.error is None and result.text == f"q{index}"
        assert server.count <= 4  # the other 8 requests were never sent
    assert p.limiter.in_flight == 0
