"""Checked Spec → execution graph: load, render, model call, metric, judge, aggregate and assert nodes, each
with a content hash of its own settings (`config_hash`) and of everything upstream (`hash`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePath
from typing import Any

from ..compile.spec import DatasetDef, EvalDef, JudgeDef, MetricDef, PromptDef, Spec
from ..datasets import hub
from ..hashing import content_hash, file_hash, without_spans
from ..metrics import BUILTIN_METRICS, EXTRACTORS, REPEATS, bind_params, metric_direction
from ..metrics.user import module_file
from .graph import (
    AggregateNode,
    AssertNode,
    EvalPlan,
    Graph,
    JudgeNode,
    LoadNode,
    MetricNode,
    ModelNode,
    ModelRun,
    Node,
    RenderNode,
)

_CALL_KIND = {"generate": "generate", "choice": "score_choices", "perplexity": "score_text"}
_NOT_HASHED = {"id", "inputs", "hash", "config_hash"}


class PlanError(Exception):
    """A selection that matches nothing (unknown --eval / --model)."""


def _portable(payload: dict[str, Any]) -> dict[str, Any]:
    """Where files live is no part of a node's meaning (folders are never dumped): a dataset path keeps only its
    suffix (the file's bytes are hashed as `data_hash`), so moving a project keeps every hash."""
    dataset = payload.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("path"), str):
        return {**payload, "dataset": {**dataset, "path": PurePath(dataset["path"]).suffix.lower()}}
    return payload


def _finish(node: Node, nodes: dict[str, Node]) -> Node:
    payload = _portable(without_spans(node.model_dump(mode="json", exclude=_NOT_HASHED)))
    if "user_model" in payload and payload["user_model"] is None:
        for key in ("user_model", "user_prompt", "user_turns"):  # no simulated user: hashed as before
            payload.pop(key, None)
    prompt = payload.get("prompt")
    if isinstance(prompt, dict) and prompt.get("messages") is None:
        prompt.pop("messages", None)  # a prompt without a conversation hashes as before conversations existed
    if payload.get("turns") == "final":
        del payload["turns"]  # the reply that ends the conversation: what every graph did before `turns`
    if payload.get("epochs") == 1:
        del payload["epochs"]  # one attempt per sample is what every graph did before `epochs` existed
    if payload.get("kind") == "metric" and not payload.get("tools"):
        payload.pop("tools", None)  # likewise for metrics of models without tools
    own = content_hash(payload)
    upstream = [nodes[i].hash for i in node.inputs]
    return node.model_copy(update={"config_hash": own, "hash": content_hash({"node": own, "inputs": upstream})})


def _data_hash(ds: DatasetDef) -> str:
    if ds.rows is not None:
        return content_hash(list(ds.rows))
    if ds.hf is not None:
        try:
            return hub.fingerprint(ds)
        except OSError:
            return "unreadable"
    assert ds.path is not None
    try:
        return file_hash(ds.path)
    except OSError:
        return "unreadable"


def _select(names: Sequence[str], wanted: Sequence[str] | None, what: str) -> list[str]:
    if not wanted:
        return list(names)
    def within(n: str, w: str) -> bool:  # a template instance's evals, an eval's variants
        return n == w or n.startswith((w + ".", w + "["))

    chosen = [n for n in names if any(within(n, w) for w in wanted)]
    missing = [w for w in wanted if not any(within(n, w) for n in names)]
    if missing:
        raise PlanError(f"no {what} named {', '.join(missing)} (available: {', '.join(names) or 'none'})")
    return chosen


def _eval_prompt(spec: Spec, ev: EvalDef) -> PromptDef | None:
    if ev.prompt is not None:
        return spec.prompts[ev.prompt.name]
    if ev.inline_prompt is not None:
        return PromptDef(name=f"{ev.name}.prompt", span=ev.inline_prompt.span, user=ev.inline_prompt)
    return None


def _source_hash(family: str, params: dict[str, Any], mdef: MetricDef | None) -> str | None:
    """A python metric's module source (or a json_schema's schema file) is part of its meaning: editing the
    file changes the node's hash; an extractor has the hash of the metric scoring its part."""
    if family in EXTRACTORS | REPEATS and isinstance(params.get("metric"), dict):
        return _source_hash(params["metric"]["family"], params["metric"]["params"], mdef)
    if mdef is None:
        return None
    if family == "json_schema" and isinstance(params.get("schema"), str):
        path = mdef.base_dir / params["schema"]
    elif family == "python":
        module = str(params.get("path", "")).partition(":")[0]
        path = module_file(mdef.base_dir, module) if module else None
    else:
        return None
    try:
        return file_hash(path) if path is not None else "unresolved"
    except OSError:
        return "unreadable"


