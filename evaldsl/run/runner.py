"""Execute an execution graph: load and render samples, call models through the cache, score, judge,
aggregate, assert — and store the run (whatever its outcome) as a `RunResult`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import __version__
from ..datasets.rows import DatasetError, fewshot_rows, load_rows
from ..plan.graph import (
    AggregateNode,
    AssertNode,
    EvalPlan,
    Graph,
    JudgeNode,
    LoadNode,
    MetricNode,
    ModelNode,
    RenderNode,
)
from ..providers.records import ChoiceRequest, GenerateRequest, TextRequest, merge_choice_scores
from ..results import AssertOutcome, EvalModelResult, RunResult, RunStatus
from ..store import Store, StoreError
from .aggregate import evaluate_assert, sample_records, summarise
from .errors import RunFailed, RunStopped
from .judging import JudgeScores, run_judge
from .model_calls import ModelCalls, NoProgress, Progress
from .samples import Sample, render_samples
from .scoring import MetricScores, Output, score_metric

__all__ = ["NoProgress", "Progress", "RunConfig", "run_graph"]


@dataclass(frozen=True)
class RunConfig:
    """How to run: where the store is, whether to use the cache, when to give up, the bootstrap's seed."""

    store_dir: Path
    use_cache: bool = True
    max_errors: int | None = None
    seed: int = 0
    n_boot: int = 1000
    options: dict[str, Any] = field(default_factory=dict)


def _git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


class _Execution:
    """One run in progress: the graph, the model calls, the loaded rows and the error count."""

    def __init__(self, graph: Graph, config: RunConfig, store: Store, progress: Progress | None) -> None:
        self.graph, self.config = graph, config
        self.calls = ModelCalls(store, use_cache=config.use_cache, progress=progress, on_errors=self.count_errors)
        self.errors = 0
        self._rows: dict[str, list[dict[str, Any]]] = {}

    def count_errors(self, n: int) -> None:
        self.errors += n
        limit = self.config.max_errors
        if limit is not None and self.errors > limit:
            raise RunFailed(f"more than {limit} errors (--max-errors); stopped early, finished evals are stored")

    def rows(self, node: LoadNode, limit: int | None) -> list[dict[str, Any]]:
        key = f"{node.id}:{limit}"
        if key not in self._rows:
            try:
                self._rows[key] = load_rows(node.dataset, limit=limit)
            except DatasetError as exc:
                raise RunFailed(f"dataset {node.dataset.name}: {exc}") from None
        return self._rows[key]

    def samples(self, ev: EvalPlan) -> list[Sample]:
        render = self.graph.node(ev.render)
        load = self.graph.node(ev.load)
        assert isinstance(render, RenderNode) and isinstance(load, LoadNode)
        shots: list[dict[str, Any]] = []
        fewshot = render.prompt.fewshot if render.prompt is not None else None
        if render.fewshot_input is not None and fewshot is not None:
            shot_node = self.graph.node(render.fewshot_input)
            assert isinstance(shot_node, LoadNode)
            pool = self.rows(shot_node, fewshot.k if fewshot.first else None)
            shots = fewshot_rows(pool, fewshot.k, fewshot.seed, first=fewshot.first)
        derived = frozenset(name for name, _ in load.dataset.fields)
        return render_samples(render, self.rows(load, render.limit), shots, derived)

    def _request(self, node: ModelNode, render: RenderNode, sample: Sample) -> Any:
        if node.kind == "generate":
            params = node.model.generation
            draw = None if params.deterministic else f"row:{sample.row_id}"
            return GenerateRequest(messages=sample.messages, params=params, variables=sample.variables, draw=draw)
        if node.kind == "score_choices":
            continuations = tuple(render.delimiter + c for c in sample.choices)
            return ChoiceRequest(context=sample.context, continuations=continuations)
        return TextRequest(text=sample.text or "")

    def _requests(self, node: ModelNode, render: RenderNode, sample: Sample) -> list[Any]:
        """A sample's requests: one, or one per choice when each choice has its own context."""
        if node.kind == "score_choices" and sample.contexts:
            return [ChoiceRequest(context=c, continuations=(render.delimiter + x,))
                    for c, x in zip(sample.contexts, sample.choices, strict=True)]  # fmt: skip
        return [self._request(node, render, sample)]

    async def call_model(self, node: ModelNode, samples: list[Sample]) -> tuple[list[Output], list[bool]]:
        render = self.graph.node(node.inputs[0])
        assert isinstance(render, RenderNode)
        usable = [i for i, s in enumerate(samples) if s.error is None]
        per_sample = [self._requests(node, render, samples[i]) for i in usable]
        requests = [r for rs in per_sample for r in rs]
        failed = len(samples) - len(usable)
        task = self.calls.progress.start(f"{node.eval} · {node.model.name}", len(requests) + failed)
        if failed:
            self.calls.progress.advance(task, failed, errors=failed)
            self.count_errors(failed)
        results, hits = await self.calls.ask(node.model, node.kind, requests, task)
        self.calls.progress.finish(task)
        outputs: list[Output] = [None] * len(samples)
        cached = [False] * len(samples)
        at = 0
        for i, rs in zip(usable, per_sample, strict=True):
            part, part_hits = results[at : at + len(rs)], hits[at : at + len(rs)]
            at += len(rs)
            outputs[i], cached[i] = (part[0] if len(rs) == 1 else merge_choice_scores(part)), all(part_hits)
        return outputs, cached

    def hashes(self, ev: EvalPlan, call: ModelNode, parts: tuple[str, ...]) -> dict[str, str]:
        """Each part's own settings hash, so that a diff can say what differs between two runs."""
        nodes = self.graph.nodes
        out = {"dataset": nodes[ev.load].config_hash, "prompt": nodes[ev.render].config_hash,
               "model": call.config_hash}  # fmt: skip
        for node_id in parts:
            node = nodes[node_id]
            label = f"metric:{node.name}" if isinstance(node, MetricNode) else f"judge:{node.judge.name}"  # type: ignore[union-attr]
            out[label] = node.config_hash
        return out


