"""`evaldsl import lm-eval`: task configs → `.eval` templates that run on the same data, prompts and metrics as
the task defines (multiple choice: the same requests and acc/acc_norm; generation: the same few-shot context,
stop sequences and exact match after the regex filter), with `include:` merged and `!function` hooks reported
with their line and left as stubs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.cli.app import app
from evaldsl.providers.mock import pseudo_loglik
from evaldsl.run.runner import RunConfig

pytest.importorskip("datasets", reason="converted tasks read Hugging Face datasets")

FIXTURES = Path(__file__).parent / "fixtures" / "std"


def rows(name: str, split: str) -> list[dict[str, Any]]:
    text = (FIXTURES / name / "data" / f"{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def convert(tmp_path: Path, *files: tuple[str, str]) -> tuple[list[Path], Any]:
    for name, text in files:
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "lm-eval", str(tmp_path / files[-1][0]), "--out", str(tmp_path)])
    return sorted(tmp_path.glob("*.eval")), result


def run(tmp_path: Path, module: str, template: str, response: str = "") -> dict[str, Any]:
    spec = tmp_path / "run.eval"
    spec.write_text(f'import "./{module}"\nmodel m {{\n  provider = "mock"\n  response = {json.dumps(response)}\n}}\n'
                    f"eval t = {template}(models = [m])\n", encoding="utf-8")  # fmt: skip
    result = api.run(api.compile(spec), RunConfig(store_dir=tmp_path / "store"))
    assert result.status == "completed", result.message
    (only,) = result.results
    return {k: v.value for k, v in only.metrics.items()}


BASE = """
dataset_path: {path}
output_type: multiple_choice
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{choices.label.index(answerKey)}}}}"
doc_to_choice: "{{{{choices.text}}}}"
metric_list:
  - metric: acc
  - metric: acc_norm
"""


def test_multiple_choice_with_include_matches_the_task(tmp_path: Path) -> None:
    files, result = convert(tmp_path, ("_arc_base_yaml", BASE.format(path=json.dumps(str(FIXTURES / "arc")))),
                            ("arc_tiny.yaml", "include: _arc_base_yaml\ntask: arc_tiny\n"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [f.name for f in files] == ["arc_tiny.eval"]
    got = run(tmp_path, "arc_tiny.eval", "arc_tiny")
    acc = norm = 0
    for row in rows("arc", "test"):
        ctx, texts = f"Question: {row['question']}\nAnswer:", row["choices"]["text"]
        lls = [pseudo_loglik(ctx, " " + t)[0] for t in texts]
        gold = row["choices"]["label"].index(row["answerKey"])
        acc += max(range(len(lls)), key=lambda i: (lls[i], -i)) == gold
        normed = [ll / len(t) for ll, t in zip(lls, texts, strict=True)]
        norm += max(range(len(lls)), key=lambda i: (normed[i], -i)) == gold
    assert got["accuracy"] == pytest.approx(acc / 3) and got["accuracy_norm"] == pytest.approx(norm / 3)


GENERATE = """
task: gsm_tiny
dataset_path: {path}
output_type: generate_until
training_split: train
fewshot_split: train
test_split: test
fewshot_config:
  sampler: first_n
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
num_fewshot: 2
metric_list:
  - metric: exact_match
    ignore_case: true
    regexes_to_ignore: [",", "\\\\$", "(?s).*#### "]
generation_kwargs:
  until: ["Question:", "\\n\\n"]
  max_gen_toks: 64
filter_list:
  - name: strict-match
    filter:
      - function: regex
        regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"
      - function: take_first
"""


def test_generation_with_few_shot_and_a_regex_filter(tmp_path: Path) -> None:
    files, result = convert(tmp_path, ("gsm_tiny.yaml", GENERATE.format(path=json.dumps(str(FIXTURES / "gsm8k")))))
    assert result.exit_code == 0, result.output
    text = files[0].read_text()
    assert 'stop = ["Question:", "\\n\\n"]' in text and "max_tokens = 64" in text and "first = true" in text
    response = "{% if 'pages' in question %}So 20.\n#### 20{% else %}#### 8{% endif %}"
    got = run(tmp_path, "gsm_tiny.eval", "gsm_tiny", response)
    assert got["t.exact"] == pytest.approx(1 / 3)  # "#### 20" right; "#### 8" wrong twice
    graph = api.compile(tmp_path / "run.eval")
    from tests.test_stdlib_benchmarks import samples

    shots = "\n\n".join(f"Question: {r['question']}\nAnswer: {r['answer']}" for r in rows("gsm8k", "train")[:2])
    first = samples(graph)[0]
    assert first.messages[0]["content"] == f"{shots}\n\nQuestion: {rows('gsm8k', 'test')[0]['question']}\nAnswer:"


def test_function_hooks_are_reported_with_their_line_and_left_as_stubs(tmp_path: Path) -> None:
    text = BASE.format(path=json.dumps(str(FIXTURES / "arc"))) + "task: hooked\nprocess_docs: !function utils.process\n"
    text = text.replace('doc_to_text: "Question: {{question}}\\nAnswer:"', "doc_to_text: !function utils.text")
    files, result = convert(tmp_path, ("hooked.yaml", text))
    assert result.exit_code == 0
    assert "hooked.yaml:5: `doc_to_text: !function utils.text` cannot be converted" in result.output
    assert "`process_docs: !function utils.process` cannot be converted" in result.output
    spec = tmp_path / "run.eval"
    spec.write_text('import "./hooked.eval"\nmodel m { provider = "mock" }\neval t = hooked(models = [m])\n')
    diagnostics = api.check(spec).diagnostics
    assert any(d.code == "E309" and "FILL_ME_doc_to_text" in d.message for d in diagnostics)
    assert "NOT CONVERTED" in files[0].read_text()


def test_a_missing_or_broken_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("task: [unclosed\n")
    result = CliRunner().invoke(app, ["import", "lm-eval", str(tmp_path / "bad.yaml"), str(tmp_path / "none.yaml"),
                                      "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 2
    assert "not valid YAML" in result.output and "none.yaml" in result.output and "Traceback" not in result.output
