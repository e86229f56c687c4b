"""The standard library's benchmarks (std/mmlu, std/arc, std/hellaswag, std/winogrande, std/gsm8k, std/boolq) on
tiny local copies of their Hugging Face datasets: each prompt and continuation is what lm-evaluation-harness
builds for the same row (rebuilt here independently from its task definitions), and the scores are those its
metrics give on the same log-likelihoods (the mock model's deterministic pseudo log-likelihoods)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.cli.app import app
from evaldsl.datasets.rows import fewshot_rows, load_rows
from evaldsl.plan.graph import LoadNode, RenderNode
from evaldsl.providers.mock import pseudo_loglik
from evaldsl.results import EvalModelResult
from evaldsl.run.runner import RunConfig
from evaldsl.run.samples import Sample, render_samples

pytest.importorskip("datasets", reason="the benchmarks read Hugging Face datasets")

FIXTURES = Path(__file__).parent / "fixtures" / "std"


def rows(name: str, split: str) -> list[dict[str, Any]]:
    text = (FIXTURES / name / "data" / f"{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def compile_bench(tmp_path: Path, module: str, call: str, response: str = "") -> Any:
    spec = tmp_path / "bench.eval"
    spec.write_text(
        f'import "std/{module}"\nmodel m {{\n  provider = "mock"\n  response = {json.dumps(response)}\n}}\n'
        f"eval b = {call}\n",
        encoding="utf-8",
    )
    result = api.check(spec)
    assert result.spec is not None, [d.render() for d in result.diagnostics]
    assert not [d for d in result.diagnostics if d.severity == "error"], [d.render() for d in result.diagnostics]
    return spec, api.plan(result.spec)


def samples(graph: Any) -> list[Sample]:
    (ev,) = graph.evals
    load, render = graph.node(ev.load), graph.node(ev.render)
    assert isinstance(load, LoadNode) and isinstance(render, RenderNode)
    shots: list[dict[str, Any]] = []
    if render.fewshot_input is not None and render.prompt is not None and render.prompt.fewshot is not None:
        pool = graph.node(render.fewshot_input)
        shot = render.prompt.fewshot
        shots = fewshot_rows(load_rows(pool.dataset), shot.k, shot.seed, first=shot.first)
    out = render_samples(render, load_rows(load.dataset, limit=render.limit), shots)
    assert all(s.error is None for s in out), [s.error for s in out]
    return out


def run(spec: Path, tmp_path: Path) -> EvalModelResult:
    result = api.run(api.compile(spec), RunConfig(store_dir=tmp_path / "store"))
    assert result.status == "completed", result.message
    (only,) = result.results
    return only


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


def lm_eval_acc(requests: list[tuple[list[tuple[str, str]], int, list[str]]]) -> tuple[float, float]:
    """acc and acc_norm as lm-evaluation-harness computes them: argmax of summed log-likelihoods, and of
    log-likelihood / characters of the choice text."""
    acc = norm = 0
    for pairs, gold, texts in requests:
        lls = [pseudo_loglik(ctx, cont)[0] for ctx, cont in pairs]
        acc += argmax(lls) == gold
        norm += argmax([ll / len(t) for ll, t in zip(lls, texts, strict=True)]) == gold
    return acc / len(requests), norm / len(requests)


def hf(name: str) -> str:
    return json.dumps(str(FIXTURES / name))


def test_mmlu(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "mmlu", tmp_path / "mmlu_copy")  # a folder next to the spec: relative to it
    spec, graph = compile_bench(tmp_path, "mmlu", 'mmlu(models = [m], hf = "./mmlu_copy", config = "")')
    expected = []
    for row, sample in zip(rows("mmlu", "test"), samples(graph), strict=True):
        subject = row["subject"].replace("_", " ")
        options = "".join(f"{k}. {c}\n" for k, c in zip("ABCD", row["choices"], strict=True))
        ctx = (f"The following are multiple choice questions (with answers) about {subject}.\n\n"
               f"{row['question'].strip()}\n{options}Answer:")  # fmt: skip
        assert sample.context == ctx and sample.choices == ("A", "B", "C", "D")
        expected.append(([(ctx, " " + k) for k in "ABCD"], row["answer"], list("ABCD")))
    acc, _ = lm_eval_acc(expected)
    assert run(spec, tmp_path).metrics["accuracy"].value == pytest.approx(acc)


def test_arc(tmp_path: Path) -> None:
    spec, graph = compile_bench(tmp_path, "arc", f"arc(models = [m], hf = {hf('arc')}, subset = \"\")")
    expected = []
    for row, sample in zip(rows("arc", "test"), samples(graph), strict=True):
        ctx = f"Question: {row['question']}\nAnswer:"
        texts = row["choices"]["text"]
        assert sample.context == ctx and list(sample.choices) == texts
        expected.append(([(ctx, " " + t) for t in texts], row["choices"]["label"].index(row["answerKey"]), texts))
    acc, norm = lm_eval_acc(expected)
    result = run(spec, tmp_path)
    assert result.metrics["accuracy"].value == pytest.approx(acc)
    assert result.metrics["accuracy_norm"].value == pytest.approx(norm)


def _hellaswag_clean(text: str) -> str:
    text = text.strip().replace(" [title]", ". ")
    return re.sub("\\[.*?\\]", "", text).replace("  ", " ")


def test_hellaswag(tmp_path: Path) -> None:
    spec, graph = compile_bench(tmp_path, "hellaswag", f"hellaswag(models = [m], hf = {hf('hellaswag')})")
    expected = []
    for row, sample in zip(rows("hellaswag", "validation"), samples(graph), strict=True):
        ctx = _hellaswag_clean(row["activity_label"] + ": " + row["ctx_a"] + " " + row["ctx_b"].capitalize())
        endings = [_hellaswag_clean(e) for e in row["endings"]]
        assert sample.context == ctx and list(sample.choices) == endings
        expected.append(([(ctx, " " + e) for e in endings], int(row["label"]), endings))
    acc, norm = lm_eval_acc(expected)
    result = run(spec, tmp_path)
    assert result.metrics["accuracy"].value == pytest.approx(acc)
    assert result.metrics["accuracy_norm"].value == pytest.approx(norm)


def test_winogrande_scores_the_rest_of_the_sentence_after_each_option(tmp_path: Path) -> None:
    call = f'winogrande(models = [m], hf = {hf("winogrande")}, config = "")'
    spec, graph = compile_bench(tmp_path, "winogrande", call)
    expected = []
    for row, sample in zip(rows("winogrande", "validation"), samples(graph), strict=True):
        cut = row["sentence"].index("_")
        contexts = [row["sentence"][:cut] + row["option1"], row["sentence"][:cut] + row["option2"]]
        rest = row["sentence"][cut + 1 :].strip()
        assert list(sample.contexts) == contexts and set(sample.choices) == {rest}
        expected.append(([(c, " " + rest) for c in contexts], int(row["answer"]) - 1, [rest, rest]))
    acc, _ = lm_eval_acc(expected)
    assert 0 < acc < 1  # the fixture tells the options apart under the mock model
    assert run(spec, tmp_path).metrics["accuracy"].value == pytest.approx(acc)


def test_gsm8k_few_shot_prompt_and_answer_extraction(tmp_path: Path) -> None:
    response = ("{% if 'pages' in question %}So 20.\n#### 20{% elif 'cows' in question %}It is 8"
                "{% else %}The toys cost $12 in total{% endif %}")  # fmt: skip
    call = f'gsm8k(models = [m], hf = {hf("gsm8k")}, config = "")'
    spec, graph = compile_bench(tmp_path, "gsm8k", call, response)
    shots = "\n\n".join(f"Question: {r['question']}\nAnswer: {r['answer']}" for r in rows("gsm8k", "train"))
    for row, sample in zip(rows("gsm8k", "test"), samples(graph), strict=True):
        assert sample.messages == ({"role": "user", "content": f"{shots}\n\nQuestion: {row['question']}\nAnswer:"},)
    node = next(n for n in graph.nodes.values() if n.id.startswith("generate:"))
    assert node.model.generation.stop == ("Question:", "\n\n") and node.model.generation.chat_template is False
    result = run(spec, tmp_path)
    # strict: "#### 20" only in the first output; flexible: the last number, "20", "8" (wrong), "$12" → "12"
    assert result.metrics["b.strict"].value == pytest.approx(1 / 3)  # a template's metrics: instance.name
    assert result.metrics["b.flexible"].value == pytest.approx(2 / 3)


def test_boolq(tmp_path: Path) -> None:
    spec, graph = compile_bench(tmp_path, "boolq", f"boolq(models = [m], hf = {hf('boolq')})")
    expected = []
    for row, sample in zip(rows("boolq", "validation"), samples(graph), strict=True):
        ctx = f"{row['passage']}\nQuestion: {row['question']}?\nAnswer:"
        assert sample.context == ctx
        expected.append(([(ctx, " no"), (ctx, " yes")], int(row["answer"]), ["no", "yes"]))
    acc, _ = lm_eval_acc(expected)
    assert run(spec, tmp_path).metrics["accuracy"].value == pytest.approx(acc)


def test_unpinned_hub_defaults_warn_and_limits_apply(tmp_path: Path) -> None:
    spec, graph = compile_bench(tmp_path, "boolq", f"boolq(models = [m], hf = {hf('boolq')}, limit = 2)")
    assert len(samples(graph)) == 2
    spec.write_text(spec.read_text().replace(f"hf = {hf('boolq')}, ", ""), encoding="utf-8")
    codes = {d.code for d in api.check(spec).diagnostics}
    assert "W340" in codes  # google/boolq without a pinned revision


def test_stdlib_command_lists_the_benchmarks_with_citations() -> None:
    out = CliRunner().invoke(app, ["stdlib"]).output
    for module, cite in (("mmlu", "2009.03300"), ("arc", "1803.05457"), ("hellaswag", "1905.07830"),
                         ("winogrande", "1907.10641"), ("gsm8k", "2110.14168"), ("boolq", "1905.10044")):  # fmt: skip
        assert f'import "std/{module}"' in out and f"arXiv:{cite}" in out
