"""Tests of the mock provider: requests in, rendered/echoed generations and pseudo log-likelihoods out."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from evaldsl.compile.model_config import ModelConfig
from evaldsl.providers import load_provider
from evaldsl.providers.base import Provider
from evaldsl.providers.mock import MockProvider, pseudo_loglik
from evaldsl.providers.records import ChoiceRequest, GenerateRequest, GenerationParams, TextRequest


def mock(response: str | None = None) -> MockProvider:
    return MockProvider(ModelConfig(name="dry", provider="mock", response=response))


def collect(results: AsyncIterator[tuple[int, Any]]) -> list[Any]:
    async def gather() -> list[tuple[int, Any]]:
        return [item async for item in results]

    pairs = asyncio.run(gather())
    assert sorted(i for i, _ in pairs) == list(range(len(pairs)))
    return [result for _, result in sorted(pairs, key=lambda pair: pair[0])]


def ask(text: str, system: str | None = None, **params: Any) -> GenerateRequest:
    messages = ({"role": "system", "content": system},) if system else ()
    messages += ({"role": "user", "content": text},)
    return GenerateRequest(messages=messages, params=GenerationParams(**params))


def test_load_provider_builds_a_mock_that_fits_the_protocol(tmp_path: Path) -> None:
    provider = load_provider(ModelConfig(name="dry", provider="mock", base_dir=tmp_path))
    assert isinstance(provider, MockProvider)
    assert isinstance(provider, Provider)
    assert provider.supports_loglikelihood is True
    assert provider.identity() == {"provider": "mock", "response": None}
    assert mock("{{ answer }}").identity() == {"provider": "mock", "response": "{{ answer }}"}


def test_echoes_the_last_user_message_with_word_counts() -> None:
    request = GenerateRequest(
        messages=(
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": "what is two plus two"},
        )
    )
    [result] = collect(mock().generate([request]))
    assert result.text == "what is two plus two"
    assert result.finish_reason == "stop"
    assert result.error is None
    assert result.completion_tokens == 5
    assert result.prompt_tokens == 2 + 2 + 2 + 5


def test_renders_the_response_template_per_sample() -> None:
    requests = [
        GenerateRequest(messages=({"role": "user", "content": "q"},), variables={"answer": answer})
        for answer in ("Paris", "4", "blue whale")
    ]
    results = collect(mock("The answer is {{ answer }}").generate(requests))
    assert [r.text for r in results] == ["The answer is Paris", "The answer is 4", "The answer is blue whale"]
    assert [r.completion_tokens for r in results] == [4, 4, 5]


def test_a_render_error_is_a_result_not_an_exception() -> None:
    requests = [
        GenerateRequest(messages=({"role": "user", "content": "q"},), variables={}),
        GenerateRequest(messages=({"role": "user", "content": "q"},), variables={"answer": "ok"}),
    ]
    bad, good = collect(mock("{{ answer }}").generate(requests))
    assert bad.error is not None and "answer" in bad.error
    assert bad.text == ""
    assert good.error is None and good.text == "ok"


def test_honours_stop_sequences_and_max_tokens() -> None:
    stopped, cut, whole = collect(
        mock().generate(
            [
                ask("one two. three four", stop=(".",)),
                ask("a b c d e f", max_tokens=3),
                ask("a b c", max_tokens=3),
            ]
        )
    )
    assert (stopped.text, stopped.finish_reason) == ("one two", "stop")
    assert (cut.text, cut.finish_reason, cut.completion_tokens) == ("a b c", "length", 3)
    assert cut.truncated
    assert (whole.text, whole.finish_reason) == ("a b c", "stop")


def test_a_thousand_generations_each_render_their_own_row() -> None:
    """Many requests through one provider (its speed is measured in bench/runner_overhead.py, not here)."""
    provider = mock("{{ answer }}!")
    requests = [
        GenerateRequest(messages=({"role": "user", "content": f"q {i}"},), variables={"answer": str(i)})
        for i in range(1000)
    ]
    results = collect(provider.generate(requests))
    assert [r.text for r in results] == [f"{i}!" for i in range(1000)]


def test_choice_scores_are_deterministic_length_scaled_and_mark_the_best() -> None:
    request = ChoiceRequest(context="Capital of France?", continuations=(" Paris", " Lyon", " New York City"))
    first, second = collect(mock().score_choices([request, request]))
    assert first == second  # deterministic
    assert len(first.logliks) == 3 and all(x < 0 for x in first.logliks)
    assert first.n_tokens == (1, 1, 3)
    assert sum(first.is_greedy) == 1
    assert first.is_greedy[first.logliks.index(max(first.logliks))]
    # three words score between 3*-4.5 and 3*-0.5
    assert -13.5 <= first.logliks[2] <= -1.5
    spain = ChoiceRequest(context="Capital of Spain?", continuations=(" Paris",))
    other = collect(mock().score_choices([spain]))
    assert other[0].logliks[0] != first.logliks[0]  # depends on the context


def test_text_scores() -> None:
    long, empty = collect(mock().score_text([TextRequest(text="the quick brown fox"), TextRequest(text="")]))
    assert long.n_tokens == 4
    assert -18.0 <= long.loglik <= -2.0
    assert (empty.loglik, empty.n_tokens) == (0.0, 0)
    assert pseudo_loglik("", "the quick brown fox") == (long.loglik, 4)


def test_aclose_is_harmless() -> None:
    asyncio.run(mock().aclose())
