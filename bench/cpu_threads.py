"""CPU threads and precision for the hf provider: the packaged default model's scoring (batched forward passes)
and greedy generation timed in a fresh process per setting — torch intra-op threads 1…N and float32 vs
bfloat16 — with and without a competing busy process per core. Prints seconds per setting and the ratio to
the fastest; the hf provider's CPU thread default (docs/language.md, `threads`) comes from these figures.

    python bench/cpu_threads.py [--repeats 3] [--busy 0,1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import subprocess
import sys
import time

PROBE = r"""
import json, os, sys, time
import torch
from pathlib import Path
from evaldsl.providers.hf_loading import load_model, resolve_source

threads, dtype = int(sys.argv[1]), sys.argv[2]
torch.set_num_threads(threads)
lm = load_model(resolve_source("smollm2-135m-instruct", Path(".")), "cpu", dtype, progress=False)
text = "The quick brown fox jumps over the lazy dog. " * 8
ids = lm.tokenizer([text] * 8, return_tensors="pt").input_ids[:, :64]
with torch.inference_mode():
    lm.model(ids)  # warm-up
    start = time.perf_counter()
    for _ in range(4):
        lm.model(ids)
    score = time.perf_counter() - start
    prompt = lm.tokenizer(["Q: What is the capital of France?\nA:"], return_tensors="pt")
    start = time.perf_counter()
    lm.model.generate(**prompt, max_new_tokens=32, do_sample=False, pad_token_id=lm.pad_token_id)
    generate = time.perf_counter() - start
print(json.dumps({"score_s": score, "generate_s": generate}))
"""


def _busy(stop_after: float) -> None:
    end = time.monotonic() + stop_after
    x = 0
    while time.monotonic() < end:
        x += 1


def measure(threads: int, dtype: str, busy: int, repeats: int) -> dict[str, float]:
    """Median seconds of scoring and generation over `repeats` fresh processes, with `busy` spinning cores."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        spinners = [multiprocessing.Process(target=_busy, args=(120.0,), daemon=True) for _ in range(busy)]
        for p in spinners:
            p.start()
        try:
            out = subprocess.run([sys.executable, "-c", PROBE, str(threads), dtype], env=env, check=True,
                                 capture_output=True, text=True).stdout
        finally:
            for p in spinners:
                p.terminate()
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {key: sorted(r[key] for r in runs)[len(runs) // 2] for key in ("score_s", "generate_s")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--busy", default="0,1", help="competing busy processes to try, comma-separated")
    parser.add_argument("--max-threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; load average at start: {os.getloadavg()[0]:.1f}")
    for busy in (int(b) for b in args.busy.split(",")):
        print(f"\nwith {busy} competing busy process(es):")
        print(f"{'dtype':<9} {'threads':>7} {'score s':>9} {'generate s':>11}", flush=True)
        rows = []
        for dtype in ("float32", "bfloat16"):
            for threads in range(1, args.max_threads + 1):
                m = measure(threads, dtype, busy, args.repeats)
                rows.append((dtype, threads, m))
                print(f"{dtype:<9} {threads:>7} {m['score_s']:>9.3f} {m['generate_s']:>11.3f}", flush=True)
        best_score = min(r[2]["score_s"] for r in rows)
        best_gen = min(r[2]["generate_s"] for r in rows)
        print("ratios to the fastest (score, generate): " + ", ".join(
            f"{dtype}×{threads} {m['score_s'] / best_score:.2f}/{m['generate_s'] / best_gen:.2f}"
            for dtype, threads, m in rows))

if __name__ == "__main__":
    main()
