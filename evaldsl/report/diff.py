"""Two stored runs in; out: per eval × model × metric deltas paired by dataset row (so prompt, model,
parameter and judge A/B tests pair every row) with bootstrap CIs and p-values, what differs between the runs
(from the graph's node hashes), and whether any metric got significantly worse (in its own direction)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from rich.markup import escape
from rich.table import Table

from ..results import EvalModelResult, MetricSummary, SampleRecord
from ..stats.bootstrap import mcnemar_p, paired_delta
from ..store import RunRecord, Store
from .runs_view import fmt_value

PairKey = tuple[str, int]  # (row identity, occurrence): a row repeated within one run stays several samples
Group = tuple[str, str]  # (eval, model)
_PARTS = {"dataset": "dataset rows", "prompt": "prompt", "model": "model settings"}


@dataclass(frozen=True)
class MetricDiff:
    """One eval × model × metric of a diff. `delta` is the mean of the paired differences (B - A) over the
    samples scored in both runs (`n_paired`), with a percentile-bootstrap CI; `a`/`b` are the stored
    aggregates of each run. `kind`: "paired" (per-sample scores), "corpus" (aggregate only, no test) or
    "missing" (the metric or eval × model is in one run only)."""

    eval: str
    model: str
    metric: str
    kind: str
    a: float | None
    b: float | None
    only_a: int  # samples of this eval × model in A only / in B only
    only_b: int
    higher_is_better: bool
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    test: str | None = None  # "mcnemar" (0/1 scores), "sign-flip" (paired permutation) or None
    n_paired: int = 0
    unscored: int = 0  # samples in both runs that were left out because one side had no score
    significant: bool = False
    direction: str | None = None  # "better" | "worse" | None (no significant change, or untestable)
    note: str | None = None


@dataclass(frozen=True)
class RunDiff:
    run_a: str
    run_b: str
    alpha: float
    rows: tuple[MetricDiff, ...]
    groups_only_a: tuple[Group, ...] = ()  # eval × model results present in one run only
    groups_only_b: tuple[Group, ...] = ()
    changes: tuple[tuple[Group, tuple[str, ...]], ...] = ()  # per compared group: what differs between the runs

    @property
    def regressions(self) -> list[MetricDiff]:
        """Metrics that got significantly worse from A to B."""
        return [r for r in self.rows if r.direction == "worse"]

    def to_json(self) -> dict[str, Any]:
        return {"run_a": self.run_a, "run_b": self.run_b, "alpha": self.alpha,
                "regressions": len(self.regressions), "metrics": [_finite(asdict(r)) for r in self.rows],
                "only_in_a": [list(g) for g in self.groups_only_a],
                "only_in_b": [list(g) for g in self.groups_only_b],
                "changes": [{"eval": g[0], "model": g[1], "differs": list(d)} for g, d in self.changes]}


def _finite(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in obj.items()}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def pair_keys(samples: Iterable[SampleRecord]) -> Iterator[tuple[Group, PairKey, SampleRecord]]:
    """((eval, model), (row identity, occurrence), record) for every sample record."""
    seen: dict[tuple[str, str, str], int] = {}
    for record in samples:
        group = (record.eval, record.model)
        occurrence = seen.get((*group, record.row_id), 0)
        seen[(*group, record.row_id)] = occurrence + 1
        yield group, (record.row_id, occurrence), record


def _scores_by_group(samples: Iterable[SampleRecord]) -> dict[Group, dict[PairKey, Mapping[str, Any]]]:
    groups: dict[Group, dict[PairKey, Mapping[str, Any]]] = {}
    for group, key, record in pair_keys(samples):
        groups.setdefault(group, {})[key] = record.scores
    return groups


def what_differs(a: EvalModelResult, b: EvalModelResult) -> tuple[str, ...]:
    """The parts whose own settings hash differs between two results: dataset rows, prompt, model settings,
    each metric and judge configuration (empty when either run predates hashes or nothing differs)."""
    if not a.hashes or not b.hashes:
        return ()
    parts = []
    for key in dict.fromkeys([*a.hashes, *b.hashes]):
        if a.hashes.get(key) == b.hashes.get(key):
            continue
        kind, _, name = key.partition(":")
        if key not in a.hashes or key not in b.hashes:
            parts.append(f"{kind} {name} {'added' if key not in a.hashes else 'removed'}")
        else:
            parts.append(_PARTS.get(kind, f"{kind} {name}"))
    return tuple(parts)


def _is_binary(values: np.ndarray) -> bool:
    return bool(np.isin(values, (0.0, 1.0)).all())


def _compare_metric(eval_: str, model: str, metric: str, agg_a: MetricSummary | None,
                    agg_b: MetricSummary | None, scores_a: dict[PairKey, Mapping[str, Any]],
                    scores_b: dict[PairKey, Mapping[str, Any]], *, alpha: float, seed: int,
                    n_boot: int) -> MetricDiff:
    known = agg_b if agg_b is not None else agg_a
    higher = known.higher_is_better if known is not None else True
    a_val = _number(agg_a.value if agg_a is not None else None)
    b_val = _number(agg_b.value if agg_b is not None else None)
    only_a = len(scores_a.keys() - scores_b.keys())
    only_b = len(scores_b.keys() - scores_a.keys())
    base = MetricDiff(eval=eval_, model=model, metric=metric, kind="paired", a=a_val, b=b_val, only_a=only_a,
                      only_b=only_b, higher_is_better=higher)
    if agg_a is None or agg_b is None:
        return replace(base, kind="missing", note=f"metric only in run {'B' if agg_a is None else 'A'}")
    per_sample = any(_number(s.get(metric)) is not None for s in (*scores_a.values(), *scores_b.values()))
    if not per_sample and (agg_a.n > 0 or agg_b.n > 0):
        # Aggregated from samples, yet no sample carries a score: a corpus metric (bleu, chrf, perplexity).
        return replace(base, kind="corpus", delta=None if a_val is None or b_val is None else b_val - a_val,
                       note="corpus-level metric: no per-sample scores are stored, so only the aggregates "
                            "are compared (no paired CI, no p-value)")
    left, right, unscored = [], [], 0
    for key in scores_a.keys() & scores_b.keys():
        x, y = _number(scores_a[key].get(metric)), _number(scores_b[key].get(metric))
        if x is None or y is None:
            unscored += 1
        else:
            left.append(x)
            right.append(y)
    if not left:
        return replace(base, unscored=unscored, note="no sample is scored in both runs")
    a_arr, b_arr = np.asarray(left), np.asarray(right)
    estimate, p_flip = paired_delta(a_arr, b_arr, seed=seed, n_boot=n_boot)
    if _is_binary(a_arr) and _is_binary(b_arr):
        test, p_value = "mcnemar", mcnemar_p(a_arr, b_arr)
    else:
        test, p_value = "sign-flip", p_flip
    significant = p_value < alpha and estimate.value != 0
    direction = None
    if significant:
        direction = "better" if (estimate.value > 0) == higher else "worse"
    return replace(base, delta=estimate.value, ci_low=estimate.ci_low, ci_high=estimate.ci_high,
                   p_value=p_value, test=test, n_paired=len(left), unscored=unscored, significant=significant,
                   direction=direction)


def _results_by_group(record: RunRecord) -> dict[Group, EvalModelResult]:
    return {(r.eval, r.model): r for r in record.results}


def diff_runs(store: Store, run_a: str, run_b: str, *, alpha: float = 0.05, seed: int = 0,
              n_boot: int = 1000, pairs: Mapping[str, str] | None = None) -> RunDiff:
    """Compare stored runs `run_a` and `run_b` (exact ids), pairing samples by (eval, model, row identity).

    `pairs` maps a model of run A to the model of run B it is compared with (e.g. baseline → candidate); when it
    is empty, an eval that has exactly one model in each run pairs those two whatever their names."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha}")
    record_a, record_b = store.get_run(run_a), store.get_run(run_b)
    return compare_records(record_a, record_b, store.iter_samples(run_a), store.iter_samples(run_b),
                           alpha=alpha, seed=seed, n_boot=n_boot, pairs=pairs)


