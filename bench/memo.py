"""Node-level memoization: a 10,000-sample spec with 4 metrics and a judge (mock models), run three times in one
store — cold (every node computed), unchanged (every metric and judge served from the memo), and after editing
one metric (only it computed) — then unchanged with `--no-memo` (model calls from the response cache, every metric
and judge computed again: what a re-run cost before) and with `--no-cache` (nothing reused).

    python bench/memo.py [--samples 10000]

Prints each run's wall time as the runner measures it (`wall_s`), the whole process's time, and the memo counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import evaldsl_cmd, timed  # noqa: E402

SPEC = """
dataset qa {{ path = "qa.jsonl" }}
model m {{ provider = "mock", response = "{{{{ answer }}}} is the answer" }}
model grader {{ provider = "mock", response = \"\"\"{{"reasoning": "ok", "score": 4}}\"\"\" }}
judge graded {{ model = grader, rubric = "Is the answer right?" }}
metric overlap = {overlap}
eval qa_eval {{
  dataset = qa
  prompt  = "Q: {{{{ question }}}}"
  models  = [m]
  target  = "{{{{ answer }}}}"
  metrics = [exact_match, contains, f1, overlap, graded]
}}
"""


def write(folder: Path, overlap: str) -> Path:
    spec = folder / "spec.eval"
    spec.write_text(SPEC.format(overlap=overlap))
    return spec


def one(folder: Path, label: str, *extra: str) -> None:
    spec = folder / "spec.eval"
    store = folder / "st"
    elapsed, out = timed(evaldsl_cmd("run", str(spec), "--store", str(store), "-f", "json", *extra))
    data = json.loads(out.splitlines()[0])
    _, shown = timed(evaldsl_cmd("show", data["run_id"], "--store", str(store), "-f", "json"))
    summary = json.loads(shown.splitlines()[0])["summary"]
    print(f"{label:<36} wall_s {data['wall_s']:>7.2f}  process {elapsed:>7.2f} s  model calls "
          f"{data['model_calls']:>6}  memo hits {summary['memo_hits']}  computed {summary['memo_computed']}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with (folder / "qa.jsonl").open("w") as fh:
            for i in range(args.samples):
                fh.write(json.dumps({"question": f"What is {i} plus {i}?", "answer": str(2 * i)}) + "\n")
        write(folder, "rougeL")
        print(f"{args.samples} samples, metrics exact_match, contains, f1, rougeL + a judge")
        one(folder, "cold (nothing cached)")
        one(folder, "unchanged re-run")
        write(folder, "rouge1")
        one(folder, "one metric edited (rougeL → rouge1)")
        one(folder, "unchanged, --no-memo (cache only)", "--no-memo")
        one(folder, "unchanged, --no-cache (nothing reused)", "--no-cache")


if __name__ == "__main__":
    main()
