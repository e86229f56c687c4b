"""Batched generation on a loaded transformers model: tokenised prompts + decoding params in, texts out.

Determinism: greedy decoding (temperature 0) is deterministic and, thanks to left padding with a correct
attention mask and position ids, gives the same text whatever the batch size or batch neighbours (up to
floating-point differences of padded matrix products, which do not change the argmax in practice). Sampling
(temperature > 0) draws with the Gumbel-max trick from one `torch.Generator` per request, seeded from the
request's `seed` and its prompt, so a seeded request gives the same text on the same device, dtype and library
versions regardless of batch size, order or neighbours. Without a seed, sampling is fresh on every call.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import (
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from .hf_loading import LoadedModel
from .records import GenerationParams, Message


@dataclass(frozen=True)
class PreparedPrompt:
    """One generation request as prompt token ids."""

    index: int
    tokens: list[int]
    params: GenerationParams


@dataclass(frozen=True)
class BatchOutput:
    """What one finished request produced (turned into a `Generation` by the provider)."""

    index: int
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


def render_text(lm: LoadedModel, messages: Sequence[Message], use_chat_template: bool) -> str:
    """The messages as text before the model's reply: its chat template with the generation prompt when it has
    one and it is wanted, else the contents joined by blank lines."""
    tokenizer = lm.tokenizer
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        return str(tokenizer.apply_chat_template([dict(m) for m in messages], add_generation_prompt=True,
                                                 tokenize=False))  # fmt: skip
    return "\n\n".join(message.get("content", "") for message in messages)


def render_prompt(lm: LoadedModel, messages: Sequence[Message], use_chat_template: bool) -> list[int]:
    """The chat template (with the generation prompt) when the tokenizer has one and it is wanted, else the
    message contents joined by blank lines with the tokenizer's usual special tokens."""
    tokenizer = lm.tokenizer
    if use_chat_template and getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(
            [dict(message) for message in messages], add_generation_prompt=True, tokenize=False
        )
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    text = "\n\n".join(message.get("content", "") for message in messages)
    return list(tokenizer(text, add_special_tokens=True)["input_ids"])


def request_seed(seed: int, tokens: Sequence[int]) -> int:
    """A per-request seed from the user's seed and the prompt, independent of batching."""
    digest = hashlib.sha256(f"{seed}|{','.join(map(str, tokens))}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class SeededSampler(LogitsProcessor):
    """Temperature + nucleus (top-p) sampling as a logits processor for greedy search: adds Gumbel noise drawn
    from one generator per row, so the argmax is a sample from the warped distribution of that row."""

    def __init__(self, temperature: float, top_p: float | None, generators: list[torch.Generator]):
        self.temperature = temperature
        self.top_p = top_p
        self.generators = generators

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.float() / self.temperature
        if self.top_p is not None and self.top_p < 1.0:
            sorted_scores, sorted_idx = torch.sort(scores, dim=-1, descending=True)
            probs = torch.softmax(sorted_scores, dim=-1)
            before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each token
            drop_sorted = before >= self.top_p  # the top token always stays (its `before` is 0)
            drop = torch.zeros_like(drop_sorted).scatter(1, sorted_idx, drop_sorted)
            scores = scores.masked_fill(drop, float("-inf"))
        noise = torch.stack(
            [
                torch.rand(scores.shape[-1], generator=generator, dtype=torch.float64)
                for generator in self.generators
            ]
        )
        gumbel = -torch.log(-torch.log(noise.clamp(min=1e-20))).to(scores.device, scores.dtype)
        return scores + gumbel


class StopOnStrings(StoppingCriteria):
    """Ends a sequence as soon as its generated text contains one of the stop strings; remembers when."""

    def __init__(self, tokenizer: Any, stops: Sequence[str], prompt_width: int, batch: int):
        self.tokenizer = tokenizer
        self.stops = tuple(stop for stop in stops if stop)
        self.prompt_width = prompt_width
        # a stop string of k characters spans at most ~4k byte-level tokens; decode only that tail
        self.tail = 4 * max((len(stop) for stop in self.stops), default=1) + 8
        self.stopped_at: list[int | None] = [None] * batch

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        generated = input_ids.shape[1] - self.prompt_width
        tails = input_ids[:, max(self.prompt_width, input_ids.shape[1] - self.tail) :].tolist()
        for row, tail in enumerate(tails):
            if self.stopped_at[row] is None:
                text = self.tokenizer.decode(tail, skip_special_tokens=True)
                if any(stop in text for stop in self.stops):
                    self.stopped_at[row] = generated
        flags = [at is not None for at in self.stopped_at]
        return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)


def generate_batch(lm: LoadedModel, prompts: Sequence[PreparedPrompt]) -> list[BatchOutput]:
    """Generate for prompts that share decoding params, left-padded into one batch."""
    params = prompts[0].params
    width = max(len(prompt.tokens) for prompt in prompts)
    ids = torch.full((len(prompts), width), lm.pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt.tokens) :] = torch.tensor(prompt.tokens)
        mask[row, width - len(prompt.tokens) :] = 1
    config = GenerationConfig(
        max_new_tokens=params.max_tokens,
        min_new_tokens=0,
        do_sample=False,  # sampling is done by SeededSampler on top of greedy search
        num_beams=1,
        temperature=1.0,
        top_p=1.0,
        top_k=50,
        repetition_penalty=1.0,
        eos_token_id=list(lm.eos_token_ids) or None,
        pad_token_id=lm.pad_token_id,
    )
    processors = LogitsProcessorList()
    if params.temperature > 0:
        generators = []
        for prompt in prompts:
            generator = torch.Generator()
            if params.seed is None:
                generator.seed()
            else:
                generator.manual_seed(request_seed(params.seed, prompt.tokens))
            generators.append(generator)
        processors.append(SeededSampler(params.temperature, params.top_p, generators))
    stopper = StopOnStrings(lm.tokenizer, params.stop, width, len(prompts)) if any(params.stop) else None
    criteria = StoppingCriteriaList([stopper] if stopper else [])
    out = lm.model.generate(
        input_ids=ids.to(lm.device),
        attention_mask=mask.to(lm.device),
        generation_config=config,
        logits_processor=processors,
        stopping_criteria=criteria,
    )
    new_tokens = out[:, width:].tolist()
    results = []
    for row, prompt in enumerate(prompts):
        tokens = new_tokens[row]
        stopped_at = stopper.stopped_at[row] if stopper else None
        limit = stopped_at if stopped_at is not None else len(tokens)
        eos_at = next((k for k, tok in enumerate(tokens[:limit]) if tok in lm.eos_token_ids), None)
        if eos_at is not None:
            count, reason = eos_at + 1, "stop"
            text = lm.tokenizer.decode(tokens[:eos_at], skip_special_tokens=True)
        else:
            count = limit
            text = lm.tokenizer.decode(tokens[:limit], skip_special_tokens=True)
            reason = "stop" if stopped_at is not None or count < params.max_tokens else "length"
        cut = min(
            (pos for pos in (text.find(stop) for stop in params.stop if stop) if pos >= 0), default=None
        )
        if cut is not None:
            text, reason = text[:cut], "stop"
        results.append(BatchOutput(prompt.index, text, reason, len(prompt.tokens), count))
    return results
