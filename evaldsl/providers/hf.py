"""The local transformers provider: a `ModelConfig` (provider "hf") in, generations and log-likelihoods out.

The model is found on disk only (the packaged default model, a folder, or the local Hugging Face cache),
loaded once, lazily, and shared by every eval that uses this provider instance. Model calls run one batch at
a time in the provider's own single worker thread (always the same thread, so torch's OpenMP thread team is
created once rather than once per pool thread, which on a busy CPU made matrix products several times
slower); concurrent evals are thereby serialised, and results are yielded per finished batch. See
`hf_generate` for the determinism guaranteed and `hf_scoring` for how scores are computed.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from ..compile.model_config import ModelConfig
from .base import ProviderError, request_fields
from .choice_memo import Memo, memoized_choices
from .hf_loading import (
    LoadedModel,
    ModelSource,
    config_dtype,
    cpu_threads,
    load_model,
    resolve_device,
    resolve_dtype,
    resolve_source,
)
from .records import (
    ChoiceRequest,
    ChoiceScores,
    GenerateRequest,
    Generation,
    GenerationParams,
    TextRequest,
    TextScore,
)

T = TypeVar("T")
_BATCH_ERRORS = (RuntimeError, ValueError, MemoryError)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return (
        "out of memory" in text
        or "can't allocate memory" in text
        or "outofmemory" in type(exc).__name__.lower()
    )


class HFProvider:
    """A causal language model run locally with transformers (CPU, CUDA or MPS)."""

    supports_loglikelihood = True

    def __init__(self, config: ModelConfig, *, base_dir: Path, progress: bool = True) -> None:
        self.config = config
        self.base_dir = Path(base_dir)
        self.progress = progress  # a status line on stderr while the default model is converted (once)
        self._source: ModelSource | None = None
        self._identity: dict[str, Any] | None = None
        # (context, continuation) → (loglik, is_greedy, n_tokens) scored during this provider's life (one run)
        self._choice_memo: Memo = {}
        self._lm: LoadedModel | None = None
        self._load_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    # ---------------------------------------------------------------------------------- identity / loading

    def source(self) -> ModelSource:
        """Where the model is (resolved on first use, without loading it; ProviderError if it is absent)."""
        if self._source is None:
            self._source = resolve_source(self.config.id, self.base_dir)
        return self._source

    def request_key(self, request: Any) -> dict[str, Any]:
        return request_fields(request)

    def identity(self) -> dict[str, Any]:
        """provider, id, resolved path, a cheap weights fingerprint (file names/sizes/mtimes or the HF
        revision) and the resolved dtype (whether the chat template is applied travels with each request's
        parameters). Does not load the model."""
        if self._identity is None:
            source = self.source()
            device = resolve_device(self.config.device)
            dtype = resolve_dtype(self.config.dtype, device, config_dtype(source))
            self._identity = {
                "provider": "hf",
                "id": self.config.id,
                "path": str(source.path),
                "weights": source.fingerprint,
                "dtype": dtype,
            }
        return dict(self._identity)

    async def load(self) -> LoadedModel:
        """Load the model (once; later calls return the same object)."""
        if self._lm is not None:
            return self._lm
        return await self._run(self._load_sync)

    def _load_sync(self) -> LoadedModel:
        with self._load_lock:
            if self._lm is None:
                source = self.source()
                device = resolve_device(self.config.device)
                dtype = resolve_dtype(self.config.dtype, device, config_dtype(source))
                if device == "cpu":
                    self._use_cpu(dtype)
                try:
                    self._lm = load_model(source, device, dtype, progress=self.progress)
                except ProviderError:
                    raise
                except Exception as exc:  # torch/transformers raise many kinds; the run cannot go on
                    raise ProviderError(
                        f"could not load hf model {self.config.id!r} from {source.path}: "
                        + f"{type(exc).__name__}: {exc}"
                    ) from exc
            return self._lm

    def _use_cpu(self, dtype: str) -> None:
        """Set torch's compute threads for this provider's worker thread (where its model calls run) and say when a
        half-precision dtype was chosen for a CPU."""
        import torch

        torch.set_num_threads(cpu_threads(self.config.threads))
        if dtype in ("float16", "bfloat16") and self.progress:
            print(
                f"warning: model {self.config.name!r} runs in {dtype} on a CPU: its scores differ from float32 "
                "runs, and it is slower than float32 on CPUs without native bfloat16 instructions",
                file=sys.stderr,
            )

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` in this provider's single worker thread (one call at a time), in inference mode."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="evaldsl-hf")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(self._inference, fn, *args))

    @staticmethod
    def _inference(fn: Callable[..., T], *args: Any) -> T:
        import torch

        with torch.inference_mode():
            return fn(*args)

    async def aclose(self) -> None:
        """Drop the model (and free accelerator memory) and stop the worker thread."""
        lm, self._lm = self._lm, None
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False)
        if lm is not None:
            device_type = lm.device.type
            del lm
            gc.collect()
            if device_type == "cuda":
                import torch

                torch.cuda.empty_cache()

    def _failure(self, exc: BaseException, n: int, what: str) -> str:
        device = self._lm.device if self._lm is not None else "?"
        if _is_oom(exc):
            return (
                f"out of memory {what} a batch of {n} on {device} (even after halving it); lower the model's "
                f"batch_size (now {self.config.batch_size})"
            )
        return f"{what} failed on {device}: {type(exc).__name__}: {exc}"

    def _with_halving(
        self,
        fn: Callable[[LoadedModel, list[Any]], list[T]],
        lm: LoadedModel,
        batch: list[Any],
        what: str,
        on_error: Callable[[str], T],
    ) -> list[T]:
        """`fn(lm, batch)`; on out-of-memory retry once as two halves; other failures become error results."""
        try:
            return fn(lm, batch)
        except _BATCH_ERRORS as exc:
            if not (_is_oom(exc) and len(batch) > 1):
                return [on_error(self._failure(exc, len(batch), what))] * len(batch)
        self._free_memory(lm)
        half = len(batch) // 2
        results: list[T] = []
        for part in (batch[:half], batch[half:]):
            try:
                results.extend(fn(lm, part))
            except _BATCH_ERRORS as exc:
                self._free_memory(lm)
                results.extend([on_error(self._failure(exc, len(batch), what))] * len(part))
        return results

    @staticmethod
    def _free_memory(lm: LoadedModel) -> None:
        gc.collect()
        if lm.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()

    # ---------------------------------------------------------------------------------------- generate

    async def generate(self, requests: Sequence[GenerateRequest]) -> AsyncIterator[tuple[int, Generation]]:
        """Batched generation: requests grouped by decoding params, sorted by prompt length, left-padded."""
        from .hf_generate import PreparedPrompt

        if not requests:
            return
        lm = await self.load()
        prepared, failures = await self._run(self._prepare_prompts, lm, requests)
        for index, message in failures:
            yield index, Generation(error=message)
        groups: dict[GenerationParams, list[PreparedPrompt]] = {}
        for prompt in prepared:
            groups.setdefault(prompt.params, []).append(prompt)
        size = max(1, self.config.batch_size)
        for prompts in groups.values():
            prompts.sort(key=lambda p: -len(p.tokens))
            for start in range(0, len(prompts), size):
                batch = prompts[start : start + size]
                for index, generation in await self._run(self._generate_batch, lm, batch):
                    yield index, generation

    async def shards(self, op: str, requests: Sequence[Any]) -> list[list[int]]:
        """The request positions of each batch `op` would run (failing requests alone): running each group as a
        request list of its own runs the same batches, so a sharded run (the Ray executor) gives bit-identical
        numbers. `score_choices` groups are those of `score_choices_uncached`."""
        from .hf_scoring import encode, plan_choice_batches, rolling_windows

        if not requests:
            return []
        lm = await self.load()
        size = max(1, self.config.batch_size)
        if op == "generate":
            prepared, failures = await self._run(self._prepare_prompts, lm, requests)
            groups: dict[GenerationParams, list[Any]] = {}
            for prompt in prepared:
                groups.setdefault(prompt.params, []).append(prompt)
            out = [[index] for index, _ in failures]
            for prompts in groups.values():
                prompts.sort(key=lambda p: -len(p.tokens))
                out += [[p.index for p in prompts[k : k + size]] for k in range(0, len(prompts), size)]
            return out
        if op == "score_choices":
            choices, refused = await self._run(self._prepare_choices, lm, requests)
            batches = plan_choice_batches(lm, [item for _, item in choices], size)
            return [[index] for index, _ in refused] + [[choices[i][0] for i in batch] for batch in batches]
        if lm.prefix_token_id is None:
            return [list(range(len(requests)))]
        token_lists = await self._run(encode, lm, [request.text for request in requests])
        out, group, n_windows = [], [], 0
        for index, tokens in enumerate(token_lists):
            windows = rolling_windows(tokens, lm.prefix_token_id, lm.max_length)
            if not windows:
                out.append([index])
                continue
            group.append(index)
            n_windows += len(windows)
            if n_windows >= size:
                out.append(group)
                group, n_windows = [], 0
        return out + ([group] if group else [])

    def _prepare_prompts(
        self, lm: LoadedModel, requests: Sequence[GenerateRequest]
    ) -> tuple[list[Any], list]:
        from .hf_generate import PreparedPrompt, render_prompt

        prepared, failures = [], []
        for index, request in enumerate(requests):
            try:
                tokens = render_prompt(lm, request.messages, request.params.chat_template)
            except Exception as exc:  # a chat template may raise anything (e.g. TemplateError for a bad role)
                failures.append((index, f"could not build the prompt: {type(exc).__name__}: {exc}"))
                continue
            if len(tokens) >= lm.max_length:
                failures.append(
                    (
                        index,
                        f"the prompt has {len(tokens)} tokens; the model's window is {lm.max_length} tokens",
                    )
                )
            elif request.params.max_tokens < 1:
                failures.append((index, f"max_tokens must be at least 1 (got {request.params.max_tokens})"))
            else:
                prepared.append(PreparedPrompt(index, tokens, request.params))
        return prepared, failures

    def _generate_batch(self, lm: LoadedModel, batch: list[Any]) -> list[tuple[int, Generation]]:
        from .hf_generate import generate_batch

        def run(lm: LoadedModel, part: list[Any]) -> list[Generation]:
            started = time.perf_counter()
            outputs = generate_batch(lm, part)  # in the order of `part`
            latency = time.perf_counter() - started
            return [
                Generation(
                    text=out.text,
                    finish_reason=out.finish_reason,
                    prompt_tokens=out.prompt_tokens,
                    completion_tokens=out.completion_tokens,
                    latency_s=latency,
                )
                for out in outputs
            ]

        results = self._with_halving(run, lm, batch, "generating", lambda msg: Generation(error=msg))
        return [(prompt.index, generation) for prompt, generation in zip(batch, results, strict=True)]

    # ------------------------------------------------------------------------------- log-likelihoods

    async def score_choices(
        self, requests: Sequence[ChoiceRequest]
    ) -> AsyncIterator[tuple[int, ChoiceScores]]:
        """Summed log-probs of each continuation. A (context, continuation) pair already scored by this provider
        (e.g. TruthfulQA's mc1 and mc2 share most choices) is not scored again; the rest is scored as a batch."""
        if any(r.messages for r in requests):  # a chat prompt: the context is its rendered chat template
            from .hf_generate import render_text

            lm = await self.load()
            requests = [ChoiceRequest(context=render_text(lm, r.messages, r.chat_template) + r.context,
                                      continuations=r.continuations) if r.messages else r
                        for r in requests]  # fmt: skip
        async for item in memoized_choices(self._choice_memo, requests, self.score_choices_uncached):
            yield item

    async def score_choices_uncached(
        self, requests: Sequence[ChoiceRequest]
    ) -> AsyncIterator[tuple[int, ChoiceScores]]:
        """Score every request (no memo); the shared context runs once per sample (KV cache reuse)."""
        from .hf_scoring import plan_choice_batches

        if not requests:
            return
        lm = await self.load()
        prepared, failures = await self._run(self._prepare_choices, lm, requests)
        for index, message in failures:
            yield index, ChoiceScores(error=message)
        items = [item for _, item in prepared]
        for batch in plan_choice_batches(lm, items, max(1, self.config.batch_size)):
            scores = await self._run(
                self._with_halving,
                self._score_choice_batch,
                lm,
                [prepared[i] for i in batch],
                "scoring choices for",
                lambda msg: ChoiceScores(error=msg),
            )
            for position, score in zip(batch, scores, strict=True):
                yield prepared[position][0], score

    @staticmethod
    def _prepare_choices(lm: LoadedModel, requests: Sequence[ChoiceRequest]) -> tuple[list[Any], list]:
        from .hf_scoring import prepare_choice

        prepared, failures = [], []
        for index, request in enumerate(requests):
            try:
                prepared.append((index, prepare_choice(lm, request)))
            except ValueError as exc:
                failures.append((index, f"cannot score this request: {exc}"))
        return prepared, failures

    @staticmethod
    def _score_choice_batch(lm: LoadedModel, batch: list[Any]) -> list[ChoiceScores]:
        from .hf_scoring import score_choice_batch

        return score_choice_batch(lm, [item for _, item in batch])

    async def score_text(self, requests: Sequence[TextRequest]) -> AsyncIterator[tuple[int, TextScore]]:
        """Rolling log-likelihood of each whole text over non-overlapping windows (never truncated)."""
        from .hf_scoring import encode, rolling_windows

        if not requests:
            return
        lm = await self.load()
        if lm.prefix_token_id is None:
            for index in range(len(requests)):
                yield (
                    index,
                    TextScore(error="the tokenizer has neither a BOS nor an EOS token to start a text"),
                )
            return
        token_lists = await self._run(encode, lm, [request.text for request in requests])
        size = max(1, self.config.batch_size)
        group: list[tuple[int, list[tuple[list[int], list[int]]]]] = []
        n_windows = 0
        for index, tokens in enumerate(token_lists):
            windows = rolling_windows(tokens, lm.prefix_token_id, lm.max_length)
            if not windows:
                yield index, TextScore(loglik=0.0, n_tokens=0)
                continue
            group.append((index, windows))
            n_windows += len(windows)
            if n_windows >= size:
                for result in await self._run(self._score_text_group, lm, group):
                    yield result
                group, n_windows = [], 0
        if group:
            for result in await self._run(self._score_text_group, lm, group):
                yield result

    def _score_text_group(
        self, lm: LoadedModel, group: list[tuple[int, list[tuple[list[int], list[int]]]]]
    ) -> list[tuple[int, TextScore]]:
        from .hf_scoring import score_token_rows

        rows = [window for _, windows in group for window in windows]
        size = max(1, self.config.batch_size)
        try:
            scored = score_token_rows(lm, rows, size)
        except _BATCH_ERRORS as exc:
            if not _is_oom(exc) or size == 1:
                message = self._failure(exc, len(rows), "scoring text in")
                return [(index, TextScore(error=message)) for index, _ in group]
            self._free_memory(lm)
            try:
                scored = score_token_rows(lm, rows, max(1, size // 2))
            except _BATCH_ERRORS as again:
                self._free_memory(lm)
                message = self._failure(again, len(rows), "scoring text in")
                return [(index, TextScore(error=message)) for index, _ in group]
        results, row = [], 0
        for index, windows in group:
            total = sum(loglik for loglik, _ in scored[row : row + len(windows)])
            n_tokens = sum(len(cont) for _, cont in windows)
            results.append((index, TextScore(loglik=float(total), n_tokens=n_tokens)))
            row += len(windows)
        return results
