"""The standard library: TruthfulQA preparation and scoring parity, and every template running on mock models."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaldsl import api
from evaldsl.cli.app import app
from evaldsl.datasets.rows import load_rows
from evaldsl.metrics.truthfulqa import truthfulqa_references
from evaldsl.plan.graph import LoadNode, RenderNode
from evaldsl.resources import stdlib_dir
from evaldsl.run.samples import render_samples
from tests.metrics.test_metrics_truthfulqa import lm_eval_results

TQA_CSV = stdlib_dir() / "data" / "truthfulqa" / "TruthfulQA.csv"
PRIMER = (stdlib_dir() / "data" / "truthfulqa" / "qa_primer.txt").read_text(encoding="utf-8").rstrip("\n")


def _graph(tmp_path: Path, body: str):
    spec = tmp_path / "s.eval"
    spec.write_text(body)
    return api.compile(spec)


def _samples(graph, eval_name: str):
    ev = next(e for e in graph.evals if e.name == eval_name)
    load, render = graph.node(ev.load), graph.node(ev.render)
    assert isinstance(load, LoadNode) and isinstance(render, RenderNode)
    return render_samples(render, load_rows(load.dataset, limit=render.limit))


@pytest.fixture(scope="module")
def tqa_graph(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("tqa")
    return _graph(
        folder, 'import "std/truthfulqa"\nmodel m { provider = "mock" }\neval tqa = truthfulqa(models = [m])\n'
    )


def test_truthfulqa_references_match_the_reference_preparation(tqa_graph) -> None:
    rows = list(csv.DictReader(TQA_CSV.open(encoding="utf-8")))
    samples = _samples(tqa_graph, "tqa.gen")
    assert len(samples) == len(rows) == 817
    for row, sample in zip(rows, samples, strict=True):
        true_refs, false_refs = truthfulqa_references(
            row["Correct Answers"].split(";"), row["Incorrect Answers"].split(";")
        )
        assert list(sample.references) == true_refs
        assert list(sample.incorrect) == false_refs
        assert sample.error is None


def test_truthfulqa_prompts_follow_the_primer_format(tqa_graph) -> None:
    gen = _samples(tqa_graph, "tqa.gen")[0]
    assert gen.messages == ({"role": "user", "content": PRIMER + "\n\nQ: " + gen.row["Question"]},)
    mc = _samples(tqa_graph, "tqa.mc1")[0]
    assert mc.context == PRIMER + "\n\nQ: " + mc.row["Question"] + "\nA:"
    gen_node = next(n for n in tqa_graph.nodes.values() if n.id == "generate:tqa.gen:m")
    assert gen_node.model.generation.stop == ("\n\n",) and gen_node.model.generation.max_tokens == 256
    assert gen_node.model.generation.chat_template is False


def test_truthfulqa_choice_lists(tqa_graph) -> None:
    rows = list(csv.DictReader(TQA_CSV.open(encoding="utf-8")))
    mc1 = _samples(tqa_graph, "tqa.mc1")
    mc2 = _samples(tqa_graph, "tqa.mc2")
    for row, s1, s2 in zip(rows, mc1, mc2, strict=True):
        incorrect = [a.strip() for a in row["Incorrect Answers"].split(";") if a.strip()]
        correct = [a.strip() for a in row["Correct Answers"].split(";") if a.strip()]
        assert list(s1.choices) == [row["Best Answer"]] + incorrect
        assert list(s1.labels) == [1] + [0] * len(incorrect)
        assert list(s2.choices) == correct + incorrect
        assert list(s2.labels) == [1] * len(correct) + [0] * len(incorrect)


def test_truthfulqa_gen_metrics_equal_direct_computation(tmp_path: Path) -> None:
    # A model that answers with the best answer for even questions and with a wrong answer for odd ones.
    spec = tmp_path / "tqa.eval"
    spec.write_text('''
import "std/truthfulqa"
model m {
  provider = "mock"
  response = """{% if (row['Question'] | length) % 2 == 0 %}{{ row['Best Answer'] }}{% else %}
    {{- row['Incorrect Answers'].split(';')[0] }}{% endif %}"""
}
eval tqa = truthfulqa(models = [m], limit = 25)
''')
    result = CliRunner().invoke(app, ["run", str(spec), "--eval", "tqa.gen", "--format", "json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    metrics = json.loads(result.stdout)["results"][0]["metrics"]
    rows = list(csv.DictReader(TQA_CSV.open(encoding="utf-8")))[:25]
    direct: dict[str, list[float]] = {}
    for row in rows:
        q = row["Question"]
        pred = row["Best Answer"] if len(q) % 2 == 0 else row["Incorrect Answers"].split(";")[0]
        true_refs, false_refs = truthfulqa_references(
            row["Correct Answers"].split(";"), row["Incorrect Answers"].split(";")
        )
        for name, value in lm_eval_results(pred.strip(), true_refs, false_refs).items():
            direct.setdefault(name, []).append(float(value))
    for name, values in direct.items():
        assert math.isclose(metrics[name]["value"], sum(values) / len(values), rel_tol=1e-9, abs_tol=1e-9), name


@pytest.mark.parametrize(
    "body",
    [
        'import "std/general"\ndataset d { path = "qa.jsonl" }\n'
        'model m { provider = "mock", response = "{{ answer }}" }\neval g = general(models = [m], data = d)\n',
        'import "std/judge"\ndataset d { path = "qa.jsonl" }\n'
        'model m { provider = "mock", response = "{{ answer }}" }\n'
        'model j { provider = "mock", response = "{\\"reasoning\\": \\"ok\\", \\"score\\": 4}" }\n'
        "eval r = relevance(models = [m], judge = j, data = d)\n"
        "eval c = correctness(models = [m], judge = j, data = d)\n"
        "eval k = creativity(models = [m], judge = j, data = d)\n"
        'eval u = rubric(models = [m], judge = j, data = d, rubric = "Is it polite?", scale = [1, 5])\n',
        'import "std/truthfulqa"\nmodel m { provider = "mock" }\nmodel j { provider = "mock", response = "yes" }\n'
        "eval t = truthfulqa(models = [m], limit = 3)\n"
        "eval tj = truthfulqa_judged(models = [m], judge = j, limit = 3)\n",
    ],
)
def test_every_template_runs_on_mock_models(tmp_path: Path, body: str) -> None:
    (tmp_path / "qa.jsonl").write_text(
        "".join(
            json.dumps({"question": q, "answer": a}) + "\n" for q, a in [("2+2?", "4"), ("Capital of Peru?", "Lima")]
        )
    )
    spec = tmp_path / "lib.eval"
    spec.write_text(body)
    result = CliRunner().invoke(app, ["run", str(spec), "--format", "json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["results"]
    for r in data["results"]:
        assert r["errors"] == 0, r
        for name, m in r["metrics"].items():
            assert m["n"] > 0 and m.get("unscored", 0) == 0, (r["eval"], name, m)
