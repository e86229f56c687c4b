"""Tests for the metric catalogue (BUILTIN_METRICS, build_metric) and python(...) user metrics."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from evaldsl.metrics import BUILTIN_METRICS, CorpusMetric, MetricError, SampleMetric, build_metric
from evaldsl.metrics.base import MetricInput

MODES = {"generate", "choice", "perplexity"}
REQUIRED_EXAMPLE: dict[str, dict[str, object]] = {
    "regex": {"pattern": "x"},
    "json_schema": {"schema": {"type": "object"}},
    "json_field": {"path": "answer"},
    "extract": {"regex": "#### (\\d+)"},
    "pass_at": {"k": 2},
    "pass_all": {"k": 2},
    "embedding_similarity": {"api": "openai/text-embedding-3-small"},
}


def test_catalogue_is_a_constant_and_consistent() -> None:
    with pytest.raises(TypeError):
        BUILTIN_METRICS["new"] = BUILTIN_METRICS["f1"]  # type: ignore[index]
    documented = {
        "exact_match",
        "f1",
        "precision",
        "recall",
        "bleu",
        "chrf",
        "rouge1",
        "rouge2",
        "rougeL",
        "rougeLsum",
        "rouge",
        "contains",
        "regex",
        "python",
        "accuracy",
        "accuracy_norm",
        "mc1",
        "mc2",
        "perplexity",
        "cross_entropy",
        "word_perplexity",
        "byte_perplexity",
        "bits_per_byte",
    }
    assert documented <= set(BUILTIN_METRICS)
    for key, spec in BUILTIN_METRICS.items():
        assert spec.name == key and spec.doc
        assert spec.modes and spec.modes <= MODES
        assert set(spec.positional) <= set(spec.params) and spec.required <= set(spec.params)
    assert BUILTIN_METRICS["accuracy"].modes == {"choice"}
    assert BUILTIN_METRICS["perplexity"].modes == {"perplexity"}
    assert BUILTIN_METRICS["python"].positional == ("path",)


@pytest.mark.parametrize("kind", sorted(k for k in BUILTIN_METRICS if k != "python"))
def test_every_builtin_builds(kind: str) -> None:
    spec = BUILTIN_METRICS[kind]
    metric = build_metric(kind, REQUIRED_EXAMPLE.get(kind, {}), name=f"my_{kind}")
    assert metric.name == f"my_{kind}"
    assert isinstance(metric, SampleMetric if metric.kind == "sample" else CorpusMetric)
    assert metric.kind in ("sample", "corpus")
    # the spec's factory works with keyword parameters alone, naming the metric after the kind
    assert spec.factory(**REQUIRED_EXAMPLE.get(kind, {})).name == kind


def test_parameter_errors() -> None:
    with pytest.raises(MetricError, match="did you mean exact_match"):
        build_metric("exact_mach", {})
    with pytest.raises(MetricError, match=r"no parameter 'stemer' \(accepted: type, stemmer\)"):
        build_metric("rouge", {"stemer": True})
    with pytest.raises(MetricError, match="must be bool"):
        build_metric("exact_match", {"normalize": "no"})
    with pytest.raises(MetricError, match="must be int"):
        build_metric("chrf", {"word_order": True})
    with pytest.raises(MetricError, match="needs the parameter"):
        build_metric("regex", {})
    with pytest.raises(MetricError, match="no parameter"):
        build_metric("mc2", {"x": 1})


def write(folder: Path, name: str, source: str) -> None:
    (folder / name).write_text(textwrap.dedent(source), encoding="utf-8")


def test_python_metric_from_spec_folder(tmp_path: Path) -> None:
    write(tmp_path, "helpers.py", "def words(text):\n    return len(text.split())\n")
    write(
        tmp_path,
        "my_metrics.py",
        """\
        from helpers import words

        def brevity(prediction, references, row):
            if not references:
                return None
            return min(1.0, words(references[0]) / max(1, words(prediction)))

        def uses_row(prediction, references, row):
            return float(row["answer"] in prediction)

        def broken(prediction, references, row):
            raise KeyError("oops")

        def wrong_type(prediction, references, row):
            return "high"

        def nan(prediction, references, row):
            return float("nan")
        """,
    )
    metric = build_metric("python", {"path": "my_metrics:brevity"}, name="mine", base_dir=tmp_path)
    assert metric.kind == "sample" and metric.name == "mine"
    assert str(tmp_path) not in sys.path  # the folder is only on sys.path while the module loads
    assert metric.score(MetricInput(prediction="one two three four", references=("one two",))) == 0.5
    assert metric.score(MetricInput(prediction="x", references=())) is None
    row_metric = build_metric("python", {"path": "my_metrics:uses_row"}, base_dir=tmp_path)
    assert row_metric.score(MetricInput(prediction="It is Paris", row={"answer": "Paris"})) == 1.0
    with pytest.raises(MetricError, match="raised KeyError"):
        build_metric("python", {"path": "my_metrics:broken"}, base_dir=tmp_path).score(
            MetricInput(prediction="")
        )
    with pytest.raises(MetricError, match="must return a number or None"):
        build_metric("python", {"path": "my_metrics:wrong_type"}, base_dir=tmp_path).score(
            MetricInput(prediction="")
        )
    with pytest.raises(MetricError, match="NaN"):
        build_metric("python", {"path": "my_metrics:nan"}, base_dir=tmp_path).score(
            MetricInput(prediction="")
        )


def test_python_metric_errors_and_pythonpath(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MetricError, match="not found"):
        build_metric("python", {"path": "no_such_module_xyz:f"}, base_dir=tmp_path)
    write(tmp_path, "mod_a.py", "def present(p, r, row):\n    return 1\n")
    with pytest.raises(MetricError, match=r"no function 'absent' \(it defines: present\)"):
        build_metric("python", {"path": "mod_a:absent"}, base_dir=tmp_path)
    with pytest.raises(MetricError, match="module:function"):
        build_metric("python", {"path": "mod_a.present"}, base_dir=tmp_path)
    write(tmp_path, "mod_bad.py", "raise RuntimeError('cannot start')\n")
    with pytest.raises(MetricError, match="importing 'mod_bad' failed: RuntimeError: cannot start"):
        build_metric("python", {"path": "mod_bad:f"}, base_dir=tmp_path)
    elsewhere = tmp_path / "site"
    elsewhere.mkdir()
    write(elsewhere, "evaldsl_test_pp_mod.py", "def always(p, r, row):\n    return True\n")
    monkeypatch.syspath_prepend(str(elsewhere))
    # A module outside the project (here: on PYTHONPATH only) loads only when the user allowed it by name.
    with pytest.raises(MetricError, match="'evaldsl_test_pp_mod' is not a file of this project"):
        build_metric("python", {"path": "evaldsl_test_pp_mod:always"})
    assert "evaldsl_test_pp_mod" not in sys.modules
    allowed = frozenset({"evaldsl_test_pp_mod"})
    metric = build_metric("python", {"path": "evaldsl_test_pp_mod:always"}, allow_python=allowed)
    assert metric.score(MetricInput(prediction="x")) == 1.0
    monkeypatch.delitem(sys.modules, "evaldsl_test_pp_mod")
