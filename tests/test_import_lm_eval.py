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


def run_all(tmp_path: Path, module: str, template: str, response: str = "") -> dict[str, dict[str, Any]]:
    """Each eval's metric values when `template` runs on a mock model (a group runs several)."""
    spec = tmp_path / "run.eval"
    spec.write_text(f'import "./{module}"\nmodel m {{\n  provider = "mock"\n  response = {json.dumps(response)}\n}}\n'
                    f"eval t = {template}(models = [m])\n", encoding="utf-8")  # fmt: skip
    result = api.run(api.compile(spec), RunConfig(store_dir=tmp_path / "store"))
    assert result.status == "completed", result.message
    return {r.eval: {k: v.value for k, v in r.metrics.items()} for r in result.results}


def test_a_group_becomes_a_template_running_its_tasks(tmp_path: Path) -> None:
    base = BASE.format(path=json.dumps(str(FIXTURES / "arc")))
    group = ("group: arc_group\ntask:\n  - arc_named\n  - task: arc_inline\n    include: _arc_base_yaml\n"
             "    metric_list:\n      - metric: acc\n  - not_passed\n  - group: arc_sub\n    task:\n      - arc_named\n"
        "aggregate_metric_list:\n  - metric: acc\n")
    for name, text in (("_arc_base_yaml", base), ("arc_named.yaml", "include: _arc_base_yaml\ntask: arc_named\n"),
                       ("group.yaml", group)):  # fmt: skip
        (tmp_path / name).write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "lm-eval", str(tmp_path / "arc_named.yaml"),
                                      str(tmp_path / "group.yaml"), "--out", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    written = sorted(f.name for f in tmp_path.glob("*.eval"))
    assert written == ["arc_group.eval", "arc_inline.eval", "arc_named.eval", "arc_sub.eval"]
    assert "group task 'not_passed' was not converted with it" in result.output
    assert "aggregate_metric_list" in result.output
    got = run_all(tmp_path, "arc_group.eval", "arc_group")
    assert len(got) == 3  # arc_named, arc_inline, and arc_named again through the nested group arc_sub
    assert sum("arc_sub" in k for k in got) == 1
    named = next(v for k, v in got.items() if "arc_named" in k)
    inline = next(v for k, v in got.items() if "arc_inline" in k)
    assert set(named) == {"accuracy", "accuracy_norm"} and set(inline) == {"accuracy"}
    assert inline["accuracy"] == named["accuracy"]  # the same task config, so the same requests and scores


ROLLING = """
task: gsm_ppl
dataset_path: {path}
output_type: loglikelihood_rolling
test_split: test
num_fewshot: 3
doc_to_text: ""
doc_to_target: "{{{{answer}}}}"
"""


def test_loglikelihood_rolling_is_perplexity_with_lm_evals_default_metrics(tmp_path: Path) -> None:
    import math
    import re

    files, result = convert(tmp_path, ("gsm_ppl.yaml", ROLLING.format(path=json.dumps(str(FIXTURES / "gsm8k")))))
    assert result.exit_code == 0, result.output
    text = files[0].read_text()
    assert 'mode = "perplexity"' in text and "text = `answer`" in text and "fewshot" not in text
    assert "metrics = [word_perplexity, byte_perplexity, bits_per_byte]" in text
    got = run(tmp_path, "gsm_ppl.eval", "gsm_ppl")
    answers = [r["answer"] for r in rows("gsm8k", "test")]
    loglik = sum(pseudo_loglik("", a)[0] for a in answers)
    n_bytes = sum(len(a.encode()) for a in answers)
    words = sum(len(re.split(r"\s+", a)) for a in answers)
    assert got["word_perplexity"] == pytest.approx(math.exp(-loglik / words), rel=1e-9)
    assert got["byte_perplexity"] == pytest.approx(math.exp(-loglik / n_bytes), rel=1e-9)
    assert got["bits_per_byte"] == pytest.approx(-loglik / n_bytes / math.log(2), rel=1e-9)


