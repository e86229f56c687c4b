"""Graph hashes: a spec → node hashes that are stable (process, location, layout) and change exactly
downstream of an edit (a metric's parameters, a model's parameters, a dataset file)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

from evaldsl import api
from evaldsl.plan.graph import Graph

ROOT = Path(__file__).resolve().parent.parent

SPEC = '''# Two evals over two datasets, two generating models, a judge and an assert.
dataset qa { path = "qa.jsonl" }
dataset other {
  rows = [
    { question = "Capital of France?", answer = "Paris" },
  ]
}

model m1 {
  provider    = "mock"
  response    = "{{ answer }}"
  temperature = 0
}
model m2 { provider = "mock" }
model grader {
  provider = "mock"
  response = "Score: 5"
}

metric em_raw = exact_match(normalize = false)

judge correctness {
  model     = grader
  rubric    = "Is the response consistent with the reference?"
  reference = "{{ answer }}"
}

eval main {
  dataset = qa
  prompt  = """
    Answer briefly.
    Q: {{ question }}
  """
  models  = [m1, m2]
  target  = "{{ answer }}"
  metrics = [em_raw, f1, correctness]
  assert mean(em_raw) >= 0.5
}

eval side {
  dataset = other
  prompt  = "Q: {{ question }}"
  models  = [m1]
  target  = "{{ answer }}"
  metrics = [f1]
}
'''

DATA = '{"question": "2+2?", "answer": "4"}\n{"question": "Capital of Italy?", "answer": "Rome"}\n'


def write_project(folder: Path, spec: str = SPEC, data: str = DATA) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "qa.jsonl").write_text(data, encoding="utf-8")
    path = folder / "spec.eval"
    path.write_text(spec, encoding="utf-8")
    return path


def graph_of(path: Path) -> Graph:
    result = api.check(path)
    assert result.ok, [d.message for d in result.errors]
    assert result.spec is not None
    return api.plan(result.spec)


def hashes(graph: Graph) -> dict[str, str]:
    return {node_id: node.hash for node_id, node in graph.nodes.items()}


def downstream(graph: Graph, roots: Iterable[str]) -> set[str]:
    """The roots and every node that (transitively) takes one of them as input."""
    found = set(roots)
    changed = True
    while changed:
        changed = False
        for node_id, node in graph.nodes.items():
            if node_id not in found and found & set(node.inputs):
                found.add(node_id)
                changed = True
    return found


def changed_nodes(before: Graph, after: Graph) -> set[str]:
    assert before.nodes.keys() == after.nodes.keys()
    return {i for i in before.nodes if before.nodes[i].hash != after.nodes[i].hash}


@pytest.fixture
def base(tmp_path: Path) -> Graph:
    return graph_of(write_project(tmp_path / "base"))


# ---- stability --------------------------------------------------------------------------------------------


def test_same_spec_same_hashes(base: Graph, tmp_path: Path) -> None:
    again = graph_of(write_project(tmp_path / "base"))
    assert hashes(again) == hashes(base)
    assert again.graph_hash == base.graph_hash
    assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes(base).values())
    assert len(set(hashes(base).values())) == len(base.nodes), "distinct nodes must have distinct hashes"


def test_hashes_stable_across_processes(base: Graph, tmp_path: Path) -> None:
    path = tmp_path / "base" / "spec.eval"
    code = (
        "import json, sys\nfrom evaldsl import api\nr = api.check(sys.argv[1])\ng = api.plan(r.spec)\n"
        "print(json.dumps({'spec': g.graph_hash, 'nodes': {k: n.hash for k, n in g.nodes.items()}}))"
    )
    for seed in ("1", "4242"):  # different str hashing: nothing may depend on set/dict iteration order
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env,
                             cwd=tmp_path, check=True, timeout=120).stdout
        got = json.loads(out)
        assert got["nodes"] == hashes(base)
        assert got["spec"] == base.graph_hash


def test_moving_the_project_keeps_hashes(base: Graph, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "deeper" / "project"
    shutil.copytree(tmp_path / "base", moved)
    (tmp_path / "base" / "spec.eval").unlink()
    assert hashes(graph_of(moved / "spec.eval")) == hashes(base)


def test_layout_and_comments_do_not_change_hashes(base: Graph, tmp_path: Path) -> None:
    relaid = "# a new header comment\n\n" + "\n".join(
        ("    " + line.strip() + "   # trailing comment") if line.strip() and not line.strip().startswith(
            ('"""', "Answer briefly.", "Q: {{")) and not line.rstrip().endswith('"""') else line
        for line in SPEC.splitlines()
    ) + "\n\n\n# the end\n"
    relaid = relaid.replace("models  = [m1, m2]", "models = [\n  m1,\n  m2,\n]")
    assert relaid != SPEC
    assert hashes(graph_of(write_project(tmp_path / "relaid", relaid))) == hashes(base)


# ---- edits change exactly their downstream ----------------------------------------------------------------


def test_metric_parameter_edit_changes_only_that_metric_and_downstream(base: Graph, tmp_path: Path) -> None:
    edited = SPEC.replace("exact_match(normalize = false)", "exact_match(normalize = true)")
    after = graph_of(write_project(tmp_path / "edited", edited))
    roots = {i for i, n in base.nodes.items() if n.kind == "metric" and n.name == "em_raw"}  # type: ignore[union-attr]
    assert roots == {"metric:main:m1:em_raw", "metric:main:m2:em_raw"}
    expected = downstream(base, roots)
    assert changed_nodes(base, after) == expected
    kinds = {base.nodes[i].kind for i in expected}
    assert kinds == {"metric", "aggregate", "assert"}
    assert after.graph_hash != base.graph_hash


def test_model_parameter_edit_changes_only_its_calls_and_downstream(base: Graph, tmp_path: Path) -> None:
    edited = SPEC.replace("temperature = 0\n", "temperature = 0.7\n", 1)
    after = graph_of(write_project(tmp_path / "edited", edited))
    roots = {i for i, n in base.nodes.items() if n.kind == "generate" and n.model.name == "m1"}  # type: ignore[union-attr]
    assert roots == {"generate:main:m1", "generate:side:m1"}
    expected = downstream(base, roots)
    changed = changed_nodes(base, after)
    assert changed == expected
    assert not any(base.nodes[i].kind in ("load", "render") for i in changed)
    assert not any(":m2" in i for i in changed), "the other model's nodes must not change"


def test_dataset_file_edit_changes_everything_downstream_of_its_load(base: Graph, tmp_path: Path) -> None:
    after = graph_of(write_project(tmp_path / "edited", data=DATA.replace("Rome", "Roma")))
    expected = downstream(base, {"load:qa"})
    assert changed_nodes(base, after) == expected
    assert {i.split(":")[1] for i in expected if i != "load:qa"} == {"main"}
    assert not any(i.startswith("load:other") or ":side" in i for i in expected)


def test_prompt_edit_changes_render_and_downstream_only(base: Graph, tmp_path: Path) -> None:
    edited = SPEC.replace('"Q: {{ question }}"', '"Q: {{ question }}?"')
    after = graph_of(write_project(tmp_path / "edited", edited))
    assert changed_nodes(base, after) == downstream(base, {"render:side"})


def test_judge_edit_changes_only_judge_nodes_and_downstream(base: Graph, tmp_path: Path) -> None:
    edited = SPEC.replace("Is the response consistent with the reference?", "Is it correct?")
    after = graph_of(write_project(tmp_path / "edited", edited))
    roots = {i for i, n in base.nodes.items() if n.kind == "judge"}
    assert roots == {"judge:main:m1:correctness", "judge:main:m2:correctness"}
    assert changed_nodes(base, after) == downstream(base, roots)


# ---------------------------------------------------------------- paths resolve where they are written

SHARED = '''
model local { provider = "hf", id = "./ckpt" }
metric brevity = python("mine:brevity", higher_is_better = false)
'''
ROOT_SPEC = '''
import "./shared/defs.eval"
dataset d { rows = [ { q = "a", answer = "b" } ] }
eval e { dataset = d, prompt = "{{ q }}", models = [local], target = "{{ answer }}", metrics = [brevity] }
'''


def _shared_project(tmp_path: Path) -> Path:
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "defs.eval").write_text(SHARED, encoding="utf-8")
    (tmp_path / "shared" / "mine.py").write_text("def brevity(p, refs, row):\n    return len(p)\n")
    spec = tmp_path / "spec.eval"
    spec.write_text(ROOT_SPEC, encoding="utf-8")
    return spec


def test_model_and_metric_paths_resolve_against_the_file_that_declares_them(tmp_path: Path) -> None:
    result = api.check(_shared_project(tmp_path))
    assert result.ok and result.spec is not None
    assert result.spec.models["local"].config.base_dir == tmp_path / "shared"
    graph = api.plan(result.spec)
    [metric] = [n for n in graph.nodes.values() if n.kind == "metric"]
    assert metric.base_dir == tmp_path / "shared" and metric.higher_is_better is False and metric.range is None


def test_editing_a_python_metric_module_changes_only_that_metric_and_downstream(tmp_path: Path) -> None:
    spec = _shared_project(tmp_path)
    before = api.compile(spec)
    (tmp_path / "shared" / "mine.py").write_text("def brevity(p, refs, row):\n    return -len(p)\n")
    after = api.compile(spec)
    changed = {k for k in before.nodes if before.nodes[k].hash != after.nodes[k].hash}
    assert changed == {"metric:e:local:brevity", "aggregate:e:local"}
    assert before.nodes["metric:e:local:brevity"].config_hash != after.nodes["metric:e:local:brevity"].config_hash


def test_descriptions_and_folders_are_no_part_of_a_hash(tmp_path: Path) -> None:
    spec = _shared_project(tmp_path)
    before = api.compile(spec)
    spec.write_text(ROOT_SPEC.replace("eval e {", 'eval e {\n  description = "documentation only"'))
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.copytree(tmp_path, moved)
    after = api.compile(moved / "spec.eval")
    assert {k: n.hash for k, n in before.nodes.items()} == {k: n.hash for k, n in after.nodes.items()}
