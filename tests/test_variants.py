"""Variants: `prompts = [...]` and `vary { ... }` expand an eval into the product with readable names, each its
own graph branch with its settings; `--eval BASE` selects them all; `diff --variants` compares them with the
first variant paired by row; diagnostics E381, E382 and typed vary values."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from evaldsl import api
from evaldsl.cli.app import app
from evaldsl.report.variants import diff_variants
from evaldsl.run.runner import RunConfig
from evaldsl.store.sqlite import Store

ROOT = Path(__file__).resolve().parent.parent

SPEC = """
dataset d {{ rows = [{rows}] }}
model m {{ provider = "mock" }}  # echoes the prompt
prompt plain = "{{{{ q }}}}"
prompt asking = "Q: {{{{ q }}}}"
eval qa {{
  dataset = d
  prompts = [plain, asking]
  models  = [m]
  target  = "{{{{ q }}}}"
  metrics = [exact_match]
  {extra}
}}
"""


def write(tmp_path: Path, extra: str = "vary { temperature = [0, 0.7], max_tokens = [64] }") -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    rows = ", ".join(f'{{ q = "item {i}", a = "item" }}' for i in range(12))
    spec = tmp_path / "spec.eval"
    spec.write_text(SPEC.format(rows=rows, extra=extra))
    return spec


def test_expansion_names_settings_and_graph(tmp_path: Path) -> None:
    checked = api.check(write(tmp_path))
    assert checked.ok, checked.diagnostics
    assert checked.spec is not None
    names = list(checked.spec.evals)
    assert names == [
        "qa[prompt=plain, temperature=0, max_tokens=64]",
        "qa[prompt=plain, temperature=0.7, max_tokens=64]",
        "qa[prompt=asking, temperature=0, max_tokens=64]",
        "qa[prompt=asking, temperature=0.7, max_tokens=64]",
    ]
    variant = checked.spec.evals[names[3]]
    assert variant.prompt is not None and variant.prompt.name == "asking"
    assert variant.overrides == {"temperature": 0.7, "max_tokens": 64} and variant.variant_of == "qa"
    graph = api.plan(checked.spec, evals=["qa"])
    assert len(graph.evals) == 4
    calls = [n for n in graph.nodes.values() if n.kind == "generate"]
    assert sorted(c.model.generation.temperature for c in calls) == [0.0, 0.0, 0.7, 0.7]  # type: ignore[union-attr]
    shown = CliRunner().invoke(app, ["graph", str(tmp_path / "spec.eval")])
    assert "eval qa[prompt=asking, temperature=0.7, max_tokens=64]" in shown.output


def test_variants_are_compared_paired_by_row(tmp_path: Path) -> None:
    spec = write(tmp_path, extra="")
    store = tmp_path / "store"
    result = api.run(api.compile(spec), RunConfig(store_dir=store))
    values = {r.eval: r.metrics["exact_match"].value for r in result.results}
    assert values == {"qa[prompt=plain]": 1.0, "qa[prompt=asking]": 0.0}
    with Store(store) as st:
        diff = diff_variants(st, result.run_id)  # type: ignore[arg-type]
    (row,) = diff.rows
    assert row.eval == "qa[prompt=plain] → [prompt=asking]" and row.n_paired == 12
    assert row.delta == -1.0 and row.test == "mcnemar" and row.direction == "worse"
    out = CliRunner().invoke(app, ["diff", result.run_id, "--variants", "--store", str(store), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["metrics"][0]["delta"] == -1.0


def test_diagnostics(tmp_path: Path) -> None:
    def codes(extra: str) -> list[tuple[str, str]]:
        return [(d.code, d.message) for d in api.check(write(tmp_path, extra)).diagnostics]

    (key,) = codes("vary { dataset = [d] }")
    assert key[0] == "E381"
    (typed,) = codes('vary { max_tokens = [64, "many"] }')
    assert typed[0] == "E303" and "max_tokens" in typed[1]
    (not_list,) = codes("vary { temperature = 0.7 }")
    assert not_list[0] == "E303"
    (both,) = codes("prompt = plain")
    assert both[0] == "E382"
    assert codes("vary { seed = [1, 2], stop = [\"END\", [\"a\", \"b\"]] }") == []


def test_example_spec_runs(tmp_path: Path) -> None:
    result = api.run(api.compile(ROOT / "specs" / "variants.eval"), RunConfig(store_dir=tmp_path / "store"))
    assert result.status == "completed", result.message
    assert len(result.results) == 4
