"""Local multiple choice: TruthfulQA-style mc1 + mc2 on the first 50 questions, on the default model (fp32 CPU),
evaldsl vs lm-evaluation-harness's `hf` backend on the same model folder, prompt and data.

    python bench/local_choice.py [--questions 50] [--batch-size 8] [--skip-peer]

lm-evaluation-harness is installed into bench/.venv-lmeval (sharing this interpreter's torch). Prints wall
times of whole processes, both sets of scores and the ratio.
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

TASK_YAML = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    validation: {data}
validation_split: validation
output_type: multiple_choice
doc_to_text: "{{{{prompt}}}}"
doc_to_target: 0
doc_to_choice: "{{{{{choices}.choices}}}}"
{scoring}
"""

MC2_UTILS = '''
import numpy as np

def mc2(doc, results):
    """Probability mass of the true choices, from each choice's summed log-likelihood."""
    logliks = np.array([ll for ll, _ in results], dtype=float)
    labels = np.array(doc["mc2_targets"]["labels"])
    probs = np.exp(logliks - logliks.max())
    return {"mc2": float(probs[labels == 1].sum() / probs.sum())}
'''


def peer_python() -> Path:
    import site
    import subprocess
    import venv

    folder = ROOT / "bench" / ".venv-lmeval"
    python = folder / "bin" / "python"
    if not (folder / ".installed").exists():
        venv.EnvBuilder(with_pip=True, system_site_packages=True).create(folder)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "lm-eval"], check=True)
        (folder / ".installed").write_text("lm-eval")
    # This interpreter's packages (torch above all) after the environment's own: `system_site_packages` only
    # reaches the base interpreter's, which lack them when this one is itself a virtual environment.
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (Path(purelib) / "_parent_site.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--skip-peer", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from evaldsl.providers.default_model import default_model_dir

    model_dir = default_model_dir()
    primer = (ROOT / "stdlib" / "data" / "truthfulqa" / "qa_primer.txt").read_text(encoding="utf-8").rstrip("\n")
    rows = list(csv.DictReader((ROOT / "stdlib" / "data" / "truthfulqa" / "TruthfulQA.csv").open(encoding="utf-8")))
    rows = rows[: args.questions]
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = folder / "choice.eval"
        spec.write_text(f'''
import "std/truthfulqa"
model small {{ provider = "hf", id = "{model_dir}", dtype = "float32", device = "cpu", batch_size = {args.batch_size} }}
eval tqa = truthfulqa(models = [small], limit = {args.questions})
''')
        ours, out = timed(
            evaldsl_cmd(
                "run",
                str(spec),
                "--eval",
                "tqa.mc1",
                "--eval",
                "tqa.mc2",
                "--no-cache",
                "--store",
                str(folder / "store"),
                "--format",
                "json",
            ),
            env=env,
        )
        results = {r["eval"]: r["metrics"] for r in json.loads(out.splitlines()[0])["results"]}
        mc1, mc2 = results["tqa.mc1"]["mc1"]["value"], results["tqa.mc2"]["mc2"]["value"]
        print(
            f"evaldsl  mc1 {mc1:.4f}  mc2 {mc2:.4f}  wall {ours:7.1f} s  ({args.questions} questions, "
            f"batch {args.batch_size})"
        )
        if args.skip_peer:
            return
        data = folder / "tqa.jsonl"
        with data.open("w") as fh:
            for r in rows:
                correct = [a.strip() for a in r["Correct Answers"].split(";") if a.strip()]
                incorrect = [a.strip() for a in r["Incorrect Answers"].split(";") if a.strip()]
                fh.write(
                    json.dumps(
                        {
                            "prompt": primer + "\n\nQ: " + r["Question"] + "\nA:",
                            "mc1_targets": {
                                "choices": [r["Best Answer"], *incorrect],
                                "labels": [1] + [0] * len(incorrect),
                            },
                            "mc2_targets": {
                                "choices": correct + incorrect,
                                "labels": [1] * len(correct) + [0] * len(incorrect),
                            },
                        }
                    )
                    + "\n"
                )
        tasks = folder / "tasks"
        tasks.mkdir()
        (tasks / "utils.py").write_text(MC2_UTILS)
        (tasks / "bench_mc1.yaml").write_text(
            TASK_YAML.format(
                name="bench_mc1",
                data=data,
                choices="mc1_targets",
                scoring="metric_list:\n  - metric: acc\n    aggregation: mean\n    higher_is_better: true",
            )
        )
        (tasks / "bench_mc2.yaml").write_text(
            TASK_YAML.format(
                name="bench_mc2",
                data=data,
                choices="mc2_targets",
                scoring="process_results: !function utils.mc2\nmetric_list:\n  - metric: mc2\n    aggregation: mean\n"
                "    higher_is_better: true",
            )
        )
        python = peer_python()
        out_dir = folder / "lmeval_out"
        peer, log = timed(
            [
                str(python),
                "-m",
                "lm_eval",
                "--model",
                "hf",
                "--model_args",
                f"pretrained={model_dir},dtype=float32",
                "--device",
                "cpu",
                "--batch_size",
                str(args.batch_size),
                "--tasks",
                "bench_mc1,bench_mc2",
                "--include_path",
                str(tasks),
                "--output_path",
                str(out_dir),
            ],
            env=env,
            ok=(0,),
        )
        result_file = next(out_dir.rglob("results*.json"))
        peer_results = json.loads(result_file.read_text())["results"]
        p1 = peer_results["bench_mc1"]["acc,none"]
        p2 = peer_results["bench_mc2"]["mc2,none"]
        print(f"lm-eval  mc1 {p1:.4f}  mc2 {p2:.4f}  wall {peer:7.1f} s")
        print(f"|mc2 difference| {abs(mc2 - p2):.5f} (target <= 0.002); mc1 equal: {abs(mc1 - p1) < 1e-9}")
        print(f"ratio lm-eval / evaldsl: {peer / ours:.2f}x (target >= 3x)")


if __name__ == "__main__":
    main()
