"""Parity of `evaldsl import lm-eval` with lm-evaluation-harness: the same task YAMLs, data and model, run by
both; prints each task's metrics side by side and the largest difference.

    python bench/lm_eval_parity.py [--questions 50] [--model FOLDER] [--skip-peer]

Four tasks are written to a temporary folder over one local JSON-lines dataset (the first TruthfulQA questions of
stdlib/, each with its best answer and up to three incorrect ones): a `multiple_choice` task (acc, acc_norm), a
`generate_until` task (exact_match, bleu), a `loglikelihood_rolling` task and a `loglikelihood` task (the first word
of the best answer after the question, as LAMBADA scores a last word; both without `metric_list`: lm-eval's
defaults, word/byte perplexity and bits per byte, and perplexity and acc). They are converted with `evaldsl import
lm-eval`, run by one `evaldsl run` of a spec instantiating the four templates on an `hf` model, then by `lm_eval
--include_path` on the same model (the packaged default model unless --model is given), fp32 on the CPU.
lm-evaluation-harness is installed into bench/.venv-lmeval (seeing this interpreter's torch) on first use;
--skip-peer runs evaldsl only.

Expected: acc and acc_norm equal; perplexities and bleu within 1e-6 relative.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, evaldsl_cmd, timed  # noqa: E402
from local_choice import peer_python  # noqa: E402

COMMON = "dataset_path: {data}\ntest_split: test\n"

TASKS = {
    "parity_mc": """task: parity_mc
output_type: multiple_choice
doc_to_text: "Q: {{question}}\\nA:"
doc_to_choice: "{{choices}}"
doc_to_target: label
metric_list:
  - metric: acc
  - metric: acc_norm
""",
    "parity_gen": """task: parity_gen
output_type: generate_until
doc_to_text: "Q: {{question}}\\nA:"
doc_to_target: answer
generation_kwargs:
  until: ["\\n", "Q:"]
  max_gen_toks: 24
metric_list:
  - metric: exact_match
  - metric: bleu
""",
    "parity_ppl": """task: parity_ppl
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{answer}}"
""",
    "parity_ll": """task: parity_ll
output_type: loglikelihood
doc_to_text: "Q: {{question}}\\nA:"
doc_to_target: "{{' ' + answer.split(' ')[0]}}"
""",
}

# lm-eval's metric key → the metric's name in evaldsl's results of a converted template.
NAMES = {"acc": "accuracy", "acc_norm": "accuracy_norm", "exact_match": "exact", "bleu": "bleu",
         "word_perplexity": "word_perplexity", "byte_perplexity": "byte_perplexity",
         "bits_per_byte": "bits_per_byte"}  # fmt: skip
NAMES_OF = {"parity_ll": {"acc": "greedy_match", "perplexity": "target_perplexity"}}  # loglikelihood's own


def write_data(folder: Path, n: int) -> None:
    """A local dataset folder (`data/test.jsonl`) that both tools load with `datasets`."""
    rows = list(csv.DictReader((ROOT / "stdlib" / "data" / "truthfulqa" / "TruthfulQA.csv").open(encoding="utf-8")))
    (folder / "data").mkdir(parents=True)
    with (folder / "data" / "test.jsonl").open("w", encoding="utf-8") as fh:
        for r in rows[:n]:
            wrong = [a.strip() for a in r["Incorrect Answers"].split(";") if a.strip()][:3]
            record = {"question": r["Question"], "answer": r["Best Answer"], "choices": [r["Best Answer"], *wrong],
                      "label": 0}  # fmt: skip
            fh.write(json.dumps(record) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--model", default=None, help="a local model folder (default: the packaged default model)")
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from evaldsl.providers.default_model import default_model_dir

    model_dir = Path(args.model).resolve() if args.model else default_model_dir()
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "truthful"
        write_data(data, args.questions)
        tasks = folder / "tasks"
        tasks.mkdir()
        for name, body in TASKS.items():
            (tasks / f"{name}.yaml").write_text(COMMON.format(data=json.dumps(str(data))) + body, encoding="utf-8")
        timed(evaldsl_cmd("import", "lm-eval", *(str(tasks / f"{n}.yaml") for n in TASKS), "--out", str(folder)),
              env=env, ok=(0,))  # fmt: skip
        spec = folder / "parity.eval"
        spec.write_text(
            "".join(f'import "./{name}.eval"\n' for name in TASKS)
            + f'model m {{ provider = "hf", id = {json.dumps(str(model_dir))}, dtype = "float32", device = "cpu" }}\n'
            + "".join(f"eval {name} = {name}(models = [m], limit = {args.questions})\n" for name in TASKS),
            encoding="utf-8",
        )
        wall, out = timed(
            evaldsl_cmd("run", str(spec), "--no-cache", "--store", str(folder / "store"), "--format", "json",
                        "--allow-path", str(model_dir)),
            env=env,
        )  # fmt: skip
        ours: dict[str, dict[str, float]] = {}
        for result in json.loads(out.splitlines()[0])["results"]:
            task = result["eval"].split(".")[0]
            ours[task] = {k.split(".")[-1]: v["value"] for k, v in result["metrics"].items()}
            print(f"evaldsl  {task:11s} " + "  ".join(f"{k} {v:.6f}" for k, v in ours[task].items()))
        print(f"evaldsl wall {wall:.1f} s ({args.questions} questions)")
        if args.skip_peer:
            return
        out_dir = folder / "lmeval_out"
        peer, _ = timed(
            [str(peer_python()), "-m", "lm_eval", "--model", "hf", "--model_args",
             f"pretrained={model_dir},dtype=float32", "--device", "cpu", "--batch_size", "8",
             "--tasks", ",".join(TASKS), "--include_path", str(tasks), "--output_path", str(out_dir)],
            env=env, ok=(0,),
        )  # fmt: skip
        peer_results = json.loads(next(out_dir.rglob("results*.json")).read_text())["results"]
        worst = 0.0
        for name in TASKS:
            for key, value in peer_results[name].items():
                metric, _, filt = key.partition(",")
                ours_name = NAMES_OF.get(name, NAMES).get(metric)
                if ours_name is None or filt != "none":
                    continue
                mine = ours.get(name, {}).get(ours_name)
                diff = abs(mine - value) / max(1.0, abs(value)) if mine is not None else float("inf")
                worst = max(worst, diff)
                print(f"{name:11s} {metric:16s} lm-eval {value:.6f}  evaldsl {mine}  |diff| {diff:.2e}")
        print(f"largest relative difference {worst:.2e}; lm-eval wall {peer:.1f} s")


if __name__ == "__main__":
    main()
