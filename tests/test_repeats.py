"""Repeats: `epochs = k` runs each sample k times (distinct draws and seeds, cached per attempt); pass_at(k) is
the unbiased estimator of Chen et al. 2021, pass_all(k) and attempt_variance per sample; summaries count and
resample rows, not attempts; diagnostics E303 (epochs = 0), E380, W370."""

from __future__ import annotations

import itertools
import statistics
from math import comb
from pathlib import Path

import pytest

from evaldsl import api
from evaldsl.metrics.repeats import pass_all_k, pass_at_k
from evaldsl.run.runner import RunConfig
from evaldsl.store.sqlite import Store

ROOT = Path(__file__).resolve().parent.parent

APP = '''
import random

CALLS = []

def answer(messages, row, settings):
    CALLS.append(settings["seed"])
    right = random.Random(f"{row['q']}|{settings['seed']}").random() < row["p"]
    return row["a"] if right else "wrong"
'''


def project(tmp_path: Path, epochs: int, metrics: str = "[exact_match, p2, all2, var]") -> Path:
    (tmp_path / ".git").mkdir(exist_ok=True)
    (tmp_path / "rep_app.py").write_text(APP)
    rows = ", ".join(f'{{ q = "q{i}", a = "a{i}", p = {p} }}' for i, p in enumerate([0.0, 0.3, 0.6, 1.0] * 5))
    spec = tmp_path / "spec.eval"
    spec.write_text(
        f"dataset d {{ rows = [{rows}] }}\n"
        'model m { provider = "python", id = "rep_app:answer", seed = 100, temperature = 1 }\n'
        "metric p2 = pass_at(2)\nmetric all2 = pass_all(k = 2, metric = exact_match)\n"
        "metric var = attempt_variance(metric = exact_match)\n"
        f'eval e {{ dataset = d, prompt = "{{{{ q }}}}", models = [m], target = "{{{{ a }}}}", epochs = {epochs},'
        f" metrics = {metrics} }}\n"
    )
    return spec


def test_estimators_match_enumeration() -> None:
    for n, c, k in [(5, 2, 1), (5, 2, 3), (6, 0, 2), (6, 6, 4), (10, 3, 5)]:
        draws = list(itertools.combinations([1] * c + [0] * (n - c), k))
        assert pass_at_k(n, c, k) == pytest.approx(sum(any(d) for d in draws) / len(draws))
        assert pass_all_k(n, c, k) == pytest.approx(sum(all(d) for d in draws) / len(draws))
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3) and comb(10, 5) == 252


def test_epochs_run_each_sample_k_times_with_distinct_seeds_and_per_row_statistics(tmp_path: Path) -> None:
    spec = project(tmp_path, epochs=4)
    store = tmp_path / "store"
    result = api.run(api.compile(spec), RunConfig(store_dir=store))
    assert result.status == "completed", result.message
    assert result.model_calls == 80
    (res,) = result.results
    assert res.n == 80  # attempts (errors are counted per attempt) ...
    em = res.metrics["exact_match"]
    assert em.n == 20  # ... but every statistic is over the 20 rows
    with Store(store) as st:
        records = list(st.iter_samples(result.run_id))
    by_row: dict[str, list[float]] = {}
    seeds = set()
    for r in records:
        by_row.setdefault(r.row_id.partition("@")[0], []).append(r.scores["exact_match"])  # type: ignore[arg-type]
        seeds.add((r.row_id.partition("@")[0], r.output["epoch"]))
    assert len(seeds) == 80 and all(len(v) == 4 for v in by_row.values())
    means = [sum(v) / 4 for v in by_row.values()]
    assert em.value == pytest.approx(sum(means) / 20)
    expected_p2 = [pass_at_k(4, int(sum(v)), 2) for v in by_row.values()]
    assert res.metrics["p2"].value == pytest.approx(sum(expected_p2) / 20) and res.metrics["p2"].n == 20
    expected_all = [pass_all_k(4, int(sum(v)), 2) for v in by_row.values()]
    assert res.metrics["all2"].value == pytest.approx(sum(expected_all) / 20)
    expected_var = [statistics.pvariance(v) for v in by_row.values()]
    assert res.metrics["var"].value == pytest.approx(sum(expected_var) / 20)
    assert res.metrics["var"].higher_is_better is False
    # rows with p = 0 never pass, rows with p = 1 always do
    assert min(expected_p2) == 0.0 and max(expected_all) == 1.0
    # the CI resamples rows: it is as wide as a 20-row bootstrap of the row means, not an 80-attempt one
    assert em.ci_high - em.ci_low > 0.2


def test_attempts_are_cached_one_by_one(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first = api.run(api.compile(project(tmp_path, epochs=2)), RunConfig(store_dir=store))
    assert (first.model_calls, first.cache_hits) == (40, 0)
    more = api.run(api.compile(project(tmp_path, epochs=3)), RunConfig(store_dir=store))
    assert (more.model_calls, more.cache_hits) == (20, 40)  # only the third attempts are new
    single = api.run(api.compile(project(tmp_path, epochs=1, metrics="[exact_match]")), RunConfig(store_dir=store))
    assert (single.model_calls, single.cache_hits) == (0, 20)  # attempt 0 is the plain request


def test_graph_hash_unchanged_for_one_epoch(tmp_path: Path) -> None:
    spec = project(tmp_path, epochs=1, metrics="[exact_match]")
    one = api.compile(spec).graph_hash
    spec.write_text(spec.read_text().replace("epochs = 1,", ""))
    assert api.compile(spec).graph_hash == one
    spec.write_text(spec.read_text().replace('target = "{{ a }}"', 'target = "{{ a }}", epochs = 2'))
    assert api.compile(spec).graph_hash != one


def test_diagnostics(tmp_path: Path) -> None:
    def codes(epochs: int, metrics: str) -> list[tuple[str, str]]:
        return [(d.code, d.message) for d in api.check(project(tmp_path, epochs, metrics)).diagnostics]

    (zero,) = codes(0, "[exact_match]")
    assert zero[0] == "E303" and "epochs" in zero[1]
    (few,) = codes(1, "[p2]")
    assert few[0] == "E380" and "needs 2 attempts" in few[1]
    (var,) = codes(1, "[var]")
    assert var[0] == "W370"
    assert codes(2, "[p2, all2, var]") == []


def test_example_spec_runs(tmp_path: Path) -> None:
    result = api.run(api.compile(ROOT / "specs" / "repeats.eval"), RunConfig(store_dir=tmp_path / "store"))
    assert result.status == "completed", result.message
    metrics = result.results[0].metrics
    assert metrics["pass3"].value >= metrics["exact_match"].value >= metrics["all3"].value  # type: ignore[operator]