MAPPED = """
task: gsm_text
dataset_path: {path}
output_type: generate_until
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: bleu
    aggregation: bleu
    higher_is_better: true
  - metric: chrf
  - metric: rougeL
  - metric: rougeLsum
  - metric: ter
  - metric: rouge1
    use_stemmer: true
"""


def test_bleu_chrf_and_rouge_map_to_evaldsl_metrics_and_others_are_reported(tmp_path: Path) -> None:
    files, result = convert(tmp_path, ("gsm_text.yaml", MAPPED.format(path=json.dumps(str(FIXTURES / "gsm8k")))))
    assert result.exit_code == 0, result.output
    text = files[0].read_text()
    assert "metrics = [bleu, chrf, rougeL, rougeLsum]" in text
    assert 'stop = ["\\n\\n"]' in text  # lm-eval's default `until`: the few-shot delimiter
    assert "metric 'ter' for generate_until is not converted" in result.output
    assert "metric 'rouge1' with use_stemmer for generate_until is not converted" in result.output
    got = run(tmp_path, "gsm_text.eval", "gsm_text", "{{ answer }}")  # the reference itself: perfect scores
    assert got["bleu"] == pytest.approx(100.0) and got["chrf"] == pytest.approx(100.0)
    assert got["rougeL"] == pytest.approx(1.0) and got["rougeLsum"] == pytest.approx(1.0)


def test_without_a_metric_list_each_output_type_gets_lm_evals_defaults(tmp_path: Path) -> None:
    choice = BASE.split("metric_list:")[0].format(path=json.dumps(str(FIXTURES / "arc"))) + "task: arc_plain\n"
    generate = MAPPED.split("metric_list:")[0].format(path=json.dumps(str(FIXTURES / "gsm8k")))
    _, result = convert(tmp_path, ("arc_plain.yaml", choice))
    assert result.exit_code == 0, result.output
    _, result = convert(tmp_path, ("gsm_text.yaml", generate))
    assert result.exit_code == 0 and "not converted" not in result.output, result.output
    assert "metrics = [accuracy, accuracy_norm]" in (tmp_path / "arc_plain.eval").read_text()
    gen_text = (tmp_path / "gsm_text.eval").read_text()
    assert "metric exact = extract_match()" in gen_text and "metrics = [exact]" in gen_text
    got = run(tmp_path, "gsm_text.eval", "gsm_text", "{% if 'pages' in question %}{{ answer }}{% else %}no{% endif %}")
    assert got["t.exact"] == pytest.approx(1 / 3)


LOGLIKELIHOOD = """
task: gsm_last_word
dataset_path: {path}
output_type: loglikelihood
test_split: test
doc_to_text: "{{{{answer.split(' ')[:-1]|join(' ')}}}}"
doc_to_target: "{{{{' '+answer.split(' ')[-1]}}}}"
"""


def test_loglikelihood_scores_the_target_after_the_text_with_lm_evals_metrics(tmp_path: Path) -> None:
    import math

    task = LOGLIKELIHOOD.format(path=json.dumps(str(FIXTURES / "gsm8k")))
    files, result = convert(tmp_path, ("gsm_last_word.yaml", task))
    assert result.exit_code == 0 and "not converted" not in result.output, result.output
    text = files[0].read_text()
    assert "choices = `[' '+answer.split(' ')[-1]]`" in text and 'delimiter = ""' in text
    assert "metrics = [target_perplexity, greedy_match]" in text  # lm-eval's defaults: perplexity, acc
    got = run(tmp_path, "gsm_last_word.eval", "gsm_last_word")
    # The request lm-eval makes: (context, continuation) = (doc_to_text, doc_to_target), no delimiter between.
    lls = [pseudo_loglik(" ".join(r["answer"].split(" ")[:-1]), " " + r["answer"].split(" ")[-1])[0]
           for r in rows("gsm8k", "test")]  # fmt: skip
    assert got["target_perplexity"] == pytest.approx(math.exp(-sum(lls) / len(lls)), rel=1e-9)
    assert got["greedy_match"] == 1.0  # the mock calls its likeliest choice greedy: here the only one
