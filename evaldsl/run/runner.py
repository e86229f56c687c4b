"""Execute an execution graph: load, render, call models through the cache, score, judge, aggregate, assert."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import time
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .. import __version__
from ..compile.model_config import ModelConfig
from ..datasets.rows import DatasetError, fewshot_rows, load_rows
from ..hashing import content_hash
from ..metrics.base import MetricError
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
from ..providers import Provider, ProviderError, load_provider
from ..providers.records import ChoiceRequest, ChoiceScores, GenerateRequest, Generation, TextRequest, TextScore
from ..store.sqlite import Store
from .judging import JudgeResult, run_judge
from .samples import Sample, render_samples
from .scoring import MetricResult, Output, compare, jsonable, output_error, score_metric


class Progress(Protocol):
    """Progress display: one task per eval × model (and per judge)."""

    def start(self, label: str, total: int) -> Any: ...
    def advance(self, task: Any, n: int = 1, errors: int = 0) -> None: ...
    def finish(self, task: Any) -> None: ...


class NoProgress:
    def start(self, label: str, total: int) -> Any:
        return None

    def advance(self, task: Any, n: int = 1, errors: int = 0) -> None:
        pass

    def finish(self, task: Any) -> None:
        pass


@dataclass(frozen=True)
class RunConfig:
    """How to run: where the store is, whether to use the cache, when to give up."""

    store_dir: Path
    use_cache: bool = True
    max_errors: int | None = None
    seed: int = 0
    n_boot: int = 1000
    options: dict[str, Any] = field(default_factory=dict)


class RunAborted(Exception):
    """Too many errors (`--max-errors`): stop cleanly, keep what finished."""


class RunFailed(Exception):
    """The run cannot go on (a model cannot be loaded, a dataset cannot be read)."""


@dataclass
class RunOutcome:
    run_id: str
    spec: str
    status: str  # completed | aborted | failed
    results: list[dict[str, Any]]
    asserts: list[dict[str, Any]]
    message: str | None = None
    cache_hits: int = 0
    model_calls: int = 0

    @property
    def exit_code(self) -> int:
        if self.status != "completed":
            return 3
        if any(r["n"] > 0 and r["errors"] >= r["n"] for r in self.results):
            return 3  # a model produced nothing at all (unreachable, misconfigured)
        return 1 if any(not a["passed"] for a in self.asserts) else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "spec": self.spec,
            "status": self.status,
            "results": self.results,
            "asserts": self.asserts,
            **({"message": self.message} if self.message else {}),
        }


def _git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


_RESULT_TYPES: dict[str, type] = {"generate": Generation, "score_choices": ChoiceScores, "score_text": TextScore}


class _Execution:
    """State of one run: the store, loaded providers, counters."""

    def __init__(self, graph: Graph, config: RunConfig, store: Store, progress: Progress, run_id: str):
        self.graph, self.config, self.store, self.progress, self.run_id = graph, config, store, progress, run_id
        self.providers: dict[str, Provider] = {}
        self.errors = 0
        self.cache_hits = 0
        self.model_calls = 0
        self.rows_cache: dict[str, list[dict[str, Any]]] = {}

    # ---- providers ----
    def provider(self, model: ModelConfig) -> Provider:
        key = content_hash(model.loading_key())
        if key not in self.providers:
            try:
                self.providers[key] = load_provider(model, base_dir=self.graph.spec.parent)
            except ProviderError as exc:
                raise RunFailed(str(exc)) from None
        return self.providers[key]

    async def close(self) -> None:
        for provider in self.providers.values():
            try:
                await provider.aclose()
            except Exception:  # noqa: BLE001 - closing must not hide the run's own outcome
                pass

    def count_errors(self, n: int) -> None:
        self.errors += n
        if self.config.max_errors is not None and self.errors > self.config.max_errors:
            raise RunAborted(
                f"more than {self.config.max_errors} errors (--max-errors); stopped early, finished samples are stored"
            )

    # ---- data ----
    def rows(self, node: LoadNode, limit: int | None) -> list[dict[str, Any]]:
        key = f"{node.id}:{limit}"
        if key not in self.rows_cache:
            try:
                self.rows_cache[key] = load_rows(node.dataset, limit=limit)
            except DatasetError as exc:
                raise RunFailed(f"dataset {node.dataset.name}: {exc}") from None
        return self.rows_cache[key]

    def samples(self, ev: EvalPlan) -> list[Sample]:
        render = self.graph.node(ev.render)
        assert isinstance(render, RenderNode)
        load = self.graph.node(ev.load)
        assert isinstance(load, LoadNode)
        shots: list[dict[str, Any]] = []
        if render.fewshot_input is not None and render.prompt is not None and render.prompt.fewshot is not None:
            shot_node = self.graph.node(render.fewshot_input)
            assert isinstance(shot_node, LoadNode)
            fs = render.prompt.fewshot
            shots = fewshot_rows(self.rows(shot_node, None), fs.k, fs.seed)
        return render_samples(render, self.rows(load, render.limit), shots)

    # ---- model calls through the cache ----
    def _request(self, node: ModelNode, sample: Sample) -> Any:
        if node.kind == "generate":
            return GenerateRequest(
                messages=sample.messages, params=node.model.generation_params(), variables=sample.variables
            )
        if node.kind == "score_choices":
            delimiter = self._delimiter(node)
            return ChoiceRequest(context=sample.context, continuations=tuple(delimiter + c for c in sample.choices))
        return TextRequest(text=sample.text or "")

    def _delimiter(self, node: ModelNode) -> str:
        render = self.graph.node(node.inputs[0])
        assert isinstance(render, RenderNode)
        return render.delimiter

    def _key(self, identity: dict[str, Any], node: ModelNode, request: Any, sample: Sample) -> str:
        body = dataclasses.asdict(request)
        body.pop("variables", None)
        if node.model.provider == "mock":
            body["variables"] = sample.variables  # the mock's reply depends on them
        salt = (
            sample.index
            if (node.kind == "generate" and node.model.temperature > 0 and node.model.seed is None)
            else None
        )
        return content_hash({"model": identity, "op": node.kind, "request": body, "sample": salt})

    async def _through_cache(
        self,
        call: Any,
        kind: str,
        result_type: type,
        requests: Sequence[Any],
        keys: Sequence[str],
        task: Any,
        *,
        counted: bool,
    ) -> tuple[list[Any], list[bool]]:
        """Answer each request from the cache or the provider (writing every fresh success to the cache as it
        arrives); `counted` failures count towards --max-errors. Returns the results and which were cached."""
        outputs: list[Any] = [None] * len(requests)
        cached = [False] * len(requests)
        todo = list(range(len(requests)))
        if self.config.use_cache and todo:
            hits = self.store.cache_get_many(list(keys))
            for k in todo:
                if keys[k] in hits:
                    outputs[k] = _revive(result_type, hits[keys[k]])
                    cached[k] = True
            self.cache_hits += sum(cached)
            if any(cached):
                self.progress.advance(task, sum(cached))
            todo = [k for k in todo if not cached[k]]
        if todo:
            try:
                async with aclosing(call([requests[k] for k in todo])) as stream:
                    async for j, result in stream:
                        k = todo[j]
                        outputs[k] = result
                        self.model_calls += 1
                        failed = result.error is not None
                        if not failed:
                            self.store.cache_put(keys[k], kind, dataclasses.asdict(result))
                        self.progress.advance(task, errors=int(failed))
                        if failed and counted:
                            self.count_errors(1)
            except ProviderError as exc:
                raise RunFailed(str(exc)) from None
        return outputs, cached

    async def call_model(self, node: ModelNode, samples: Sequence[Sample]) -> tuple[list[Output], list[bool]]:
        provider = self.provider(node.model)
        identity = provider.identity()
        usable = [i for i, sample in enumerate(samples) if sample.error is None]
        requests = [self._request(node, samples[i]) for i in usable]
        keys = [self._key(identity, node, request, samples[i]) for i, request in zip(usable, requests, strict=True)]
        task = self.progress.start(f"{node.eval} · {node.model.name}", len(samples))
        render_errors = len(samples) - len(usable)
        if render_errors:
            self.progress.advance(task, render_errors, errors=render_errors)
            self.count_errors(render_errors)
        call = {
            "generate": provider.generate,
            "score_choices": provider.score_choices,
            "score_text": provider.score_text,
        }[node.kind]
        results, hits = await self._through_cache(
            call, node.kind, _RESULT_TYPES[node.kind], requests, keys, task, counted=True
        )
        self.progress.finish(task)
        outputs: list[Output] = [None] * len(samples)
        cached = [False] * len(samples)
        for i, result, hit in zip(usable, results, hits, strict=True):
            outputs[i], cached[i] = result, hit
        return outputs, cached

    async def generate_many(
        self, model: Any, requests: Sequence[GenerateRequest], salts: Sequence[Any], label: str
    ) -> list[Generation]:
        """Generate for arbitrary requests (judges) through the cache; `salts` keep equal prompts apart."""
        provider = self.provider(model)
        identity = provider.identity()
        keys = []
        for request, salt in zip(requests, salts, strict=True):
            body = dataclasses.asdict(request)
            body.pop("variables", None)
            keys.append(content_hash({"model": identity, "op": "generate", "request": body, "salt": salt}))
        task = self.progress.start(label, len(requests))
        outputs, _ = await self._through_cache(
            provider.generate, "generate", Generation, requests, keys, task, counted=False
        )
        self.progress.finish(task)
        return [o if o is not None else Generation(error="not run") for o in outputs]


def _revive(result_type: type, value: dict[str, Any]) -> Any:
    fields = {f.name for f in dataclasses.fields(result_type)}
    data = {k: (tuple(v) if isinstance(v, list) else v) for k, v in value.items() if k in fields}
    return result_type(**data)


def _metric_json(result: MetricResult) -> dict[str, Any]:
    e = result.estimate
    out = {
        "value": jsonable(e.value),
        "ci_low": jsonable(e.ci_low),
        "ci_high": jsonable(e.ci_high),
        "n": e.n,
        "unscored": result.unscored,
    }
    if result.failures:
        out["failures"] = result.failures[:3]
    return out


def _sample_rows(
    ev: EvalPlan,
    model: str,
    samples: Sequence[Sample],
    outputs: Sequence[Output],
    cached: Sequence[bool],
    metrics: Sequence[MetricResult],
    judges: Sequence[JudgeResult],
) -> list[dict[str, Any]]:
    rows = []
    for i, (sample, out) in enumerate(zip(samples, outputs, strict=True)):
        row: dict[str, Any] = {
            "eval": ev.name,
            "model": model,
            "index": sample.index,
            "sample_key": sample.key,
            "inputs": sample.row,
            "prompt": list(sample.messages),
            "references": list(sample.references),
            "scores": {m.name: m.scores[i] for m in metrics} | {j.name: j.scores[i] for j in judges},
            "judges": {j.name: j.records[i] for j in judges if j.records[i] is not None},
            "error": sample.error or output_error(out) if (sample.error or out is not None) else None,
            "cached": cached[i],
        }
        if isinstance(out, Generation):
            row.update(
                output=out.text,
                latency=out.latency_s,
                prompt_tokens=out.prompt_tokens,
                completion_tokens=out.completion_tokens,
                cost=out.cost,
                truncated=out.truncated,
                finish_reason=out.finish_reason,
            )
        elif isinstance(out, ChoiceScores):
            row.update(
                choices=list(sample.choices),
                labels=list(sample.labels),
                logliks=list(out.logliks),
                truncated=out.truncated,
            )
        elif isinstance(out, TextScore):
            row.update(loglik=out.loglik, n_tokens=out.n_tokens, truncated=out.truncated)
        rows.append(row)
    return rows


async def _run_eval(ex: _Execution, ev: EvalPlan, results: list[dict[str, Any]], asserts: list[dict[str, Any]]) -> None:
    samples = ex.samples(ev)
    outputs_by_model: dict[str, list[Output]] = {}
    for run in ev.runs:
        node = ex.graph.node(run.call)
        assert isinstance(node, ModelNode)
        outputs, cached = await ex.call_model(node, samples)
        outputs_by_model[run.model] = outputs
        metric_results = []
        for metric_id in run.metrics:
            mnode = ex.graph.node(metric_id)
            assert isinstance(mnode, MetricNode)
            try:
                metric_results.append(
                    score_metric(mnode, samples, outputs, seed=ex.config.seed, n_boot=ex.config.n_boot)
                )
            except MetricError as exc:
                raise RunFailed(f"metric {mnode.name}: {exc}") from None
        judge_results = []
        for judge_id in run.judges:
            jnode = ex.graph.node(judge_id)
            assert isinstance(jnode, JudgeNode)
            if jnode.other_model is not None and jnode.other_model not in outputs_by_model:
                other_node = ex.graph.node(jnode.inputs[1])
                assert isinstance(other_node, ModelNode)
                outputs_by_model[jnode.other_model], _ = await ex.call_model(other_node, samples)
            judge_results.append(
                await run_judge(ex, jnode, samples, outputs, outputs_by_model.get(jnode.other_model or ""))
            )
        agg = ex.graph.node(run.aggregate)
        assert isinstance(agg, AggregateNode)
        errors = sum(
            1 for s, o in zip(samples, outputs, strict=True) if s.error is not None or output_error(o) is not None
        )
        gens = [o for o in outputs if isinstance(o, Generation) and o.error is None]
        truncated = sum(1 for o in outputs if o is not None and o.error is None and getattr(o, "truncated", False))
        metrics_json = {m.name: _metric_json(m) for m in metric_results}
        metrics_json.update({j.name: j.summary() for j in judge_results})
        result: dict[str, Any] = {
            "eval": ev.name,
            "model": run.model,
            "n": len(samples),
            "errors": errors,
            "truncated": truncated,
            "metrics": metrics_json,
        }
        if gens:
            tokens = [o.completion_tokens for o in gens if o.completion_tokens is not None]
            costs = [o.cost for o in gens if o.cost is not None]
            result["completion_tokens"] = sum(tokens) if tokens else None
            result["cost"] = sum(costs) if costs else None
        error_texts = sorted(
            {
                e
                for e in (
                    s.error or output_error(o)
                    for s, o in zip(samples, outputs, strict=True)
                    if s.error or (o is not None and o.error)
                )
                if e
            }
        )
        if error_texts:
            result["error_examples"] = error_texts[:3]
        results.append(result)
        for assert_id in run.asserts:
            anode = ex.graph.node(assert_id)
            assert isinstance(anode, AssertNode)
            value = metrics_json.get(anode.metric, {}).get("value")
            value_f = float("nan") if value is None else float(value)
            asserts.append(
                {
                    "eval": ev.name,
                    "model": run.model,
                    "expr": anode.text,
                    "value": jsonable(value_f),
                    "passed": compare(value_f, anode.op, anode.threshold),
                }
            )
        ex.store.add_samples(
            ex.run_id, _sample_rows(ev, run.model, samples, outputs, cached, metric_results, judge_results)
        )


async def run_graph(graph: Graph, config: RunConfig, progress: Progress | None = None) -> RunOutcome:
    """Run every eval of the graph; the run (even a failed or aborted one) is stored."""
    store = Store(config.store_dir)
    meta = {
        "spec_path": str(graph.spec),
        "spec_hash": graph.spec_hash,
        "git_commit": _git_commit(graph.spec.parent),
        "evaldsl_version": __version__,
        "options": config.options,
        "pid": os.getpid(),
        "evals": [ev.name for ev in graph.evals],
        "models": sorted({r.model for ev in graph.evals for r in ev.runs}),
    }
    run_id = store.begin_run(meta)
    ex = _Execution(graph, config, store, progress or NoProgress(), run_id)
    results: list[dict[str, Any]] = []
    asserts: list[dict[str, Any]] = []
    status, message = "completed", None
    started = time.monotonic()
    try:
        for ev in graph.evals:
            await _run_eval(ex, ev, results, asserts)
    except RunAborted as exc:
        status, message = "aborted", str(exc)
    except RunFailed as exc:
        status, message = "failed", str(exc)
    finally:
        await ex.close()
        summary = {
            "wall_s": round(time.monotonic() - started, 3),
            "cache_hits": ex.cache_hits,
            "model_calls": ex.model_calls,
            "errors": ex.errors,
            "message": message,
        }
        store.finish_run(
            run_id,
            status=status if status != "aborted" else "interrupted",
            results=results,
            asserts=asserts,
            summary=summary,
        )
        store.close()
    return RunOutcome(
        run_id=run_id,
        spec=str(graph.spec),
        status=status,
        results=results,
        asserts=asserts,
        message=message,
        cache_hits=ex.cache_hits,
        model_calls=ex.model_calls,
    )