async def _run_eval(
    ex: _Execution, store: Store, run_id: str, ev: EvalPlan
) -> tuple[list[EvalModelResult], list[AssertOutcome]]:
    """Every model of one eval: call, score, judge, aggregate, assert; then its samples are stored."""
    samples = ex.samples(ev)
    outputs_by_model: dict[str, list[Output]] = {}
    results, asserts = [], []
    seed, n_boot = ex.config.seed, ex.config.n_boot
    for run in ev.runs:
        call = ex.graph.node(run.call)
        assert isinstance(call, ModelNode)
        outputs, cached = await ex.call_model(call, samples)
        outputs_by_model[run.model] = outputs
        metrics: list[MetricScores] = []
        for metric_id in run.metrics:
            mnode = ex.graph.node(metric_id)
            assert isinstance(mnode, MetricNode)
            metrics.append(score_metric(mnode, samples, outputs, seed=seed, n_boot=n_boot))
        judges: list[JudgeScores] = []
        for judge_id in run.judges:
            jnode = ex.graph.node(judge_id)
            assert isinstance(jnode, JudgeNode)
            if jnode.other_model is not None and jnode.other_model not in outputs_by_model:
                other_call = ex.graph.node(jnode.inputs[1])
                assert isinstance(other_call, ModelNode)
                outputs_by_model[jnode.other_model], _ = await ex.call_model(other_call, samples)
            other = outputs_by_model.get(jnode.other_model) if jnode.other_model else None
            judges.append(await run_judge(ex.calls, jnode, samples, outputs, other, seed=seed, n_boot=n_boot))
        aggregate = ex.graph.node(run.aggregate)
        assert isinstance(aggregate, AggregateNode)
        hashes = ex.hashes(ev, call, run.metrics + run.judges)
        result = summarise(aggregate, samples, outputs, metrics, judges, hashes)
        results.append(result)
        for assert_id in run.asserts:
            anode = ex.graph.node(assert_id)
            assert isinstance(anode, AssertNode)
            asserts.append(evaluate_assert(anode, result))
        store.add_samples(run_id, sample_records(ev.name, run.model, samples, outputs, cached, metrics, judges))
    return results, asserts