class _Planner:
    """Adds nodes once each (a node id names what it computes), hashing each from its inputs."""

    def __init__(self, spec: Spec, max_error_rate: float | None) -> None:
        self.spec = spec
        self.max_error_rate = max_error_rate
        self.nodes: dict[str, Node] = {}

    def add(self, node: Node) -> str:
        if node.id not in self.nodes:
            self.nodes[node.id] = _finish(node, self.nodes)
        return node.id

    def load(self, name: str) -> str:
        ds = self.spec.datasets[name]
        return self.add(LoadNode(id=f"load:{name}", dataset=ds, data_hash=_data_hash(ds)))

    def render(self, ev: EvalDef, limit: int | None) -> str:
        prompt = _eval_prompt(self.spec, ev)
        inputs = [self.load(ev.dataset.name)]
        fewshot_id = None
        if prompt is not None and prompt.fewshot is not None:
            fewshot_id = self.load(prompt.fewshot.dataset.name)
            inputs.append(fewshot_id)
        caps = [n for n in (ev.limit, limit) if n]
        return self.add(
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
                contexts=ev.contexts,
                limit=min(caps) if caps else None,
                fewshot_input=fewshot_id,
                epochs=ev.epochs,
                turns=ev.turns,
            )
        )

    def metric(self, ev: EvalDef, model: str, call_id: str, name: str) -> str:
        mdef = self.spec.metrics.get(name)
        family, params = self.configured(name, ())
        higher, value_range = metric_direction(family, params)
        return self.add(
            MetricNode(
                id=f"metric:{ev.name}:{model}:{name}",
                inputs=(call_id,),
                eval=ev.name,
                model=model,
                name=name,
                family=family,
                params=params,
                higher_is_better=higher,
                range=value_range,
                source_hash=_source_hash(family, params, mdef),
                tools=self.spec.models[model].config.tools if family == "tool_calls_valid" else (),
                base_dir=mdef.base_dir if mdef is not None else self.spec.path.parent,
            )
        )

    def simulated(self, ev: EvalDef, kind: str) -> dict[str, Any]:
        """A simulated user's settings for a generate call (none without one)."""
        if ev.simulated_user is None or kind != "generate":
            return {}
        return {"user_model": self.spec.models[ev.simulated_user.name].config, "user_prompt": ev.user_prompt,
                "user_turns": ev.user_turns}  # fmt: skip

    def configured(self, name: str, chain: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
        """A metric name → (family, bound parameters); an extractor's `metric` that names a `metric` definition
        becomes that definition's {family, params}, so the node's hash covers it (the check refused cycles)."""
        mdef = self.spec.metrics.get(name)
        if mdef is None or name in chain:
            return name, {}
        params, _ = bind_params(BUILTIN_METRICS[mdef.family], mdef.args, mdef.params)
        inner = params.get("metric")
        if mdef.family in EXTRACTORS | REPEATS and isinstance(inner, str) and inner in self.spec.metrics:
            family, inner_params = self.configured(inner, (*chain, name))
            params["metric"] = {"family": family, "params": inner_params}
        return mdef.family, params

    def judge(self, ev: EvalDef, judge: JudgeDef, model: str, other: str | None, calls: dict[str, str]) -> str:
        return self.add(
            JudgeNode(
                id=f"judge:{ev.name}:{model}:{judge.name}",
                inputs=(calls[model],) + ((calls[other],) if other else ()),
                eval=ev.name,
                model=model,
                other_model=other,
                judge=judge,
                judge_model=self.spec.models[judge.model.name].config,
            )
        )

    def model_run(self, ev: EvalDef, index: int, chosen: list[str], calls: dict[str, str]) -> ModelRun:
        m = chosen[index]
        metric_ids, judge_ids, names = [], [], []
        for ref in ev.metrics:
            judge = self.spec.judges.get(ref.name)
            if judge is None:
                metric_ids.append(self.metric(ev, m, calls[m], ref.name))
                names.append(ref.name)
                continue
            other = None
            if judge.mode == "pairwise":
                if index != 0 or len(chosen) < 2:
                    continue  # a pairwise judge compares the first two models, once
                other = chosen[1]
            judge_ids.append(self.judge(ev, judge, m, other, calls))
            names.append(judge.name)
        rate = self.max_error_rate if self.max_error_rate is not None else ev.max_error_rate
        aggregate_id = self.add(
            AggregateNode(
                id=f"aggregate:{ev.name}:{m}",
                inputs=(calls[m], *metric_ids, *judge_ids),
                eval=ev.name,
                model=m,
                metrics=tuple(names),
                max_error_rate=rate,
            )
        )
        assert_ids = [
            self.add(
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
            for i, a in enumerate(ev.asserts)
        ]
        return ModelRun(model=m, call=calls[m], metrics=tuple(metric_ids), judges=tuple(judge_ids),
                        aggregate=aggregate_id, asserts=tuple(assert_ids))  # fmt: skip

    def eval(self, ev: EvalDef, models: Sequence[str] | None, limit: int | None) -> EvalPlan | None:
        chosen = [m.name for m in ev.models if not models or m.name in models]
        if not chosen:
            return None
        render_id = self.render(ev, limit)
        kind = _CALL_KIND[ev.mode]
        calls = {
            m: self.add(
                ModelNode(
                    id=f"{kind}:{ev.name}:{m}",
                    kind=kind,  # type: ignore[arg-type]
                    inputs=(render_id,),
                    eval=ev.name,
                    model=self.spec.models[m].config.with_generation(ev.overrides),
                    **self.simulated(ev, kind),
                )
            )
            for m in chosen
        }
        runs = tuple(self.model_run(ev, i, chosen, calls) for i in range(len(chosen)))
        return EvalPlan(name=ev.name, load=self.load(ev.dataset.name), render=render_id, runs=runs)


def plan(
    spec: Spec,
    *,
    evals: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    limit: int | None = None,
    max_error_rate: float | None = None,
) -> Graph:
    """Build the graph of the selected evals and models; `limit` caps every eval's samples and
    `max_error_rate` replaces every eval's own tolerance of sample errors."""
    planner = _Planner(spec, max_error_rate)
    eval_names = _select(list(spec.evals), evals, "eval")
    if models:
        _select(list(spec.models), models, "model")
    plans = [p for name in eval_names if (p := planner.eval(spec.evals[name], models, limit)) is not None]
    graph_hash = content_hash([node.hash for node in planner.nodes.values()])
    return Graph(spec=spec.path, graph_hash=graph_hash, nodes=planner.nodes, evals=tuple(plans))
