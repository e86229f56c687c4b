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
from functools import partial
from pathlib import Path
from typing import Any

from .. import __version__
from ..plan.graph import (
    AggregateNode,
    AssertNode,
    EvalPlan,
    Graph,
    JudgeNode,
    MetricNode,
    ModelNode,
    RenderNode,
)
from ..providers.records import merge_choice_scores
from ..results import AssertOutcome, EvalModelResult, RunResult, RunStatus
from ..store import Store, StoreError
from ..store.redact import Redactor, redacting_logs
from .aggregate import evaluate_assert, sample_records, summarise
from .errors import RunFailed, RunInterrupted, RunStopped
from .judging import JudgeScores, run_judge
from .memo import Memo
from .model_calls import ModelCalls, NoProgress, Progress, provider_loader
from .requests import RowCache, eval_samples, model_requests
from .samples import Sample
from .scoring import MetricScores, Output, over_rows, score_metric
from .simulate import simulate_user

__all__ = ["NoProgress", "Progress", "RunConfig", "run_graph"]


@dataclass(frozen=True)
class RunConfig:
    """How to run: where the store is, whether to use the cache, when to give up (errors, spend, calls), the
    bootstrap's seed; which python metric modules outside the project the user allowed (`--allow-python`), and
    the redactor of all that the run writes out (by default the secrets of this process's environment)."""

    store_dir: Path | str  # a store folder or a postgresql:// URL
    use_cache: bool = True
    max_errors: int | None = None
    max_cost: float | None = None  # USD: the run stops once its fresh calls cost more
    max_calls: int | None = None  # the run stops once it made more fresh calls
    memo: bool = True  # serve unchanged metric and judge results from the store (with the response cache on)
    seed: int = 0
    n_boot: int = 1000
    options: dict[str, Any] = field(default_factory=dict)
    allow_python: frozenset[str] = frozenset()
    redactor: Redactor = field(default_factory=lambda: Redactor.from_environ(os.environ))
    executor: str = "local"  # "ray": local models sharded over Ray actors
    ray_actors: int | None = None  # actors per local model (default: one per GPU, else one per 4 CPUs)


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
        loader = provider_loader(config.executor, ray_actors=config.ray_actors)
        self.calls = ModelCalls(store, use_cache=config.use_cache, progress=progress, on_errors=self.count_errors,
                                on_call=self.check_budget, loader=loader)  # fmt: skip
        self.memo = Memo(store, enabled=config.use_cache and config.memo, seed=config.seed, n_boot=config.n_boot)
        self.errors = 0
        self.rows = RowCache(RunFailed)

    def count_errors(self, n: int) -> None:
        self.errors += n
        limit = self.config.max_errors
        if limit is not None and self.errors > limit:
            raise RunFailed(f"more than {limit} errors (--max-errors); stopped early, finished evals are stored")

    def check_budget(self, _result: Any) -> None:
        """Stop the run (interrupted) once its fresh calls cost more than --max-cost or outnumber --max-calls."""
        cap, calls = self.config.max_cost, self.config.max_calls
        if cap is not None and self.calls.spent_usd > cap:
            raise RunInterrupted(f"stopped: the calls so far cost {self.calls.spent_usd:.6g} USD, more than "
                                 f"--max-cost {cap:g}; finished evals are stored")  # fmt: skip
        if calls is not None and self.calls.model_calls > calls:
            raise RunInterrupted(f"stopped: more than {calls} model calls (--max-calls); finished evals are stored")

    def samples(self, ev: EvalPlan) -> list[Sample]:
        return eval_samples(self.graph, ev, self.rows)

    async def call_model(self, node: ModelNode, samples: list[Sample]) -> tuple[list[Output], list[bool]]:
        render = self.graph.node(node.inputs[0])
        assert isinstance(render, RenderNode)
        usable = [i for i, s in enumerate(samples) if s.error is None]
        per_sample = [model_requests(node, render, samples[i]) for i in usable]
        requests = [r for rs in per_sample for r in rs]
        failed = len(samples) - len(usable)
        task = self.calls.progress.start(f"{node.eval} · {node.model.name}", len(requests) + failed)
        if failed:
            self.calls.progress.advance(task, failed, errors=failed)
            self.count_errors(failed)
        results, hits = await self.calls.ask(node.model, node.kind, requests, task)
        self.calls.progress.finish(task)
        if node.user_model is not None and node.user_turns > 0:
            results = await simulate_user(self.calls, node, [samples[i] for i in usable], results)
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
    rendered = ex.samples(ev)
    samples = rendered
    render = ex.graph.node(ev.render)
    epochs = render.epochs if isinstance(render, RenderNode) else 1
    outputs_by_model: dict[str, list[Output]] = {}
    results, asserts = [], []
    seed, n_boot = ex.config.seed, ex.config.n_boot
    for run in ev.runs:
        call = ex.graph.node(run.call)
        assert isinstance(call, ModelNode)
        # each model holds its own conversations with a simulated user
        samples = [replace(s) for s in rendered] if call.user_model is not None else rendered
        outputs, cached = await ex.call_model(call, samples)
        outputs_by_model[run.model] = outputs
        metrics: list[MetricScores] = []
        for metric_id in run.metrics:
            mnode = ex.graph.node(metric_id)
            assert isinstance(mnode, MetricNode)
            compute = partial(score_metric, mnode, samples, outputs, seed=seed, n_boot=n_boot,
                              allow_python=ex.config.allow_python, epochs=epochs)
            metrics.append(ex.memo.metric(mnode, outputs, compute))
        judges: list[JudgeScores] = []
        for judge_id in run.judges:
            jnode = ex.graph.node(judge_id)
            assert isinstance(jnode, JudgeNode)
            if jnode.other_model is not None and jnode.other_model not in outputs_by_model:
                other_call = ex.graph.node(jnode.inputs[1])
                assert isinstance(other_call, ModelNode)
                others = [replace(s) for s in rendered] if other_call.user_model is not None else rendered
                outputs_by_model[jnode.other_model], _ = await ex.call_model(other_call, others)
            other = outputs_by_model.get(jnode.other_model) if jnode.other_model else None
            judge = partial(run_judge, ex.calls, jnode, samples, outputs, other, seed=seed, n_boot=n_boot)
            judged = await ex.memo.judge(jnode, outputs, other, judge)
            if epochs > 1:
                judged.summary = over_rows(judged.summary, judged.scores, epochs, seed=seed, n_boot=n_boot)
            judges.append(judged)
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
    for a user error: a store that cannot be opened gives a failed result without a run id. What is stored and
    what is returned are redacted by `config.redactor`."""
    with redacting_logs(config.redactor):
        result = await _run_graph(graph, config, progress)
    data = result.to_json()
    clean = config.redactor.values(data, shapes=True)
    return result if clean == data else RunResult.from_json(clean)


async def _run_graph(graph: Graph, config: RunConfig, progress: Progress | None) -> RunResult:
    try:
        store = Store(config.store_dir, redactor=config.redactor)
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
               "model_calls": ex.calls.model_calls, "errors": ex.errors, "message": message,
               "spent_usd": round(ex.calls.spent_usd, 6), "memo_hits": ex.memo.hits,
               "memo_computed": ex.memo.computed}  # fmt: skip
    result = RunResult(run_id=run_id, spec=str(graph.spec), status=status, results=tuple(results),
                       asserts=tuple(asserts), message=message, store=store.location,
                       cache_hits=ex.calls.cache_hits, model_calls=ex.calls.model_calls,
                       wall_s=wall_s)  # fmt: skip
    try:
        store.finish_run(result, summary)
    except StoreError as exc:
        result = replace(result, status="failed", message=f"the run could not be stored: {exc}")
    finally:
        store.close()
    return result