def model_pairs(results_a: Iterable[tuple[str, str]], results_b: Iterable[tuple[str, str]],
                pairs: Mapping[str, str] | None) -> dict[tuple[str, str], tuple[str, str]]:
    """(eval, model in B) → (eval, model in A) for the groups to compare under another model's name."""
    groups_a, groups_b = list(results_a), list(results_b)
    if pairs:
        return {(ev, b): (ev, a) for a, b in pairs.items() for ev, model in groups_b if model == b
                if (ev, a) in groups_a}
    mapping = {}
    for ev in {e for e, _ in groups_a}:
        models_a = [m for e, m in groups_a if e == ev]
        models_b = [m for e, m in groups_b if e == ev]
        if len(models_a) == 1 and len(models_b) == 1 and models_a != models_b:
            mapping[(ev, models_b[0])] = (ev, models_a[0])
    return mapping


def compare_records(record_a: RunRecord, record_b: RunRecord, samples_a: Iterable[SampleRecord],
                    samples_b: Iterable[SampleRecord], *, alpha: float = 0.05, seed: int = 0,
                    n_boot: int = 1000, pairs: Mapping[str, str] | None = None) -> RunDiff:
    """`diff_runs` on already loaded runs and their sample rows."""
    results_a, results_b = _results_by_group(record_a), _results_by_group(record_b)
    scores_a, scores_b = _scores_by_group(samples_a), _scores_by_group(samples_b)
    renamed = model_pairs(results_a, results_b, pairs)
    if pairs:  # only the named pairs are compared
        results_a = {g: r for g, r in results_a.items() if g in renamed.values()}
        results_b = {g: r for g, r in results_b.items() if g in renamed}
    results_b = {renamed.get(g, g): r for g, r in results_b.items()}
    scores_b = {renamed.get(g, g): v for g, v in scores_b.items() if not pairs or g in renamed}
    labels = {a: f"{a[1]} → {b[1]}" for b, a in renamed.items()}
    groups = list(results_a) + [g for g in results_b if g not in results_a]
    rows: list[MetricDiff] = []
    changes: list[tuple[Group, tuple[str, ...]]] = []
    for group in groups:
        res_a, res_b = results_a.get(group), results_b.get(group)
        metrics_a = res_a.metrics if res_a is not None else {}
        metrics_b = res_b.metrics if res_b is not None else {}
        if res_a is not None and res_b is not None and (differs := what_differs(res_a, res_b)):
            changes.append((group, differs))
        names = list(metrics_a) + [m for m in metrics_b if m not in metrics_a]
        for name in names:
            diff = _compare_metric(*group, name, metrics_a.get(name), metrics_b.get(name),
                                   scores_a.get(group, {}), scores_b.get(group, {}), alpha=alpha, seed=seed,
                                   n_boot=n_boot)
            if res_a is None or res_b is None:
                where = "A" if res_b is None else "B"
                diff = replace(diff, note=f"{group[0]} · {group[1]} is only in run {where}")
            if group in labels:
                diff = replace(diff, model=labels[group])
            rows.append(diff)
    return RunDiff(record_a.id, record_b.id, alpha, tuple(rows),
                   groups_only_a=tuple(g for g in results_a if g not in results_b),
                   groups_only_b=tuple(g for g in results_b if g not in results_a), changes=tuple(changes))


