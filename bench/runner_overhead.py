"""Runner overhead: 1,000 QA samples through an instant model with exact match + F1, evaldsl vs inspect-ai.

    python bench/runner_overhead.py [--samples 1000] [--skip-peer]

Prints wall times of whole processes (cold start included, as a user experiences them) and the ratio.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import evaldsl_cmd, peer_venv, timed  # noqa: E402

INSPECT_TASK = """
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import exact, f1
from inspect_ai.solver import generate
import json

@task
def qa():
    rows = [json.loads(line) for line in open({data!r})]
    return Task(dataset=[Sample(input="Q: " + r["question"], target=r["answer"]) for r in rows],
                solver=[generate()], scorer=[exact(), f1()])
"""


def make_data(folder: Path, n: int) -> Path:
    data = folder / "qa.jsonl"
    with data.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"question": f"What is {i} plus {i}?", "answer": str(2 * i)}) + "\n")
    return data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = make_data(folder, args.samples)
        spec = folder / "overhead.eval"
        spec.write_text(f'''
dataset qa {{ path = "{data.name}" }}
model instant {{ provider = "mock", response = "{{{{ answer }}}}" }}
eval overhead {{
  dataset = qa
  prompt  = "Q: {{{{ question }}}}"
  models  = [instant]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match, f1]
}}
''')
        cold, out = timed(
            evaldsl_cmd("run", str(spec), "--no-cache", "--store", str(folder / "store"), "--format", "json")
        )
        result = json.loads(out.splitlines()[0])["results"][0]
        assert result["n"] == args.samples and result["metrics"]["exact_match"]["value"] == 1.0
        cached, _ = timed(evaldsl_cmd("run", str(spec), "--store", str(folder / "store"), "--format", "json"))
        check, _ = timed(evaldsl_cmd("check", str(spec)))
        print(f"evaldsl run, {args.samples} samples, no cache : {cold:6.2f} s")
        print(f"evaldsl run, {args.samples} samples, cached   : {cached:6.2f} s")
        print(f"evaldsl check (start-up + compile)   : {check:6.2f} s")
        if args.skip_peer:
            return
        python = peer_venv("inspect", ["inspect-ai", "openai"])
        task_file = folder / "inspect_task.py"
        task_file.write_text(INSPECT_TASK.format(data=str(data)))
        # inspect needs tiktoken encodings, which cannot be downloaded offline: point it at litellm's bundled ones.
        spec_origin = importlib.util.find_spec("litellm").origin  # type: ignore[union-attr]
        tiktoken_dir = Path(str(spec_origin)).parent / "litellm_core_utils" / "tokenizers"
        env = {
            "TIKTOKEN_CACHE_DIR": str(tiktoken_dir),
            "INSPECT_LOG_DIR": str(folder / "logs"),
            "INSPECT_DISPLAY": "none",
        }
        inspect = str(Path(python).parent / "inspect")
        peer, _ = timed([inspect, "eval", task_file.name, "--model", "mockllm/model"], env=env, cwd=folder, ok=(0,))
        print(f"inspect-ai mockllm/model             : {peer:6.2f} s")
        print(f"ratio inspect / evaldsl (no cache)   : {peer / cold:6.1f}x   (target >= 10x)")


if __name__ == "__main__":
    main()
