"""`evaldsl diff`: paired deltas, McNemar / sign-flip p-values checked by hand, regressions and exit codes."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from evaldsl.report.diff import compare_records, diff_footer, diff_runs, diff_table
from evaldsl.results import EvalModelResult, MetricSummary, RunResult, SampleRecord
from evaldsl.store import RunRecord, Store


def _record(run_id: str, metrics: dict[str, MetricSummary], model: str = "m",
            hashes: dict[str, str] | None = None) -> RunRecord:
    result = EvalModelResult("qa", model, n=1, errors=0, truncated=0, metrics=metrics, hashes=hashes or {})
    return RunRecord(run_id, "completed", "t", "t", {}, (result,), (), {})


def _rows(metric: str, values: list[float | None], model: str = "m") -> list[SampleRecord]:
    return [SampleRecord("qa", model, i, row_id=f"k{i}", scores={metric: v}) for i, v in enumerate(values)]


def _agg(values: list[float | None], higher_is_better: bool = True) -> MetricSummary:
    scored = [v for v in values if v is not None]
    return MetricSummary(value=sum(scored) / len(scored), ci_low=0.0, ci_high=1.0, n=len(scored),
                         higher_is_better=higher_is_better)


def _diff(metric: str, a: list[float | None], b: list[float | None], higher: bool = True, **kw: Any) -> Any:
    rec_a, rec_b = _record("A", {metric: _agg(a, higher)}), _record("B", {metric: _agg(b, higher)})
    return compare_records(rec_a, rec_b, _rows(metric, a), _rows(metric, b), **kw).rows[0]


def test_mcnemar_matches_a_hand_computation() -> None:
    # 10 both right, 6 right only in A, 2 right only in B, 5 both wrong.
    a = [1.0] * 10 + [1.0] * 6 + [0.0] * 2 + [0.0] * 5
    b = [1.0] * 10 + [0.0] * 6 + [1.0] * 2 + [0.0] * 5
    row = _diff("exact_match", a, b)
    # Exact two-sided McNemar: 2 * P[Binomial(8, 1/2) <= 2] = 2 * (1 + 8 + 28) / 256.
    assert row.test == "mcnemar"
    assert row.p_value == pytest.approx(74 / 256)
    assert row.delta == pytest.approx((2 - 6) / 23)
    assert row.n_paired == 23
    assert not row.significant and row.direction is None


def test_mcnemar_significant_drop_is_a_regression() -> None:
    a = [1.0] * 30
    b = [1.0] * 20 + [0.0] * 10
    row = _diff("exact_match", a, b)
    assert row.p_value == pytest.approx(2 / 2**10)  # all 10 discordant pairs go one way
    assert row.significant and row.direction == "worse"
    assert row.ci_high is not None and row.ci_high < 0


def test_sign_flip_matches_a_hand_computation() -> None:
    # Differences +0.5, +0.25, -0.25, +0.5 (sum 1.0). Of the 16 sign flips, |sum| >= 1 for 6:
    # 1.5 (once), 1.0 (twice), -1.0 (twice), -1.5 (once) -> exact p = 6/16.
    a = [0.5, 0.5, 0.5, 0.5]
    b = [1.0, 0.75, 0.25, 1.0]
    row = _diff("f1", a, b)
    assert row.test == "sign-flip"
    assert row.p_value == pytest.approx(6 / 16)
    assert row.delta == pytest.approx(0.25)
    assert row.ci_low is not None and row.ci_low <= 0.25 <= row.ci_high


def test_lower_is_better_metrics_flip_the_direction() -> None:
    a = [1.0 + 0.01 * i for i in range(40)]
    b = [v + 0.5 for v in a]  # higher cross-entropy on every sample: worse
    row = _diff("cross_entropy", a, b, higher=False)
    assert not row.higher_is_better
    assert row.significant and row.direction == "worse"
    better = _diff("f1", [v / 10 for v in a], [v / 10 for v in b])
    assert better.direction == "better"


def test_direction_comes_from_the_metric_never_from_its_name() -> None:
    a = [2.0 + 0.01 * i for i in range(40)]
    b = [v - 0.5 for v in a]  # a user metric `xent` (lower is better) falls: better, whatever its name says
    assert _diff("xent", a, b, higher=False).direction == "better"
    assert _diff("perplexity", a, b, higher=True).direction == "worse"  # a metric named so, declared higher


def test_unscored_and_unpaired_samples_are_counted_not_faked() -> None:
    a = [1.0, 0.0, None, 1.0]
    b = [1.0, 1.0, 1.0, None]
    rec_a, rec_b = _record("A", {"em": _agg(a)}), _record("B", {"em": _agg(b)})
    extra = SampleRecord("qa", "m", 9, row_id="new", scores={"em": 1.0})
    rows_b = [*_rows("em", b), extra]
    row = compare_records(rec_a, rec_b, _rows("em", a), rows_b).rows[0]
    assert row.n_paired == 2 and row.unscored == 2
    assert (row.only_a, row.only_b) == (0, 1)


def test_repeated_row_identities_pair_by_occurrence() -> None:
    rows_a = [SampleRecord("qa", "m", i, row_id="same", scores={"em": float(i % 2)}) for i in range(4)]
    rows_b = [SampleRecord("qa", "m", r.index, row_id="same", scores={"em": float(r.index % 2)}) for r in rows_a]
    row = compare_records(_record("A", {"em": _agg([0, 1, 0, 1])}), _record("B", {"em": _agg([0, 1, 0, 1])}),
                          rows_a, rows_b).rows[0]
    assert row.n_paired == 4 and row.delta == 0


def test_real_regression_is_detected(same_model_runs: tuple[RunResult, RunResult], store_dir) -> None:
    a, b = same_model_runs
    with Store(store_dir) as store:
        result = diff_runs(store, a.run_id, b.run_id)
    rows = {r.metric: r for r in result.rows}
    em = rows["exact_match"]
    # 20 of 60 answers turn wrong (rows 0, 3, ... 57), row 5 errors (unscored in B), row 7 holds HTML.
    assert em.test == "mcnemar" and em.n_paired == 59 and em.unscored == 1
    assert em.p_value == pytest.approx(2 / 2**21)  # 21 discordant pairs (20 wrong + the HTML row), all A
    assert em.direction == "worse" and em.delta == pytest.approx(-21 / 59)
    assert rows["f1"].direction == "worse"
    assert rows["chrf"].kind == "corpus" and rows["chrf"].p_value is None and rows["chrf"].ci_low is None
    assert rows["chrf"].delta == pytest.approx(rows["chrf"].b - rows["chrf"].a)
    assert [r.metric for r in result.regressions] == ["exact_match", "f1"]
    footer = "\n".join(diff_footer(result))
    assert "chrf: corpus-level metric" in footer and "2 significant regression(s)" in footer
    assert diff_table(result).row_count == 3


def test_identical_runs_show_no_significant_change(same_model_runs: tuple[RunResult, RunResult],
                                                   store_dir) -> None:
    a, _ = same_model_runs
    with Store(store_dir) as store:
        result = diff_runs(store, a.run_id, a.run_id)
    assert not result.regressions
    for row in result.rows:
        assert not row.significant
        if row.kind == "paired":
            assert row.delta == 0 and row.p_value == 1.0 and row.n_paired == 60


def test_cli_fail_on_regression(app: typer.Typer, same_model_runs: tuple[RunResult, RunResult],
                                store_dir) -> None:
    a, b = same_model_runs
    runner = CliRunner()
    store = ["--store", str(store_dir)]
    worse = runner.invoke(app, ["diff", a.run_id, b.run_id, *store, "--fail-on-regression"])
    assert worse.exit_code == 1, worse.output
    assert "WORSE" in worse.output and "2 significant regression(s)" in worse.output
    assert runner.invoke(app, ["diff", a.run_id, b.run_id, *store]).exit_code == 0  # report only
    better = runner.invoke(app, ["diff", b.run_id, a.run_id, *store, "--fail-on-regression"])
    assert better.exit_code == 0 and "better" in better.output
    same = runner.invoke(app, ["diff", a.run_id, "latest~1", *store, "--fail-on-regression"])
    assert same.exit_code == 0 and "no metric got significantly worse" in same.output
    # At alpha = 1e-9 the drop (p ~ 1e-6) is not significant; alpha must lie in (0, 1).
    assert runner.invoke(app, ["diff", a.run_id, b.run_id, *store, "--alpha", "1e-9",
                               "--fail-on-regression"]).exit_code == 0
    assert runner.invoke(app, ["diff", a.run_id, b.run_id, *store, "--alpha", "0"]).exit_code == 2


def test_cli_json(app: typer.Typer, same_model_runs: tuple[RunResult, RunResult], store_dir) -> None:
    a, b = same_model_runs
    args = ["diff", "latest~1", "latest", "--store", str(store_dir), "--format", "json"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert (data["run_a"], data["run_b"], data["regressions"]) == (a.run_id, b.run_id, 2)
    chrf = next(m for m in data["metrics"] if m["metric"] == "chrf")
    assert chrf["kind"] == "corpus" and chrf["p_value"] is None
    em = next(m for m in data["metrics"] if m["metric"] == "exact_match")
    assert em["direction"] == "worse" and math.isclose(em["p_value"], 2 / 2**21)


def test_eval_model_in_one_run_only(make_run, app: typer.Typer, store_dir) -> None:
    both = make_run(judge=False)
    one = make_run(models="good", judge=False, name="one")
    with Store(store_dir) as store:
        result = diff_runs(store, both.run_id, one.run_id)
    assert result.groups_only_a == (("qa", "worse"),)
    missing = [r for r in result.rows if r.model == "worse"]
    assert missing and all(r.kind == "missing" and r.delta is None for r in missing)
    assert "qa · worse is only in run A: not compared" in diff_footer(result)


def test_two_models_in_one_run_are_compared_with_pair(make_run, store_dir) -> None:
    outcome = make_run(models="good, worse", judge=False)
    with Store(store_dir) as store:
        result = diff_runs(store, outcome.run_id, outcome.run_id, pairs={"good": "worse"})
    rows = {r.metric: r for r in result.rows}
    assert {r.model for r in result.rows} == {"good → worse"}
    assert rows["exact_match"].direction == "worse" and rows["exact_match"].n_paired == 59
    assert [r.metric for r in result.regressions] == ["exact_match", "f1"]


def test_single_model_evals_pair_across_runs_by_default(make_run, store_dir) -> None:
    a = make_run(models="good", judge=False, name="a")
    b = make_run(models="worse", judge=False, name="b")
    with Store(store_dir) as store:
        result = diff_runs(store, a.run_id, b.run_id)
    assert {r.model for r in result.rows} == {"good → worse"}
    assert not result.groups_only_a and not result.groups_only_b
    assert "exact_match" in [r.metric for r in result.regressions]
