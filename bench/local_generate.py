"""Generation throughput of HFProvider.generate vs a plain batched `model.generate` loop: prints tokens/s.

Both run the packaged default model (fp32, CPU unless --device says otherwise) on the same 16 chat prompts,
batch 8, max_tokens 32, greedy; the timed part is generation only (the model is loaded and warmed up first).
Usage: python bench/local_generate.py [--prompts 16] [--batch 8] [--max-tokens 32] [--repeats 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

QUESTIONS = [
    "What is the capital of France?",
    "Name three primary colors.",
    "Why is the sky blue?",
    "What is two plus two?",
    "Write a haiku about autumn.",
    "Who wrote Romeo and Juliet?",
    "What does a thermometer measure?",
    "Give a synonym for happy.",
    "How many legs does a spider have?",
    "What is the boiling point of water in Celsius?",
    "Translate 'good morning' into Spanish.",
    "What is photosynthesis, in one sentence?",
    "Name a mammal that can fly.",
    "What is the largest planet in our solar system?",
    "Suggest a name for a pet goldfish.",
    "What is the opposite of cold?",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each side (best is reported)")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    import torch

    from evaldsl.config import ModelConfig
    from evaldsl.providers.hf import HFProvider
    from evaldsl.records import GenerateRequest, GenerationParams

    questions = (QUESTIONS * (args.prompts // len(QUESTIONS) + 1))[: args.prompts]
    config = ModelConfig(
        name="bench",
        provider="hf",
        id="smollm2-135m-instruct",
        dtype="float32",
        device=args.device,
        batch_size=args.batch,
        max_tokens=args.max_tokens,
    )
    provider = HFProvider(config, base_dir=Path.cwd())
    params = GenerationParams(max_tokens=args.max_tokens)
    requests = [GenerateRequest(messages=({"role": "user", "content": q},), params=params) for q in questions]

    async def provider_run() -> tuple[float, int]:
        started = time.perf_counter()
        tokens = 0
        async for _, generation in provider.generate(requests):
            assert generation.error is None, generation.error
            tokens += generation.completion_tokens or 0
        return time.perf_counter() - started, tokens

    lm = asyncio.run(provider.load())
    model, tokenizer = lm.model, lm.tokenizer
    tokenizer.padding_side = "left"
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False
        )
        for q in questions
    ]

    def plain_run() -> tuple[float, int]:
        started = time.perf_counter()
        tokens = 0
        with torch.inference_mode():
            for start in range(0, len(prompts), args.batch):
                batch = tokenizer(
                    prompts[start : start + args.batch],
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=False,
                ).to(lm.device)
                out = model.generate(
                    **batch, max_new_tokens=args.max_tokens, do_sample=False, pad_token_id=lm.pad_token_id
                )
                for row in out[:, batch["input_ids"].shape[1] :].tolist():
                    eos = next((k for k, t in enumerate(row) if t in lm.eos_token_ids), None)
                    tokens += len(row) if eos is None else eos + 1
        return time.perf_counter() - started, tokens

    asyncio.run(provider_run())  # warm-up
    plain_run()
    ours, theirs = [], []
    for _ in range(args.repeats):  # interleaved, so machine noise hits both sides alike
        ours.append(asyncio.run(provider_run()))
        theirs.append(plain_run())
    ours_s, ours_tokens = min(ours)
    plain_s, plain_tokens = min(theirs)
    ours_tps, plain_tps = ours_tokens / ours_s, plain_tokens / plain_s
    print(f"device={lm.device} dtype={lm.dtype} torch threads={torch.get_num_threads()}")
    print(
        f"prompts={len(prompts)} batch={args.batch} max_tokens={args.max_tokens} greedy, "
        f"best of {args.repeats}"
    )
    print(f"HFProvider.generate : {ours_tokens} tokens in {ours_s:.2f} s = {ours_tps:.1f} tokens/s")
    print(f"plain model.generate: {plain_tokens} tokens in {plain_s:.2f} s = {plain_tps:.1f} tokens/s")
    print(f"ratio (provider / plain): {ours_tps / plain_tps:.2f}x")


if __name__ == "__main__":
    main()
