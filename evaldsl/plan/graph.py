"""The execution graph: typed nodes with content hashes, the only thing the runner sees."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..compile.model_config import Mode, ModelConfig
from ..compile.spec import DatasetDef, JudgeDef, PromptDef, SampleValue


class GraphNode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    id: str
    inputs: tuple[str, ...] = ()
    hash: str = ""  # everything that decides the node's output: its own settings and its inputs' hashes
    config_hash: str = ""  # its own settings only (what an edit of this very node changes)


class LoadNode(GraphNode):
    """Read a dataset (file or inline rows), filter, derive fields, shuffle, limit."""

    kind: Literal["load"] = "load"
    dataset: DatasetDef
    data_hash: str  # hash of the file's bytes or of the inline rows


class RenderNode(GraphNode):
    """Render each sample's prompt messages and per-sample values (target, choices, text...)."""

    kind: Literal["render"] = "render"
    eval: str
    mode: Mode
    prompt: PromptDef | None = None
    target: SampleValue | None = None
    incorrect: SampleValue | None = None
    choices: SampleValue | None = None
    labels: SampleValue | None = None
    text: SampleValue | None = None
    delimiter: str = " "
    contexts: SampleValue | None = None  # choice: a context per choice (partial scoring)
    limit: int | None = None
    fewshot_input: str | None = None  # id of the LoadNode of the few-shot dataset
    epochs: int = 1  # attempts per sample (hashed only when more than one)
    turns: Literal["final", "each"] = "final"  # conversations: score one reply per assistant turn (hashed if so)


class ModelNode(GraphNode):
    """Call one model on every rendered sample: generate text, score choices or score text."""

    kind: Literal["generate", "score_choices", "score_text"]
    eval: str
    model: ModelConfig
    user_model: ModelConfig | None = None  # a simulated user answering each reply (hashed only when given)
    user_prompt: SampleValue | None = None
    user_turns: int = 0


class MetricNode(GraphNode):
    """Score every sample of one eval × model with one metric and summarise it."""

    kind: Literal["metric"] = "metric"
    eval: str
    model: str
    name: str  # the name the eval lists
    family: str  # the built-in metric kind
    params: dict[str, Any] = Field(default_factory=dict)
    higher_is_better: bool = True
    range: tuple[float | None, float | None] | None = None
    source_hash: str | None = None  # python metrics: a hash of the module's source file
    tools: tuple[dict[str, Any], ...] = ()  # tool metrics: the model's tools (hashed only when given)
    base_dir: Annotated[Path, Field(exclude=True)]  # the declaring file's folder: python modules are found there


class JudgeNode(GraphNode):
    """Judge every sample of one eval × model (pairwise: against a second model) with one judge."""

    kind: Literal["judge"] = "judge"
    eval: str
    model: str  # the judged model (pairwise: the first of the pair)
    other_model: str | None = None  # pairwise: the second model
    judge: JudgeDef
    judge_model: ModelConfig


class AggregateNode(GraphNode):
    """The result of one eval × model: n, errors grouped by reason, each metric's summary, and whether the
    errors stay within `max_error_rate`."""

    kind: Literal["aggregate"] = "aggregate"
    eval: str
    model: str
    metrics: tuple[str, ...]
    max_error_rate: float = 0.0


class AssertNode(GraphNode):
    """Compare an aggregate of one metric of one eval × model with a threshold."""

    kind: Literal["assert"] = "assert"
    eval: str
    model: str
    aggregate: str
    metric: str
    op: str
    threshold: float
    text: str


Node = LoadNode | RenderNode | ModelNode | MetricNode | JudgeNode | AggregateNode | AssertNode


class ModelRun(BaseModel):
    """The nodes of one eval × model, in execution order."""

    model_config = ConfigDict(frozen=True)

    model: str
    call: str
    metrics: tuple[str, ...]
    judges: tuple[str, ...]
    aggregate: str
    asserts: tuple[str, ...]


class EvalPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    load: str
    render: str
    runs: tuple[ModelRun, ...]


class Graph(BaseModel):
    """Nodes in topological order, grouped per eval for the runner."""

    model_config = ConfigDict(frozen=True)

    spec: Path
    graph_hash: str  # a hash of every node's hash: equal graphs (selection included) do equal work
    nodes: dict[str, Node]
    evals: tuple[EvalPlan, ...]

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]
