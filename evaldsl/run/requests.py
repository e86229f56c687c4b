"""What a run asks: an eval's rendered samples from its load and render nodes, and the provider request of each
sample — shared by the runner and the cost estimate, so both build exactly the same requests (and cache keys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..datasets.rows import DatasetError, fewshot_rows, load_rows
from ..plan.graph import EvalPlan, Graph, LoadNode, ModelNode, RenderNode
from ..providers.records import ChoiceRequest, GenerateRequest, TextRequest
from .samples import Sample, render_samples, repeat

RowSource = Callable[[LoadNode, "int | None"], list[dict[str, Any]]]


class RowCache:
    """A `RowSource` reading each dataset once per (load node, limit) for the life of one run or estimate; a
    dataset that cannot be read raises `failure(message)` (the caller's own error type)."""

    def __init__(self, failure: Callable[[str], Exception]) -> None:
        self._failure = failure
        self._rows: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, node: LoadNode, limit: int | None) -> list[dict[str, Any]]:
        key = f"{node.id}:{limit}"
        if key not in self._rows:
            try:
                self._rows[key] = load_rows(node.dataset, limit=limit)
            except DatasetError as exc:
                raise self._failure(f"dataset {node.dataset.name}: {exc}") from None
        return self._rows[key]


def eval_samples(graph: Graph, ev: EvalPlan, rows: RowSource) -> list[Sample]:
    """The rendered samples of one eval (each row `epochs` times); `rows(load_node, limit)` reads a dataset's
    rows."""
    render = graph.node(ev.render)
    load = graph.node(ev.load)
    assert isinstance(render, RenderNode) and isinstance(load, LoadNode)
    shots: list[dict[str, Any]] = []
    fewshot = render.prompt.fewshot if render.prompt is not None else None
    if render.fewshot_input is not None and fewshot is not None:
        shot_node = graph.node(render.fewshot_input)
        assert isinstance(shot_node, LoadNode)
        pool = rows(shot_node, fewshot.k if fewshot.first else None)
        shots = fewshot_rows(pool, fewshot.k, fewshot.seed, first=fewshot.first)
    derived = frozenset(name for name, _ in load.dataset.fields)
    return repeat(render_samples(render, rows(load, render.limit), shots, derived), render.epochs)


def model_request(node: ModelNode, render: RenderNode, sample: Sample) -> Any:
    """The request a model node sends for one (rendered) sample."""
    if node.kind == "generate":
        params = node.model.generation
        draw = None if params.deterministic else f"row:{sample.row_id}"
        if sample.epoch:  # a further attempt: its own draw (and seed), cached on its own
            draw = f"row:{sample.row_id}:epoch:{sample.epoch}"
            if params.seed is not None:
                params = params.model_copy(update={"seed": params.seed + sample.epoch})
        return GenerateRequest(messages=sample.messages, params=params, variables=sample.variables, draw=draw)
    if node.kind == "score_choices":
        continuations = tuple(render.delimiter + c for c in sample.choices)
        return ChoiceRequest(context=sample.context, continuations=continuations)
    return TextRequest(text=sample.text or "")


def model_requests(node: ModelNode, render: RenderNode, sample: Sample) -> list[Any]:
    """A sample's requests: one, or one per choice when each choice has its own context (`contexts`)."""
    if node.kind == "score_choices" and sample.contexts:
        return [ChoiceRequest(context=c, continuations=(render.delimiter + x,))
                for c, x in zip(sample.contexts, sample.choices, strict=True)]  # fmt: skip
    return [model_request(node, render, sample)]
