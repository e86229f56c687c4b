"""The variants of an eval (`prompts = [...]`, `vary { ... }`) within one stored run, compared with the first
variant per model and metric, paired by dataset row: delta, bootstrap CI, p-value (as `diff` does for runs)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..results import SampleRecord
from ..store import RunRecord, Store
from .diff import MetricDiff, RunDiff, _compare_metric, _scores_by_group


def variant_base(eval_name: str) -> str | None:
    """`qa` for `qa[prompt=b, temperature=0.7]`; None for an eval without variants."""
    base, bracket, _ = eval_name.partition("[")
    return base if bracket and eval_name.endswith("]") else None


def compare_variants(record: RunRecord, samples: Iterable[SampleRecord], *, alpha: float = 0.05, seed: int = 0,
                     n_boot: int = 1000) -> RunDiff:  # fmt: skip
    """Each variant against the first variant of its eval (the first value of every varied setting), per
    model and metric, samples paired by row identity. `run_a` and `run_b` are the same run."""
    results = {(r.eval, r.model): r for r in record.results}
    scores = _scores_by_group(samples)
    first: dict[tuple[str, str], tuple[str, str]] = {}
    rows: list[MetricDiff] = []
    for (ev, model), result in results.items():
        base = variant_base(ev)
        if base is None:
            continue
        baseline = first.setdefault((base, model), (ev, model))
        if baseline == (ev, model):
            continue
        reference = results[baseline]
        for name in result.metrics:
            diff = _compare_metric(ev, model, name, reference.metrics.get(name), result.metrics.get(name),
                                   scores.get(baseline, {}), scores.get((ev, model), {}), alpha=alpha, seed=seed,
                                   n_boot=n_boot)  # fmt: skip
            rows.append(replace(diff, eval=f"{baseline[0]} → {ev[len(base):]}"))
    return RunDiff(record.id, record.id, alpha, tuple(rows))


def diff_variants(store: Store, run: str, *, alpha: float = 0.05, seed: int = 0, n_boot: int = 1000) -> RunDiff:
    """`compare_variants` on a stored run (an exact id)."""
    return compare_variants(store.get_run(run), store.iter_samples(run), alpha=alpha, seed=seed, n_boot=n_boot)