def _fmt_p(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _fmt_delta(value: float | None) -> str:
    if value is None:
        return "—"
    text = fmt_value(value)
    return text if text.startswith("-") or text == "—" else f"+{text}"


def diff_table(diff: RunDiff) -> Table:
    """eval, model, metric, A, B, Δ (B − A), its 95% CI, p, n paired, samples only in A / only in B, and a
    marker for significant changes."""
    table = Table(title=f"{diff.run_a} (A) → {diff.run_b} (B), α = {diff.alpha:g}", header_style="bold")
    for col, justify in (("eval", "left"), ("model", "left"), ("metric", "left"), ("A", "right"),
                         ("B", "right"), ("Δ B−A", "right"), ("95% CI of Δ", "right"), ("p", "right"),
                         ("n", "right"), ("only A/B", "right"), ("change", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    last: tuple[str, str] | None = None
    for r in diff.rows:
        first = last != (r.eval, r.model)
        last = (r.eval, r.model)
        if r.direction == "worse":
            marker = "[bold red]▼ WORSE[/bold red]"
        elif r.direction == "better":
            marker = "[bold green]▲ better[/bold green]"
        elif r.kind == "paired" and r.p_value is not None:
            marker = "[dim]n.s.[/dim]"
        elif r.kind == "corpus":
            marker = "[dim]aggregate only[/dim]"
        else:
            marker = f"[dim]{escape(r.note or '—')}[/dim]"
        ci = "—" if r.ci_low is None else f"[{_fmt_delta(r.ci_low)}, {_fmt_delta(r.ci_high)}]"
        metric = r.metric + ("" if r.higher_is_better else " (↓)")
        table.add_row(escape(r.eval) if first else "", escape(r.model) if first else "", escape(metric),
                      fmt_value(r.a), fmt_value(r.b), _fmt_delta(r.delta), ci, _fmt_p(r.p_value),
                      str(r.n_paired) if r.kind == "paired" else "—",
                      f"{r.only_a}/{r.only_b}" if first else "", marker)
    return table


def diff_footer(diff: RunDiff) -> list[str]:
    """Plain lines under the table: how p was computed, unpaired/unscored samples, corpus metrics, verdict."""
    lines = [f"{ev} · {model}: {', '.join(parts)} differ" for (ev, model), parts in diff.changes]
    tests = {r.test for r in diff.rows if r.test}
    if tests:
        lines.append("p: exact McNemar test for 0/1 metrics, paired sign-flip permutation test otherwise; "
                     "CI: paired bootstrap; n: samples scored in both runs; (↓) lower is better")
    lines.extend(dict.fromkeys(_notes(diff)))
    worse = diff.regressions
    if worse:
        names = ", ".join(f"{r.eval}·{r.model}·{r.metric}" for r in worse)
        lines.append(f"{len(worse)} significant regression(s) at α = {diff.alpha:g}: {names}")
    else:
        lines.append(f"no metric got significantly worse at α = {diff.alpha:g}")
    return lines


def _notes(diff: RunDiff) -> Iterator[str]:
    rows = diff.rows
    whole_group = {*diff.groups_only_a, *diff.groups_only_b}
    for ev, model in diff.groups_only_a:
        yield f"{ev} · {model} is only in run A: not compared"
    for ev, model in diff.groups_only_b:
        yield f"{ev} · {model} is only in run B: not compared"
    for r in rows:
        if (r.eval, r.model) not in whole_group and (r.only_a or r.only_b):
            yield (f"{r.eval} · {r.model}: {r.only_a} row(s) only in A and {r.only_b} only in B are not "
                   "compared (rows added or removed, or another --limit)")
    corpus = sorted({r.metric for r in rows if r.kind == "corpus"})
    if corpus:
        yield (f"{', '.join(corpus)}: corpus-level metric(s) with no per-sample scores stored; only the "
               "aggregates are compared, with no CI and no p-value")
    for r in rows:
        if (r.eval, r.model) in whole_group:
            continue
        if r.kind == "missing" or (r.kind == "paired" and r.p_value is None and r.note):
            yield f"{r.eval} · {r.model} · {r.metric}: {r.note}"
        elif r.kind == "paired" and r.unscored:
            yield (f"{r.eval} · {r.model} · {r.metric}: {r.unscored} paired sample(s) left out, unscored in "
                   "one of the runs")


def underpowered(diff: RunDiff, results_b: Iterable[EvalModelResult], min_effect: float) -> Iterator[str]:
    """A line per compared metric whose paired samples cannot detect a change of `min_effect` (worst-case MDE at
    the diff's α, power 0.8), for metrics with a bounded range."""
    from ..stats.power import minimum_detectable_effect

    ranges = {(r.eval, r.model, name): m.range for r in results_b for name, m in r.metrics.items()}
    for r in diff.rows:
        span = ranges.get((r.eval, r.model.split(" → ")[-1], r.metric))
        if r.kind != "paired" or span is None or span[0] is None or span[1] is None:
            continue
        mde = minimum_detectable_effect(r.n_paired, span[0], span[1], alpha=diff.alpha)
        if mde > min_effect:
            yield (f"{r.eval} · {r.model} · {r.metric}: {r.n_paired} paired samples detect only changes of at least "
                   f"{mde:.3g} (worst case, α = {diff.alpha:g}, power 0.8), not {min_effect:g}: smaller "
                   "regressions pass --fail-on-regression unnoticed")