def _status(results: list[EvalModelResult]) -> tuple[RunStatus, str | None]:
    failed = [r for r in results if r.status == "failed"]
    partial = [r for r in results if r.status == "partial"]

    def describe(rs: list[EvalModelResult]) -> str:
        parts = []
        for r in rs[:3]:
            top = r.error_summary[0] if r.error_summary else None
            why = f" ({top.stage}: {top.reason})" if top is not None else ""
            parts.append(f"{r.eval} · {r.model}: {r.errors} of {r.n} samples failed{why}")
        return "; ".join(parts) + (f"; and {len(rs) - 3} more" if len(rs) > 3 else "")

    if failed:
        return "failed", describe(failed) + " — more than the eval tolerates (max_error_rate)"
    if partial:
        return "partial", describe(partial) + " — within the eval's max_error_rate"
    return "completed", None


@contextlib.contextmanager
def _stop_on_signals(task: asyncio.Task[Any]) -> Iterator[list[str]]:
    """SIGINT (Ctrl-C) and SIGTERM cancel the run so that it is stored as interrupted; a second Ctrl-C falls
    back to Python's default (KeyboardInterrupt). Yields the names of the signals received."""
    loop = asyncio.get_running_loop()
    received: list[str] = []
    installed = []

    def stop(sig: signal.Signals) -> None:
        received.append(sig.name)
        loop.remove_signal_handler(sig)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop, sig)
            installed.append(sig)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no signal support
            pass
    try:
        yield received
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_graph(graph: Graph, config: RunConfig, progress: Progress | None = None) -> RunResult:
    """Run every eval of the graph and store the run — completed, partial, failed or interrupted. Never raises
    for a user error: a store that cannot be opened gives a failed result without a run id."""
    try:
        store = Store(config.store_dir)
    except StoreError as exc:
        return RunResult(run_id=None, spec=str(graph.spec), status="failed", message=str(exc))
    meta = {
        "spec_path": str(graph.spec),
        "graph_hash": graph.graph_hash,
        "git_commit": _git_commit(graph.spec.parent),
        "evaldsl_version": __version__,
        "options": config.options,
        "pid": os.getpid(),
        "evals": [ev.name for ev in graph.evals],
        "models": sorted({r.model for ev in graph.evals for r in ev.runs}),
    }
    started = time.monotonic()
    try:
        run_id = store.begin_run(meta)
    except StoreError as exc:
        store.close()
        return RunResult(run_id=None, spec=str(graph.spec), status="failed", message=str(exc))
    ex = _Execution(graph, config, store, progress)
    results: list[EvalModelResult] = []
    asserts: list[AssertOutcome] = []
    status: RunStatus = "completed"
    message: str | None = None
    task = asyncio.current_task()
    assert task is not None
    with _stop_on_signals(task) as received:
        try:
            for ev in graph.evals:
                done, checked = await _run_eval(ex, store, run_id, ev)
                results += done
                asserts += checked
            status, message = _status(results)
        except RunStopped as exc:
            status, message = exc.status, str(exc)  # type: ignore[assignment]
        except asyncio.CancelledError:
            why = f"by {received[0]}" if received else "by the user"
            status, message = "interrupted", f"interrupted {why}; finished evals are stored"
            task.uncancel()
        finally:
            await ex.calls.aclose()
    wall_s = round(time.monotonic() - started, 3)
    summary = {"wall_s": wall_s, "cache_hits": ex.calls.cache_hits,
               "model_calls": ex.calls.model_calls, "errors": ex.errors, "message": message}  # fmt: skip
    result = RunResult(run_id=run_id, spec=str(graph.spec), status=status, results=tuple(results),
                       asserts=tuple(asserts), message=message, store=str(config.store_dir),
                       cache_hits=ex.calls.cache_hits, model_calls=ex.calls.model_calls,
                       wall_s=wall_s)  # fmt: skip
    try:
        store.finish_run(result, summary)
    except StoreError as exc:
        result = replace(result, status="failed", message=f"the run could not be stored: {exc}")
    finally:
        store.close()
    return result
