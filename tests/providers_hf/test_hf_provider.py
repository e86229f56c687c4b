"""HFProvider on a tiny random model: generation, choice scoring and rolling perplexity against direct
transformers computations."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import torch

from evaldsl.compile.model_config import ModelConfig
from evaldsl.providers.base import Provider, ProviderError
from evaldsl.providers.hf import HFProvider
from evaldsl.providers.hf_scoring import rolling_windows
from evaldsl.providers.records import ChoiceRequest, GenerateRequest, GenerationParams, TextRequest

PROMPTS = [
    "Paris is",
    "The quick brown fox jumps over the lazy dog. The quick brown",
    "Question: What is two plus two?",
    "A",
    "Numbers like 12, 345 and 6789 appear in",
    "She sells sea shells by the sea shore; the shells she",
    "Evaluation needs",
]


def provider(model_dir: Path, **overrides: Any) -> HFProvider:
    config = ModelConfig(name="tiny", provider="hf", id=str(model_dir), **overrides)
    return HFProvider(config, base_dir=model_dir.parent)


async def _collect(results: AsyncIterator[tuple[int, Any]]) -> dict[int, Any]:
    return {index: result async for index, result in results}


def run(iterator: AsyncIterator[tuple[int, Any]]) -> dict[int, Any]:
    return asyncio.run(_collect(iterator))


def user(text: str, **params: Any) -> GenerateRequest:
    return GenerateRequest(messages=({"role": "user", "content": text},), params=GenerationParams(**params))


@pytest.fixture(scope="module")
def reference(tiny_model_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, local_files_only=True, dtype=torch.float32)
    return model.eval(), tokenizer


@pytest.fixture(scope="module")
def shared(tiny_model_dir: Path) -> HFProvider:
    return provider(tiny_model_dir, batch_size=3)


def direct_logprobs(model: Any, inputs: list[int], targets: list[int]) -> tuple[float, bool]:
    """Summed log-prob of `targets`, the last len(targets) tokens after `inputs` (no cache, no batching)."""
    full = inputs + targets
    with torch.inference_mode():
        logits = model(torch.tensor([full[:-1]])).logits[0].float()
    logprobs = torch.log_softmax(logits[len(inputs) - 1 :], dim=-1)
    target = torch.tensor(targets)
    total = logprobs.gather(1, target[:, None]).sum().item()
    return total, bool((logprobs.argmax(-1) == target).all())


def lm_eval_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """lm-evaluation-harness `_encode_pair` / empty-context handling, written out independently."""

    def enc(text: str) -> list[int]:
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    if context == "":
        return [tokenizer.bos_token_id], enc(continuation)
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole, ctx = enc(context + continuation), enc(context)
    return ctx, whole[len(ctx) :]


# ------------------------------------------------------------------------------------------------ protocol


def test_is_a_provider(shared: HFProvider) -> None:
    assert isinstance(shared, Provider)
    assert shared.supports_loglikelihood


# ---------------------------------------------------------------------------------------------- generation


def test_greedy_generation_is_batch_size_invariant_and_matches_unbatched_generate(
    tiny_model_dir: Path, reference: tuple[Any, Any]
) -> None:
    model, tokenizer = reference
    requests = [user(text, max_tokens=10) for text in PROMPTS]
    by_size = {size: run(provider(tiny_model_dir, batch_size=size).generate(requests)) for size in (1, 4)}
    for index, text in enumerate(PROMPTS):
        one, four = by_size[1][index], by_size[4][index]
        assert one.error is None and four.error is None
        assert (one.text, one.finish_reason, one.completion_tokens) == (
            four.text,
            four.finish_reason,
            four.completion_tokens,
        )
        # the same as transformers on the single, unpadded prompt
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=False
        )
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=10, do_sample=False)
        new = out[0, ids.shape[1] :].tolist()
        if tokenizer.eos_token_id in new:
            new = new[: new.index(tokenizer.eos_token_id)]
        assert one.text == tokenizer.decode(new, skip_special_tokens=True)
        assert one.prompt_tokens == ids.shape[1]


def test_finish_reason_length_and_token_counts(shared: HFProvider) -> None:
    results = run(shared.generate([user("Paris is", max_tokens=5), user("A", max_tokens=3)]))
    assert results[0].finish_reason == "length" and results[0].completion_tokens == 5
    assert results[1].finish_reason == "length" and results[1].completion_tokens == 3
    assert results[0].text and results[0].latency_s > 0


def test_stop_strings_cut_the_text_and_end_generation_early(shared: HFProvider) -> None:
    full = run(shared.generate([user(PROMPTS[1], max_tokens=24)]))[0]
    assert full.finish_reason == "length"
    # pick a stop string that occurs inside the free-running output
    stop = next(full.text[i : i + 2] for i in range(3, len(full.text) - 2) if full.text[i : i + 2] not in full.text[:i])
    cut = run(shared.generate([user(PROMPTS[1], max_tokens=24, stop=("zzzz-never", stop))]))[0]
    assert cut.text == full.text[: full.text.index(stop)]
    assert cut.finish_reason == "stop"
    assert cut.completion_tokens is not None and cut.completion_tokens < 24


def test_chat_template_can_be_turned_off(tiny_model_dir: Path, reference: tuple[Any, Any]) -> None:
    _, tokenizer = reference
    messages = ({"role": "system", "content": "Be brief."}, {"role": "user", "content": "Paris is"})
    request = GenerateRequest(messages=messages, params=GenerationParams(max_tokens=2))
    raw = GenerateRequest(messages=messages, params=GenerationParams(max_tokens=2, chat_template=False))
    shared = provider(tiny_model_dir)  # one loaded model serves both: the setting travels with each request
    results = run(shared.generate([request, raw]))
    with_template, plain = results[0], results[1]
    rendered = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=False)
    assert with_template.prompt_tokens == len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert plain.prompt_tokens == len(tokenizer("Be brief.\n\nParis is")["input_ids"])


def test_seeded_sampling_does_not_depend_on_batching(tiny_model_dir: Path) -> None:
    requests = [user(text, max_tokens=8, temperature=1.0, top_p=0.9, seed=7) for text in PROMPTS]
    one = run(provider(tiny_model_dir, batch_size=1).generate(requests))
    four = run(provider(tiny_model_dir, batch_size=4).generate(list(reversed(requests))))
    n = len(PROMPTS)
    assert all(one[i].text == four[n - 1 - i].text for i in range(n))
    greedy = run(provider(tiny_model_dir, batch_size=4).generate([user(t, max_tokens=8) for t in PROMPTS]))
    assert any(one[i].text != greedy[i].text for i in range(n))  # it really sampled
    other_seed = [user(text, max_tokens=8, temperature=1.0, top_p=0.9, seed=8) for text in PROMPTS]
    reseeded = run(provider(tiny_model_dir, batch_size=4).generate(other_seed))
    assert any(one[i].text != reseeded[i].text for i in range(n))


def test_prompt_longer_than_the_window_is_an_error_result(shared: HFProvider) -> None:
    results = run(shared.generate([user("word " * 200, max_tokens=4), user("Paris is", max_tokens=2)]))
    assert results[0].error and "window" in results[0].error
    assert results[1].error is None and results[1].text


# ------------------------------------------------------------------------------------------ choice scoring

CHOICE_REQUESTS = [
    ChoiceRequest("Paris is the capital of", (" France", " Germany", " the lazy dog")),
    ChoiceRequest("Question: What is two plus two? Answer: ", ("four", "five", "twenty two", "4")),
    ChoiceRequest("", ("A", "The quick brown fox")),
    ChoiceRequest("She sells sea shells by the", (" sea shore",)),
    ChoiceRequest("Numbers like 12, 345 and", (" 6789", " 10", " many numbers appear in text too.")),
    ChoiceRequest("   ", ("x", " y")),
]


def test_choice_logliks_match_a_full_forward_pass(shared: HFProvider, reference: tuple[Any, Any]) -> None:
    model, tokenizer = reference
    results = run(shared.score_choices(CHOICE_REQUESTS))
    assert sorted(results) == list(range(len(CHOICE_REQUESTS)))
    for index, request in enumerate(CHOICE_REQUESTS):
        scores = results[index]
        assert scores.error is None and not scores.truncated
        for position, continuation in enumerate(request.continuations):
            context_ids, continuation_ids = lm_eval_pair(tokenizer, request.context, continuation)
            if not context_ids:  # whitespace-only context: scored from the BOS token
                context_ids = [tokenizer.bos_token_id]
            expected, greedy = direct_logprobs(model, context_ids, continuation_ids)
            assert scores.logliks[position] == pytest.approx(expected, abs=1e-4)
            assert scores.is_greedy[position] == greedy
            assert scores.n_tokens[position] == len(continuation_ids)


def test_shared_primer_and_repeated_contexts_match_a_full_forward_pass(
    tiny_model_dir: Path, reference: tuple[Any, Any]
) -> None:
    from evaldsl.providers.hf_scoring import shared_prefix_length

    model, tokenizer = reference
    primer = "The quick brown fox jumps over the lazy dog.\n"
    questions = ["Paris is the capital of", "She sells sea", "Numbers like 12, 345 and", "A language model"]
    requests = []
    for question in questions:  # mc1/mc2-style: two requests with the same context
        requests.append(ChoiceRequest(primer + question, (" France", " sea shells by the sea shore")))
        requests.append(ChoiceRequest(primer + question, (" lazy", " dog", " 6789 appear in text")))
    contexts = [lm_eval_pair(tokenizer, r.context, r.continuations[0])[0] for r in requests]
    assert shared_prefix_length(contexts) >= 16  # the shared-prefix pass is really exercised
    results = run(provider(tiny_model_dir, batch_size=8).score_choices(requests))
    for index, request in enumerate(requests):
        assert not results[index].truncated
        for position, continuation in enumerate(request.continuations):
            context_ids, continuation_ids = lm_eval_pair(tokenizer, request.context, continuation)
            expected, greedy = direct_logprobs(model, context_ids, continuation_ids)
            assert results[index].logliks[position] == pytest.approx(expected, abs=1e-4)
            assert results[index].is_greedy[position] == greedy


def test_choice_is_greedy_true_for_the_argmax_continuation(shared: HFProvider, reference: tuple[Any, Any]) -> None:
    model, tokenizer = reference
    context = "Paris is the capital of"
    ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        out = model.generate(torch.tensor([ids]), max_new_tokens=3, do_sample=False)
    greedy_text = tokenizer.decode(out[0, len(ids) :])
    scores = run(shared.score_choices([ChoiceRequest(context, (greedy_text, " zebra"))]))[0]
    context_ids, continuation_ids = lm_eval_pair(tokenizer, context, greedy_text)
    if context_ids + continuation_ids == out[0].tolist():  # the re-tokenisation round-trips
        assert scores.is_greedy[0]


def test_long_context_is_truncated_from_the_left_and_flagged(shared: HFProvider, reference: tuple[Any, Any]) -> None:
    model, tokenizer = reference
    context = "The quick brown fox jumps over the lazy dog. " * 12 + "Paris is the capital of"
    continuations = (" France", " many numbers appear")
    result = run(shared.score_choices([ChoiceRequest(context, continuations)]))[0]
    assert result.truncated and result.error is None
    encoded = [lm_eval_pair(tokenizer, context, c) for c in continuations]
    keep = 64 + 1 - max(len(cont) for _, cont in encoded)  # window 64; one cut shared by all choices
    for position, (context_ids, continuation_ids) in enumerate(encoded):
        assert len(context_ids) > keep
        expected, _ = direct_logprobs(model, context_ids[-keep:], continuation_ids)
        assert result.logliks[position] == pytest.approx(expected, abs=1e-4)


def test_unscorable_choice_requests_are_error_results(shared: HFProvider) -> None:
    results = run(shared.score_choices([ChoiceRequest("Paris is", ("",)), ChoiceRequest("A", ("x" * 400,))]))
    assert results[0].error and "no tokens" in results[0].error
    assert results[1].error and "window" in results[1].error


# ---------------------------------------------------------------------------------------- rolling perplexity


def test_rolling_windows_score_every_token_once() -> None:
    tokens = list(range(100, 137))
    windows = rolling_windows(tokens, prefix_token=1, max_length=10)
    assert [t for _, cont in windows for t in cont] == tokens
    assert windows[0] == ([1], tokens[:10])
    for context, cont in windows[1:]:
        assert len(context) + len(cont) == 11  # as much left context as fits (input = 10 tokens)
    assert rolling_windows([], 1, 10) == []


def test_perplexity_in_one_window_equals_a_direct_computation(shared: HFProvider, reference: tuple[Any, Any]) -> None:
    model, tokenizer = reference
    text = "Paris is the capital of France, and Berlin is the capital of Germany."
    tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert len(tokens) < 64
    result = run(shared.score_text([TextRequest(text)]))[0]
    expected, _ = direct_logprobs(model, [tokenizer.bos_token_id], tokens)
    assert result.n_tokens == len(tokens) and not result.truncated
    assert result.loglik == pytest.approx(expected, abs=1e-4)


def test_perplexity_over_several_windows(shared: HFProvider, reference: tuple[Any, Any]) -> None:
    model, tokenizer = reference
    texts = [
        " ".join(["She sells sea shells by the sea shore."] * 12),
        "Short one.",
        "",
        "Numbers like 12, 345 and 6789 appear in text too. " * 5,
    ]
    results = run(shared.score_text([TextRequest(t) for t in texts]))
    for index, text in enumerate(texts):
        tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert results[index].n_tokens == len(tokens)
        # independently: window k predicts tokens[64k : 64(k+1)] from up to 64 inputs (BOS first)
        expected = 0.0
        for start in range(0, len(tokens), 64):
            targets = tokens[start : start + 64]
            history = ([tokenizer.bos_token_id] + tokens)[: start + 1]
            inputs = history[-(64 + 1 - len(targets)) :]
            expected += direct_logprobs(model, inputs, targets)[0]
        assert results[index].loglik == pytest.approx(expected, abs=1e-3)
    assert results[0].n_tokens > 2 * 64  # really spans several windows


# ---------------------------------------------------------------------------------------- model resolution


def test_missing_model_is_a_provider_error_with_a_helpful_message(tmp_path: Path) -> None:
    config = ModelConfig(name="m", provider="hf", id="models/not-here")
    missing = HFProvider(config, base_dir=tmp_path)
    with pytest.raises(ProviderError) as info:
        missing.identity()
    message = str(info.value)
    assert "not found" in message and str(tmp_path / "models/not-here") in message and "cache" in message
    with pytest.raises(ProviderError):
        run(missing.generate([user("hi")]))


def test_folder_without_config_is_a_provider_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProviderError, match="no config.json"):
        HFProvider(ModelConfig(name="m", provider="hf", id="empty"), base_dir=tmp_path).identity()


def test_relative_path_is_resolved_against_base_dir(tiny_model_dir: Path) -> None:
    relative = HFProvider(ModelConfig(name="m", provider="hf", id=tiny_model_dir.name), base_dir=tiny_model_dir.parent)
    assert relative.identity()["path"] == str(tiny_model_dir.resolve())


def test_bad_device_and_dtype_are_provider_errors(tiny_model_dir: Path) -> None:
    with pytest.raises(ProviderError, match="device"):
        provider(tiny_model_dir, device="tpu").identity()
    with pytest.raises(ProviderError, match="dtype"):
        provider(tiny_model_dir, dtype="float8").identity()


def test_identity_is_stable_cheap_and_tracks_the_weights(tmp_path: Path) -> None:
    from tests.providers_hf.conftest import build_tiny_model

    folder = build_tiny_model(tmp_path / "model")
    first = provider(folder)
    identity = first.identity()
    assert first._lm is None  # identity does not load the model
    assert identity == first.identity() == provider(folder).identity()
    assert identity["provider"] == "hf" and identity["dtype"] == "float32" and identity["weights"]
    weights = folder / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert provider(folder).identity()["weights"] != identity["weights"]
    assert provider(folder, dtype="bfloat16").identity()["dtype"] == "bfloat16"


def test_model_is_loaded_once_and_closed(tiny_model_dir: Path) -> None:
    instance = provider(tiny_model_dir)

    async def scenario() -> None:
        first, second = await asyncio.gather(instance.load(), instance.load())
        assert first is second
        await _collect(instance.score_text([TextRequest("Paris")]))
        assert instance._lm is first
        await instance.aclose()
        assert instance._lm is None

    asyncio.run(scenario())


def test_model_id_found_in_the_local_hugging_face_cache(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someone--tiny-llama"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    cached = HFProvider(ModelConfig(name="c", provider="hf", id="someone/tiny-llama"), base_dir=tmp_path)
    identity = cached.identity()
    assert identity["weights"] == f"revision:{commit}"
    assert identity["path"] == str(repo / "snapshots" / commit)
    result = run(cached.score_text([TextRequest("Paris is the capital of France.")]))[0]
    assert result.error is None and result.n_tokens > 0


def test_out_of_memory_halves_the_batch_once_then_reports_errors(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from evaldsl.providers import hf_generate

    real = hf_generate.generate_batch
    sizes: list[int] = []

    def limited(lm: Any, prompts: Any, *, limit: int) -> Any:
        sizes.append(len(prompts))
        if len(prompts) > limit:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(lm, prompts)

    requests = [user(text, max_tokens=3) for text in PROMPTS[:4]]
    monkeypatch.setattr(hf_generate, "generate_batch", lambda lm, p: limited(lm, p, limit=2))
    halved = run(provider(tiny_model_dir, batch_size=4).generate(requests))
    assert sizes == [4, 2, 2] and all(g.error is None and g.text for g in halved.values())

    sizes.clear()
    monkeypatch.setattr(hf_generate, "generate_batch", lambda lm, p: limited(lm, p, limit=1))
    failed = run(provider(tiny_model_dir, batch_size=4).generate(requests))
    assert sizes == [4, 2, 2]  # halved once, not further
    assert sorted(failed) == [0, 1, 2, 3]
    assert all(g.error and "out of memory" in g.error and "batch_size" in g.error for g in failed.values())

    def broken(lm: Any, prompts: Any) -> Any:
        raise ValueError("bad input")

    monkeypatch.setattr(hf_generate, "generate_batch", broken)
    errors = run(provider(tiny_model_dir, batch_size=4).generate(requests))
    assert all(g.error and "ValueError: bad input" in g.error for g in errors.values())


def test_choices_scored_once_per_context_are_reused(tiny_model_dir: Path) -> None:
    fresh = provider(tiny_model_dir)
    first = run(fresh.score_choices([ChoiceRequest("Paris is the capital of", (" France", " Germany"))]))[0]
    assert len(fresh._choice_memo) == 2
    second = run(fresh.score_choices([ChoiceRequest("Paris is the capital of", (" Germany", " the lazy dog"))]))[0]
    assert len(fresh._choice_memo) == 3  # only " the lazy dog" was scored anew
    assert second.logliks[0] == first.logliks[1]
    direct = run(
        provider(tiny_model_dir).score_choices(
            [ChoiceRequest("Paris is the capital of", (" Germany", " the lazy dog"))]
        )
    )[0]
    assert second.logliks == pytest.approx(direct.logliks, abs=1e-4)
    assert second.n_tokens == direct.n_tokens and second.is_greedy == direct.is_greedy
