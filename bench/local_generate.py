"""Generation throughput of HFProvider.generate vs a plain batched `model.generate` loop: prints tokens/s.

Both run the packaged default model (fp32, CPU unless --device says otherwise) on the same 16 chat prompts,
batch 8, max_tokens 32, greedy. Each measurement runs in a fresh process (load, one warm-up pass, one timed
pass), alternating between the two sides; the best of --repeats is reported for each. Separate processes
matter: torch's OpenMP thread teams left behind by one side's threads slow the other side down on a busy CPU.
Usage: python bench/local_generate.py [--prompts 16] [--batch 8] [--max-tokens 32] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
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


def measure(side: str, args: argparse.Namespace) -> dict[str, float]:
    """Load the default model, warm up, then time one pass of `side` ("provider" or "plain")."""
    import torch

    from evaldsl.compile.model_config import ModelConfig
    from evaldsl.providers.hf import HFProvider
    from evaldsl.providers.records import GenerateRequest, GenerationParams

    if args.threads:
        torch.set_num_threads(args.threads)
    questions = (QUESTIONS * (args.prompts // len(QUESTIONS) + 1))[: args.prompts]
    config = ModelConfig(
        name="bench",
        provider="hf",
        id="smollm2-135m-instruct",
        dtype="float32",
        device=args.device,
        batch_size=args.batch,
    )
    provider = HFProvider(config, base_dir=Path.cwd(), progress=False)
    params = GenerationParams(max_tokens=args.max_tokens)
    requests = [GenerateRequest(messages=({"role": "user", "content": q},), params=params) for q in questions]

    async def provider_pass() -> int:
        tokens = 0
        async for _, generation in provider.generate(requests):
            assert generation.error is None, generation.error
            tokens += generation.completion_tokens or 0
        return tokens

    def provider_run() -> int:
        return asyncio.run(provider_pass())

    def plain_run() -> int:
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
        return tokens

    if side == "provider":
        run = provider_run
        lm = asyncio.run(provider.load())
    else:
        run = plain_run
        from evaldsl.providers.hf_loading import load_model, resolve_source

        lm = load_model(resolve_source(config.id, Path.cwd()), args.device, "float32", progress=False)
    model, tokenizer = lm.model, lm.tokenizer
    tokenizer.padding_side = "left"
    prompts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": q}], add_generation_prompt=True, tokenize=False
        )
        for q in questions
    ]
    run()  # warm-up
    started = time.perf_counter()
    tokens = run()
    return {"seconds": time.perf_counter() - started, "tokens": tokens, "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per side (best is reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--side", choices=("provider", "plain"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(measure(args.side, args)))
        return

    passthrough = [
        f"--prompts={args.prompts}",
        f"--batch={args.batch}",
        f"--max-tokens={args.max_tokens}",
        f"--threads={args.threads}",
        f"--device={args.device}",
    ]
    env = dict(os.environ, TQDM_DISABLE="1", TRANSFORMERS_VERBOSITY="error")
    results: dict[str, list[dict[str, float]]] = {"provider": [], "plain": []}
    for _ in range(args.repeats):  # alternating, so machine noise hits both sides alike
        for side in ("provider", "plain"):
            proc = subprocess.run(
                [sys.executable, __file__, f"--side={side}", *passthrough],
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                sys.exit(f"{side} run failed:\n{proc.stderr[-3000:]}")
            results[side].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    best = {side: min(runs, key=lambda r: r["seconds"]) for side, runs in results.items()}
    tps = {side: r["tokens"] / r["seconds"] for side, r in best.items()}
    print(f"device={args.device} dtype=float32 torch threads={best['plain']['threads']:.0f}")
    print(
        f"prompts={args.prompts} batch={args.batch} max_tokens={args.max_tokens} greedy, "
        f"best of {args.repeats} fresh processes per side"
    )
    for side, label in (("provider", "HFProvider.generate "), ("plain", "plain model.generate")):
        r = best[side]
        runs = ", ".join(f"{x['seconds']:.1f}" for x in results[side])
        print(
            f"{label}: {r['tokens']:.0f} tokens in {r['seconds']:.2f} s = {tps[side]:.1f} tokens/s"
            f"  (runs: {runs} s)"
        )
    print(f"ratio (provider / plain): {tps['provider'] / tps['plain']:.2f}x  (target >= 0.9x)")


if __name__ == "__main__":
    main()
