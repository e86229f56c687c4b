"""Checked Spec → execution graph: load, render, model call, metrics, judges, aggregate and assert nodes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from ..compile.checks.metrics import bind_params
from ..compile.spec import DatasetDef, EvalDef, PromptDef, Spec
from ..hashing import canonical_json, content_hash, file_hash, without_spans
from ..metrics import BUILTIN_METRICS
from .graph import (
    AggregateNode,
    AssertNode,
    EvalPlan,
    Graph,
    GraphNode,
    JudgeNode,
    LoadNode,
    MetricNode,
    ModelNode,
    ModelRun,
    RenderNode,
)

_CALL_KIND = {"generate": "generate", "choice": "score_choices", "perplexity": "score_text"}


class PlanError(Exception):
    """A selection that matches nothing (unknown --eval / --model)."""


def _portable(payload: dict[str, Any]) -> dict[str, Any]:
    """Where files live is no part of a node's meaning: a dataset path keeps only its suffix (the file's bytes
    are hashed as `data_hash`) and a metric's `base_dir` is dropped, so moving a project keeps every hash."""
    payload = {k: v for k, v in payload.items() if k != "base_dir"}
    dataset = payload.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("path"), str):
        payload["dataset"] = {**dataset, "path": PurePath(dataset["path"]).suffix.lower()}
    return payload


def _finish(node: GraphNode, nodes: dict[str, Any]) -> Any:
    payload = _portable(without_spans(node.model_dump(mode="json", exclude={"id", "inputs", "hash"})))
    upstream = [nodes[i].hash for i in node.inputs]
    return node.model_copy(update={"hash": content_hash({"node": payload, "inputs": upstream})})


def _data_hash(ds: DatasetDef) -> str:
    if ds.rows is not None:
        return content_hash(list(ds.rows))
    assert ds.path is not None
    try:
        return file_hash(ds.path)
    except OSError:
        return "unreadable"


def _select(names: Sequence[str], wanted: Sequence[str] | None, what: str) -> list[str]:
    if not wanted:
        return list(names)
    chosen = [n for n in names if n in wanted or any(n.startswith(w + ".") for w in wanted)]
    missing = [w for w in wanted if not any(n == w or n.startswith(w + ".") for n in names)]
    if missing:
        raise PlanError(f"no {what} named {', '.join(missing)} (available: {', '.join(names) or 'none'})")
    return chosen


def plan(
    spec: Spec,
    *,
    evals: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    limit: int | None = None,
    seed: int = 0,
) -> Graph:
    """Build the graph of the selected evals and models; `limit` caps every eval's samples."""
    nodes: dict[str, Any] = {}

    def add(node: GraphNode) -> str:
        if node.id not in nodes:
            nodes[node.id] = _finish(node, nodes)
        return node.id

    def load(name: str) -> str:
        ds = spec.datasets[name]
        return add(LoadNode(id=f"load:{name}", dataset=ds, data_hash=_data_hash(ds)))

    eval_names = _select(list(spec.evals), evals, "eval")
    if models:
        _select(list(spec.models), models, "model")
    plans: list[EvalPlan] = []
    for eval_name in eval_names:
        ev: EvalDef = spec.evals[eval_name]
        chosen = [m.name for m in ev.models if not models or m.name in models]
        if not chosen:
            continue
        load_id = load(ev.dataset.name)
        prompt = spec.prompts[ev.prompt.name] if ev.prompt is not None else None
        if prompt is None and ev.inline_prompt is not None:
            prompt = PromptDef(name=f"{ev.name}.prompt", span=ev.inline_prompt.span, user=ev.inline_prompt)
        inputs = [load_id]
        fewshot_id = None
        if prompt is not None and prompt.fewshot is not None:
            fewshot_id = load(prompt.fewshot.dataset.name)
            inputs.append(fewshot_id)
        caps = [n for n in (ev.limit, limit) if n]
        render_id = add(
            RenderNode(
                id=f"render:{ev.name}",
                inputs=tuple(inputs),
                eval=ev.name,
                mode=ev.mode,
                prompt=prompt,
                target=ev.target,
                incorrect=ev.incorrect,
                choices=ev.choices,
                labels=ev.labels,
                text=ev.text,
                delimiter=ev.delimiter,
                limit=min(caps) if caps else None,
                fewshot_input=fewshot_id,
            )
        )
        call_ids = {
            m: add(
                ModelNode(
                    id=f"{_CALL_KIND[ev.mode]}:{ev.name}:{m}",
                    kind=_CALL_KIND[ev.mode],  # type: ignore[arg-type]
                    inputs=(render_id,),
                    eval=ev.name,
                    model=spec.models[m].config.model_copy(update=ev.overrides),
                )
            )
            for m in chosen
        }
        runs = []
        for index, m in enumerate(chosen):
            metric_ids, judge_ids = [], []
            for ref in ev.metrics:
                judge = spec.judges.get(ref.name)
                if judge is not None:
                    other = None
                    if judge.mode == "pairwise":
                        if index != 0 or len(chosen) < 2:
                            continue
                        other = chosen[1]
                    judge_inputs = (call_ids[m],) + ((call_ids[other],) if other else ())
                    judge_ids.append(
                        add(
                            JudgeNode(
                                id=f"judge:{ev.name}:{m}:{judge.name}",
                                inputs=judge_inputs,
                                eval=ev.name,
                                model=m,
                                other_model=other,
                                judge=judge,
                                judge_model=spec.models[judge.model.name].config,
                            )
                        )
                    )
                    continue
                if ref.name in spec.metrics:
                    mdef = spec.metrics[ref.name]
                    family, (params, _) = mdef.family, bind_params(BUILTIN_METRICS[mdef.family], mdef)
                else:
                    family, params = ref.name, {}
                metric_ids.append(
                    add(
                        MetricNode(
                            id=f"metric:{ev.name}:{m}:{ref.name}",
                            inputs=(call_ids[m],),
                            eval=ev.name,
                            model=m,
                            name=ref.name,
                            family=family,
                            params=params,
                            base_dir=spec.path.parent,
                        )
                    )
                )
            aggregate_id = add(
                AggregateNode(
                    id=f"aggregate:{ev.name}:{m}",
                    inputs=tuple(metric_ids + judge_ids),
                    eval=ev.name,
                    model=m,
                    metrics=tuple(
                        nodes[i].name if i in metric_ids else nodes[i].judge.name for i in metric_ids + judge_ids
                    ),
                    seed=seed,
                )
            )
            assert_ids = []
            for i, a in enumerate(ev.asserts):
                assert_ids.append(
                    add(
                        AssertNode(
                            id=f"assert:{ev.name}:{m}:{i}",
                            inputs=(aggregate_id,),
                            eval=ev.name,
                            model=m,
                            aggregate=a.aggregate,
                            metric=a.metric.name,
                            op=a.op,
                            threshold=a.threshold,
                            text=a.text,
                        )
                    )
                )
            runs.append(
                ModelRun(
                    model=m,
                    call=call_ids[m],
                    metrics=tuple(metric_ids),
                    judges=tuple(judge_ids),
                    aggregate=aggregate_id,
                    asserts=tuple(assert_ids),
                )
            )
        plans.append(EvalPlan(name=ev.name, load=load_id, render=render_id, runs=tuple(runs)))
    spec_hash = content_hash(canonical_json([nodes[k].hash for k in nodes]))
    return Graph(spec=spec.path, spec_hash=spec_hash, nodes=nodes, evals=tuple(plans))
