"""Execution graph → text a reader can follow, Graphviz DOT, or JSON."""

from __future__ import annotations

import json
from pathlib import Path

from ..plan.graph import Graph, JudgeNode, LoadNode, MetricNode, ModelNode, RenderNode


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return path.name


def _short(h: str) -> str:
    return h[:10]


def _describe(node: object) -> str:
    if isinstance(node, LoadNode):
        ds = node.dataset
        src = _display(ds.path) if ds.path else (f"hf {ds.hf}" if ds.hf else f"{len(ds.rows or ())} inline rows")
        extras = [
            f"limit {ds.limit}" if ds.limit else "",
            f"shuffle {ds.shuffle}" if ds.shuffle is not None else "",
            "where" if ds.where else "",
            f"{len(ds.fields)} derived field(s)" if ds.fields else "",
        ]
        return f"dataset {ds.name} ← {src}" + "".join(f", {e}" for e in extras if e)
    if isinstance(node, RenderNode):
        prompt = node.prompt.name if node.prompt else "text"
        shots = f", {node.prompt.fewshot.k}-shot" if node.prompt and node.prompt.fewshot else ""
        limit = f", limit {node.limit}" if node.limit else ""
        return f"render {node.mode} samples with prompt {prompt}{shots}{limit}"
    if isinstance(node, ModelNode):
        m = node.model
        what = {"generate": "generate with", "score_choices": "score choices with", "score_text": "score text with"}[
            node.kind
        ]
        g = m.generation
        params = f"max_tokens={g.max_tokens}, temperature={g.temperature}" if node.kind == "generate" else ""
        return f"{what} {m.name} ({m.provider}:{m.id or m.response or 'echo'}{', ' + params if params else ''})"
    if isinstance(node, MetricNode):
        params = ", ".join(f"{k}={v!r}" for k, v in node.params.items())
        family = f" = {node.family}({params})" if node.family != node.name or params else ""
        return f"metric {node.name}{family}"
    if isinstance(node, JudgeNode):
        vs = f" vs {node.other_model}" if node.other_model else ""
        return f"judge {node.judge.name} by {node.judge_model.name} ({node.judge.mode}{vs})"
    kind = getattr(node, "kind", "")
    if kind == "aggregate":
        tolerance = f", tolerating {node.max_error_rate:g} errors" if node.max_error_rate else ""  # type: ignore[attr-defined]
        return f"aggregate {', '.join(node.metrics)} (95% bootstrap CI{tolerance})"  # type: ignore[attr-defined]
    if kind == "assert":
        return f"assert {node.text}"  # type: ignore[attr-defined]
    return kind


def to_text(graph: Graph) -> str:
    lines = [f"graph of {graph.spec.name}  ({len(graph.nodes)} nodes, graph hash {_short(graph.graph_hash)})"]
    for ev in graph.evals:
        lines.append("")
        lines.append(f"eval {ev.name}")
        render = graph.nodes[ev.render]
        for input_id in render.inputs:
            lines.append(f"  ├─ {_describe(graph.nodes[input_id])}  [{_short(graph.nodes[input_id].hash)}]")
        lines.append(f"  └─ {_describe(render)}  [{_short(render.hash)}]")
        for r_index, run in enumerate(ev.runs):
            last_run = r_index == len(ev.runs) - 1
            branch, pad = ("└─", "   ") if last_run else ("├─", "│  ")
            call = graph.nodes[run.call]
            lines.append(f"     {branch} {_describe(call)}  [{_short(call.hash)}]")
            children = [*run.metrics, *run.judges, run.aggregate, *run.asserts]
            for c_index, child in enumerate(children):
                twig = "└─" if c_index == len(children) - 1 else "├─"
                lines.append(f"     {pad} {twig} {_describe(graph.nodes[child])}  [{_short(graph.nodes[child].hash)}]")
    return "\n".join(lines)


def to_dot(graph: Graph) -> str:
    out = ["digraph evaldsl {", "  rankdir=LR;", '  node [shape=box, fontname="Helvetica", fontsize=10];']
    for node_id, node in graph.nodes.items():
        label = _describe(node).replace('"', '\\"')
        out.append(f'  "{node_id}" [label="{label}\\n{_short(node.hash)}"];')
    for node_id, node in graph.nodes.items():
        for src in node.inputs:
            out.append(f'  "{src}" -> "{node_id}";')
    out.append("}")
    return "\n".join(out)


def to_json(graph: Graph) -> str:
    nodes = [
        {"id": node_id, "kind": node.kind, "hash": node.hash, "inputs": list(node.inputs), "label": _describe(node)}
        for node_id, node in graph.nodes.items()
    ]
    evals = [ev.model_dump(mode="json") for ev in graph.evals]
    data = {"spec": str(graph.spec), "graph_hash": graph.graph_hash, "nodes": nodes, "evals": evals}
    return json.dumps(data, indent=2)
