"""The lean HTTP path of the litellm provider against litellm itself, on a local OpenAI-compatible server: the
same request bodies, results, errors, retries and rate-limit behaviour, and the same cache keys."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time
from collections.abc import Sequence
from typing import Any

import pytest

from evaldsl.compile.model_config import ModelConfig
from evaldsl.providers.litellm_api import LiteLLMProvider
from evaldsl.providers.openai_http import lean_route
from evaldsl.providers.records import GenerateRequest, Generation, GenerationParams
from evaldsl.run.model_calls import cache_key
from tests.fakeserver import FakeOpenAIServer

SECRET = "sk-test-do-not-leak-0123456789"


@pytest.fixture(autouse=True)
def openai_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)


def config(api_base: str | None, **fields: Any) -> ModelConfig:
    values: dict[str, Any] = {
        "name": "api", "provider": "litellm", "id": "openai/fake-model", "api_base": api_base,
        "max_retries": 2, "timeout": 1.0, "concurrency": 4,
    }  # fmt: skip
    values.update(fields)
    return ModelConfig(**values)


def ask(text: str, **params: Any) -> GenerateRequest:
    return GenerateRequest(messages=({"role": "user", "content": text},), params=GenerationParams(**params))


def answers(p: LiteLLMProvider, requests: Sequence[GenerateRequest]) -> list[Generation]:
    async def gather() -> list[tuple[int, Generation]]:
        try:
            return [item async for item in p.generate(requests)]
        finally:
            await p.aclose()

    pairs = asyncio.run(gather())
    assert sorted(i for i, _ in pairs) == list(range(len(requests)))
    return [g for _, g in sorted(pairs, key=lambda pair: pair[0])]


def both(
    requests: Sequence[GenerateRequest], setup: Any = None, **fields: Any
) -> dict[bool, tuple[list[Generation], FakeOpenAIServer, LiteLLMProvider]]:
    """Run `requests` over each path against its own fresh server (prepared by `setup`)."""
    out = {}
    for lean in (True, False):
        with FakeOpenAIServer() as server:
            if setup is not None:
                setup(server)
            p = LiteLLMProvider(
                config(server.api_base, **fields), retry_base_delay=0.01, retry_max_delay=0.05, seed=0, lean=lean
            )
            assert (p._lean is not None) is lean
            out[lean] = (answers(p, requests), server, p)
    return out


def comparable(g: Generation) -> dict[str, Any]:
    fields = dataclasses.asdict(g)
    fields.pop("latency_s")
    return fields


def test_lean_route_only_for_unknown_openai_models_at_an_explicit_endpoint() -> None:
    assert lean_route(config("http://127.0.0.1:1/v1"))
    assert lean_route(config("http://127.0.0.1:1/v1", id="openai/meta-llama/Llama-3.1-8B-Instruct"))
    assert lean_route(config("http://127.0.0.1:1/v1", extra={"extra_body": {"top_k": 5}, "user": "me"}))
    assert not lean_route(config(None))  # the provider's default endpoint: litellm
    assert not lean_route(config("http://127.0.0.1:1/v1", id="openai/gpt-4o-mini"))  # priced, mapped params
    assert not lean_route(config("http://127.0.0.1:1/v1", id="anthropic/some-model"))
    assert not lean_route(config("http://127.0.0.1:1/v1", extra={"logit_bias": {"1": 2}}))
    assert not lean_route(config("http://127.0.0.1:1/v1", extra={"extra_body": "not a mapping"}))


def test_same_bodies_results_and_cache_keys() -> None:
    requests = [
        ask("hello there"),
        ask("one two three four five", max_tokens=2),  # truncated: finish_reason "length"
        ask("sampled", temperature=0.7, top_p=0.9, seed=3, stop=("\n", "END")),
        GenerateRequest(
            messages=({"role": "system", "content": "Be brief."}, {"role": "user", "content": "why?"}),
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
        ),
    ]
    runs = both(requests, extra={"extra_body": {"top_k": 5}, "presence_penalty": 0.5})
    (lean, lean_server, _), (slow, slow_server, _) = runs[True], runs[False]
    assert [comparable(g) for g in lean] == [comparable(g) for g in slow]
    assert lean[1].finish_reason == "length" and lean[0].text == "hello there" and lean[0].prompt_tokens == 2

    def by_content(bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(bodies, key=lambda b: str(b["messages"]))

    assert by_content(lean_server.bodies) == by_content(slow_server.bodies)
    assert lean_server.bodies[0]["top_k"] == 5 and lean_server.bodies[0]["model"] == "fake-model"
    assert lean_server.headers[0]["authorization"] == f"Bearer {SECRET}"
    same = config("http://127.0.0.1:1/v1")
    pair = [LiteLLMProvider(same, lean=lean) for lean in (True, False)]
    keys = [[cache_key(p.identity(), "generate", p.request_key(r)) for r in requests] for p in pair]
    assert keys[0] == keys[1] and pair[0].identity() == pair[1].identity()


@pytest.mark.parametrize(
    ("kind", "retried"),
    [("429", True), ("500", True), ("503", True), ("malformed", True), ("401", False), ("404", False),
     ("400", False)],
)  # fmt: skip
def test_same_errors_and_retries(kind: str, retried: bool) -> None:
    runs = both([ask("hello")], lambda server: server.fail_next(5, kind, retry_after=0))  # type: ignore[arg-type]
    (lean, lean_server, lean_p), (slow, slow_server, slow_p) = runs[True], runs[False]
    port = f":{lean_server.url.rsplit(':', 1)[1]}"
    assert lean[0].error is not None
    assert lean[0].error.replace(port, ":PORT") == (slow[0].error or "").replace(
        f":{slow_server.url.rsplit(':', 1)[1]}", ":PORT"
    )
    assert lean_server.count == slow_server.count == (3 if retried else 1)
    assert lean_p.retries == slow_p.retries == (2 if retried else 0)
    assert lean_p.limiter.decreases == slow_p.limiter.decreases == (2 if kind == "429" else 0)
    assert SECRET not in lean[0].error


def test_recovers_after_transient_failures_like_litellm() -> None:
    runs = both([ask("hello")], lambda server: server.fail_next(2, "503"))
    assert [comparable(g) for g in runs[True][0]] == [comparable(g) for g in runs[False][0]]
    assert runs[True][0][0].text == "hello" and runs[True][1].count == 3


def test_retry_after_is_honoured() -> None:
    for lean in (True, False):
        with FakeOpenAIServer() as server:
            server.fail_next(1, "429", retry_after=0.4)
            p = LiteLLMProvider(config(server.api_base), retry_base_delay=0.01, retry_max_delay=5, seed=0, lean=lean)
            started = time.perf_counter()
            [result] = answers(p, [ask("hi")])
            assert result.text == "hi" and time.perf_counter() - started >= 0.4
            assert p.limiter.limit == 2  # halved from 4 by the rate limit


def test_timeouts_are_retried_then_reported() -> None:
    runs = both([ask("hello")], lambda server: server.fail_next(3, "hang", hang_s=3), timeout=0.3, max_retries=1)
    for lean in (True, False):
        [result], server, p = runs[lean]
        assert result.error is not None and result.error.startswith("request timed out after 0.3 s")
        assert result.error.endswith("(gave up after 2 attempts)") and server.count == 2


def test_missing_key_and_refused_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for lean in (True, False):
        p = LiteLLMProvider(config(f"http://127.0.0.1:{port}/v1", max_retries=1), retry_base_delay=0.01, lean=lean)
        [result] = answers(p, [ask("hi")])
        assert result.error is not None and result.error.startswith("connection refused at http://127.0.0.1:")
    monkeypatch.delenv("OPENAI_API_KEY")
    with FakeOpenAIServer() as server:
        p = LiteLLMProvider(config(server.api_base), lean=True)
        [result] = answers(p, [ask("hi")])
        assert result.error is not None and result.error.startswith("authentication failed for openai/fake-model")
        assert "OPENAI_API_KEY" in result.error and server.count == 0


def test_many_requests_in_flight_give_the_same_answers() -> None:
    requests = [ask(f"question {i}") for i in range(60)]
    runs = both(requests, concurrency=16)
    assert [comparable(g) for g in runs[True][0]] == [comparable(g) for g in runs[False][0]]
    assert [g.text for g in runs[True][0]] == [f"question {i}" for i in range(60)]
    assert runs[True][1].max_in_flight <= 16


def test_a_served_model_runs_end_to_end(tmp_path: Any) -> None:
    """`provider = "litellm"` against a served vLLM/TGI/SGLang-style endpoint (the documented model block)."""
    from evaldsl import api

    (tmp_path / "q.jsonl").write_text("".join(f'{{"q": "question {i}"}}\n' for i in range(20)))
    with FakeOpenAIServer(model="Qwen/Qwen2.5-7B-Instruct") as server:
        spec = tmp_path / "served.eval"
        spec.write_text(f"""
dataset q {{ path = "q.jsonl" }}
model served {{
  provider    = "litellm"
  id          = "openai/Qwen/Qwen2.5-7B-Instruct"
  api_base    = "{server.api_base}"
  concurrency = 8
  extra       = {{ extra_body = {{ top_k = 20 }} }}
}}
eval echo {{
  dataset = q
  prompt  = "{{{{ q }}}}"
  models  = [served]
  target  = "{{{{ q }}}}"
  metrics = [exact_match]
}}
""")
        checked = api.check(spec)
        assert checked.ok and checked.spec is not None, checked.diagnostics
        result = api.run(api.plan(checked.spec), api.RunConfig(store_dir=tmp_path / "store"))
        assert result.status == "completed", result.message
        [outcome] = result.results
        assert outcome.metrics["exact_match"].value == 1.0 and outcome.n == 20
        assert server.count == 20 and server.max_in_flight <= 8
        assert {b["model"] for b in server.bodies} == {"Qwen/Qwen2.5-7B-Instruct"}
        assert all(b["top_k"] == 20 for b in server.bodies)
