"""The `vllm` provider: a local model on GPUs through vLLM's offline engine — generations from `LLM.generate`,
log-likelihoods from prompt logprobs.

The model is found as the `hf` provider finds it (`resolve_source`), and prompts and continuations are
tokenised by the same functions (`render_prompt`, `prepare_choice`, `rolling_windows`), so both providers
score exactly the same tokens. vLLM batches the whole request list itself (continuous batching); each
request asks for `max_tokens = 1` and `prompt_logprobs = 1` when only log-likelihoods are wanted, and a
prompt token's log-probability is read from the logprobs vLLM returns for that position (which always hold
the prompt token itself, with its rank). `extra` holds more keyword arguments for `vllm.LLM` (e.g.
`tensor_parallel_size`, `gpu_memory_utilization`). vLLM is imported only when this provider is chosen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..compile.model_config import ModelConfig
from .base import ProviderError, request_fields
from .choice_memo import Memo, memoized_choices
from .records import ChoiceRequest, ChoiceScores, GenerateRequest, Generation, TextRequest, TextScore


@dataclass(frozen=True)
class _TokenView:
    """What the shared tokenisation helpers read of a loaded model."""

    tokenizer: Any
    max_length: int
    prefix_token_id: int | None


class VLLMProvider:
    """A model served by an in-process vLLM engine (one engine per provider, loaded on first use)."""

    supports_loglikelihood = True

    def __init__(self, config: ModelConfig, *, base_dir: Path) -> None:
        try:
            import vllm  # noqa: F401
        except ImportError as exc:
            raise ProviderError(
                f"model {config.name!r}: provider vllm needs the vllm package and a GPU (pip install 'evaldsl[vllm]')"
            ) from exc
        from .hf_loading import resolve_source

        self.config = config
        self.source = resolve_source(config.id, base_dir)
        self._llm: Any = None
        self._view: _TokenView | None = None
        self._memo: Memo = {}

    def identity(self) -> dict[str, Any]:
        return {"provider": "vllm", "id": self.config.id, "path": str(self.source.path),
                "weights": self.source.fingerprint, "dtype": self.config.dtype}  # fmt: skip

    def request_key(self, request: Any) -> dict[str, Any]:
        return request_fields(request)

    # -- loading -----------------------------------------------------------------------------------------
    def _load(self) -> tuple[Any, _TokenView]:
        if self._llm is None or self._view is None:
            from vllm import LLM

            try:
                self._llm = LLM(model=str(self.source.path), dtype=self.config.dtype, seed=0, **self.config.extra)
            except Exception as exc:  # CUDA, memory, unsupported architecture...: one line
                raise ProviderError(
                    f"model {self.config.name!r}: vLLM could not load {self.source.path}: {type(exc).__name__}: {exc}"
                ) from exc
            tokenizer = self._llm.get_tokenizer()
            prefix = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
            # hf scores (context + continuation)[-(window + 1):] by predicting its last tokens; vLLM takes the
            # whole prompt, so the window here is one token shorter than the engine's.
            max_length = int(self._llm.llm_engine.model_config.max_model_len) - 1
            self._view = _TokenView(tokenizer, max_length, prefix)
        return self._llm, self._view

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    # -- generation --------------------------------------------------------------------------------------
    async def generate(self, requests: Sequence[GenerateRequest]) -> AsyncIterator[tuple[int, Generation]]:
        if not requests:
            return
        for pair in await self._call(self._generate, list(requests)):
            yield pair

    def _generate(self, requests: list[GenerateRequest]) -> list[tuple[int, Generation]]:
        from vllm import SamplingParams

        from .hf_generate import render_prompt

        llm, view = self._load()
        out: list[tuple[int, Generation]] = []
        prompts, params, indices = [], [], []
        for index, request in enumerate(requests):
            p = request.params
            tokens = render_prompt(view, request.messages, p.chat_template)  # type: ignore[arg-type]
            if len(tokens) >= view.max_length:
                message = f"the prompt has {len(tokens)} tokens; the model's window is {view.max_length} tokens"
                out.append((index, Generation(error=message)))
                continue
            prompts.append({"prompt_token_ids": tokens})
            params.append(SamplingParams(temperature=p.temperature, top_p=p.top_p if p.top_p is not None else 1.0,
                                         max_tokens=p.max_tokens, stop=list(p.stop) or None, seed=p.seed))  # fmt: skip
            indices.append(index)
        if prompts:
            started = time.perf_counter()
            results = llm.generate(prompts, params, use_tqdm=False)
            latency = time.perf_counter() - started
            for index, prompt, result in zip(indices, prompts, results, strict=True):
                completion = result.outputs[0]
                out.append((index, Generation(text=completion.text, finish_reason=completion.finish_reason,
                                              prompt_tokens=len(prompt["prompt_token_ids"]),
                                              completion_tokens=len(completion.token_ids),
                                              latency_s=latency)))  # fmt: skip
        return out

    # -- log-likelihoods ---------------------------------------------------------------------------------
    def _prompt_logprobs(self, rows: list[tuple[list[int], list[int]]]) -> list[tuple[float, bool]]:
        """Summed log-prob and all-greedy flag of each row's continuation given its context."""
        from vllm import SamplingParams

        llm, _ = self._load()
        params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
        prompts = [{"prompt_token_ids": ctx + cont} for ctx, cont in rows]
        results = llm.generate(prompts, params, use_tqdm=False)
        scored = []
        for (ctx, cont), result in zip(rows, results, strict=True):
            total, greedy = 0.0, True
            for position, token in enumerate(cont, start=len(ctx)):
                entry = result.prompt_logprobs[position][token]
                total += float(entry.logprob)
                greedy = greedy and entry.rank == 1
            scored.append((total, greedy))
        return scored

    async def score_choices(self, requests: Sequence[ChoiceRequest]) -> AsyncIterator[tuple[int, ChoiceScores]]:
        async for pair in memoized_choices(self._memo, requests, self._score_choices_uncached):
            yield pair

    async def _score_choices_uncached(
        self, requests: Sequence[ChoiceRequest]
    ) -> AsyncIterator[tuple[int, ChoiceScores]]:
        if not requests:
            return
        for pair in await self._call(self._score_choices, list(requests)):
            yield pair

    def _score_choices(self, requests: list[ChoiceRequest]) -> list[tuple[int, ChoiceScores]]:
        from .hf_scoring import prepare_choice

        _, view = self._load()
        out: list[tuple[int, ChoiceScores]] = []
        rows, owners = [], []
        for index, request in enumerate(requests):
            try:
                prepared = prepare_choice(view, request)  # type: ignore[arg-type]
            except ValueError as exc:
                out.append((index, ChoiceScores(error=f"cannot score this request: {exc}")))
                continue
            owners.append((index, len(prepared.continuations), prepared.truncated))
            rows += [(list(prepared.context), list(cont)) for cont in prepared.continuations]
        scored = self._prompt_logprobs(rows) if rows else []
        row = 0
        for index, n, truncated in owners:
            part = scored[row : row + n]
            counts = tuple(len(cont) for _, cont in rows[row : row + n])
            out.append((index, ChoiceScores(logliks=tuple(s for s, _ in part), is_greedy=tuple(g for _, g in part),
                                            n_tokens=counts, truncated=truncated)))  # fmt: skip
            row += n
        return out

    async def score_text(self, requests: Sequence[TextRequest]) -> AsyncIterator[tuple[int, TextScore]]:
        if not requests:
            return
        for pair in await self._call(self._score_text, list(requests)):
            yield pair

    def _score_text(self, requests: list[TextRequest]) -> list[tuple[int, TextScore]]:
        from .hf_scoring import encode, rolling_windows

        _, view = self._load()
        if view.prefix_token_id is None:
            error = "the tokenizer has neither a BOS nor an EOS token to start a text"
            return [(i, TextScore(error=error)) for i in range(len(requests))]
        windows = [
            rolling_windows(tokens, view.prefix_token_id, view.max_length)
            for tokens in encode(view, [r.text for r in requests])  # type: ignore[arg-type]
        ]
        scored = self._prompt_logprobs([w for ws in windows for w in ws])
        out, row = [], 0
        for index, ws in enumerate(windows):
            total = sum(loglik for loglik, _ in scored[row : row + len(ws)])
            out.append((index, TextScore(loglik=float(total), n_tokens=sum(len(cont) for _, cont in ws))))
            row += len(ws)
        return out

    async def aclose(self) -> None:
        self._llm = None
