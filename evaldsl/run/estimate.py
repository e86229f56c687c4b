"""What a graph would cost, without calling a model: per eval × model (and per judge) the samples, calls, how
many answers are already in the response cache (exact: the same requests and cache keys the runner builds),
input tokens, estimated output tokens, cost from the price map and wall time from past runs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..compile.model_config import ModelConfig
from ..hashing import content_hash
from ..plan.graph import AssertNode, EvalPlan, Graph, JudgeNode, ModelNode, RenderNode
from ..providers import ProviderError, load_provider
from ..providers.estimates import TokenCounter, price, token_counter
from ..providers.records import ChoiceRequest, GenerateRequest, TextRequest
from ..results import MetricSummary
from ..store import Store
from .judging import judge_prompts, judge_requests, vote_draws
from .model_calls import cache_key
from .requests import RowCache, eval_samples, model_requests
from .samples import Sample


class EstimateError(Exception):
    """A dataset cannot be read, so the plan cannot count its samples."""


@dataclass(frozen=True)
class PlanLine:
    """One eval × model's model calls, or one judge's calls on it. Tokens and cost are for fresh (uncached)
    calls; `output_basis` says where the output estimate comes from ("max_tokens": an upper bound,
    "observed": the mean of the last run, "none": log-likelihood calls generate nothing)."""

    eval: str
    model: str
    called: str  # the model that answers (the judge's model on a judge line)
    kind: str  # generate, score_choices, score_text or judge
    judge: str | None
    samples: int
    calls: int
    cached: int
    input_tokens: int
    output_tokens: int
    output_basis: str
    token_basis: str
    cost_usd: float | None
    price: str
    wall_s: float | None
    note: str | None = None

    @property
    def fresh(self) -> int:
        return self.calls - self.cached

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "fresh": self.fresh}


@dataclass(frozen=True)
class Estimate:
    lines: tuple[PlanLine, ...]
    totals: dict[str, Any] = field(default_factory=dict)
    gates: tuple[str, ...] = ()  # W360 from past runs: asserts whose threshold lies within the expected CI

    def to_json(self) -> dict[str, Any]:
        return {"lines": [line.to_json() for line in self.lines], "totals": self.totals, "gates": list(self.gates)}


def _totals(lines: Sequence[PlanLine]) -> dict[str, Any]:
    unknown = sorted({ln.called for ln in lines if ln.cost_usd is None and ln.fresh})
    walls = [ln.wall_s for ln in lines if ln.fresh]
    return {
        "samples": sum(ln.samples for ln in lines if ln.kind != "judge"),
        "calls": sum(ln.calls for ln in lines),
        "cached": sum(ln.cached for ln in lines),
        "fresh": sum(ln.fresh for ln in lines),
        "input_tokens": sum(ln.input_tokens for ln in lines),
        "output_tokens": sum(ln.output_tokens for ln in lines),
        "cost_usd": None if unknown else round(sum(ln.cost_usd or 0.0 for ln in lines), 6),
        "unknown_prices": unknown,
        "wall_s": None if any(w is None for w in walls) else round(sum(w or 0.0 for w in walls), 3),
    }


@dataclass(frozen=True)
class _Past:
    mean_output: float | None  # mean completion tokens per answered sample
    s_per_call: float | None  # the run's wall time per fresh call
    metrics: dict[str, MetricSummary] = field(default_factory=dict)  # the run's summaries (value, CI, n)


def _history(store: Store | None, runs: int = 20) -> dict[tuple[str, str], _Past]:
    """The latest stored run of each eval × model: its mean reply length and its wall time per fresh call."""
    out: dict[tuple[str, str], _Past] = {}
    if store is None:
        return out
    for info in store.list_runs(limit=runs):
        record = store.get_run(info.id)
        calls, wall = record.summary.get("model_calls") or 0, record.summary.get("wall_s")
        rate = wall / calls if calls and wall is not None else None
        for r in record.results:
            answered = r.n - r.errors
            mean = r.completion_tokens / answered if r.completion_tokens is not None and answered > 0 else None
            if (r.eval, r.model) not in out and (mean is not None or rate is not None):
                out[(r.eval, r.model)] = _Past(mean, rate, dict(r.metrics))
    return out


class _Estimator:
    def __init__(self, graph: Graph, store: Store | None, use_cache: bool) -> None:
        self.graph, self.store, self.use_cache = graph, store, use_cache
        self.history = _history(store)
        self._providers: dict[str, tuple[Any, dict[str, Any] | None, TokenCounter, str | None]] = {}
        self.rows = RowCache(EstimateError)

    def provider(self, model: ModelConfig) -> tuple[Any, dict[str, Any] | None, TokenCounter, str | None]:
        """The provider (constructed, never loaded), its cache identity, a token counter, and why the cache
        cannot be consulted (a model that cannot be found)."""
        key = content_hash(model.loading_key())
        if key not in self._providers:
            try:
                provider = load_provider(model)
                identity, note = provider.identity(), None
            except ProviderError as exc:
                provider, identity, note = None, None, str(exc).splitlines()[0]
            self._providers[key] = (provider, identity, token_counter(model, provider), note)
        return self._providers[key]

    def cached(self, model: ModelConfig, op: str, requests: Sequence[Any]) -> list[Any]:
        """The cached answer of each request (None where it would be a fresh call)."""
        provider, identity, _, _ = self.provider(model)
        if not requests or not self.use_cache or self.store is None or provider is None or identity is None:
            return [None] * len(requests)
        keys = [cache_key(identity, op, provider.request_key(r)) for r in requests]
        hits = self.store.cache_get_many(keys)
        return [hits.get(k) for k in keys]

    def output_estimate(self, ev: str, model: ModelConfig, kind: str) -> tuple[float, str]:
        if kind != "generate":
            return 0.0, "none"
        past = self.history.get((ev, model.name))
        if past is not None and past.mean_output is not None:
            return min(past.mean_output, float(model.generation.max_tokens)), "observed"
        return float(model.generation.max_tokens), "max_tokens"

    def _input_tokens(self, counter: TokenCounter, request: Any) -> int:
        if isinstance(request, GenerateRequest):
            return counter.messages(request.messages)
        if isinstance(request, ChoiceRequest):
            ctx = counter.text(request.context)
            return sum(ctx + counter.text(c) for c in request.continuations)
        assert isinstance(request, TextRequest)
        return counter.text(request.text)

    def line(self, ev: str, model: str, cfg: ModelConfig, kind: str, judge: str | None, samples: int,
             requests: Sequence[Any], answers: Sequence[Any], extra: Sequence[float] = ()) -> PlanLine:  # fmt: skip
        """A line for `requests` of which `answers` are cached; `extra`: estimated tokens of each request not in
        its text yet (judged replies that do not exist yet)."""
        _, _, counter, note = self.provider(cfg)
        extra = list(extra) or [0.0] * len(requests)
        counts = [self._input_tokens(counter, r) + round(x) for r, x in zip(requests, extra, strict=True)]
        fresh = [k for k, a in enumerate(answers) if a is None]
        tokens_in, fresh_in = sum(counts), sum(counts[k] for k in fresh)
        if kind == "judge":  # a verdict: the judge model's max_tokens bounds it
            per_call, basis = float(cfg.generation.max_tokens), "max_tokens"
        else:
            per_call, basis = self.output_estimate(ev, cfg, kind)
        fresh_out = round(per_call * len(fresh))
        cost = price(cfg, fresh_in, fresh_out)
        past = self.history.get((ev, model))
        wall = 0.0 if not fresh else (past.s_per_call * len(fresh) if past and past.s_per_call is not None else None)
        return PlanLine(eval=ev, model=model, called=cfg.name, kind=kind, judge=judge, samples=samples,
                        calls=len(requests), cached=len(requests) - len(fresh),
                        input_tokens=tokens_in, output_tokens=fresh_out,
                        output_basis=basis if fresh else "cached", token_basis=counter.basis,
                        cost_usd=None if cost.usd is None else round(cost.usd, 6), price=cost.source,
                        wall_s=None if wall is None else round(wall, 3), note=note)  # fmt: skip

    def eval(self, ev: EvalPlan) -> list[PlanLine]:
        samples = eval_samples(self.graph, ev, self.rows)
        render = self.graph.node(ev.render)
        assert isinstance(render, RenderNode)
        usable = [s for s in samples if s.error is None]
        lines: list[PlanLine] = []
        texts: dict[str, list[str | None]] = {}  # per model: each usable sample's cached reply text
        per_call: dict[str, float] = {}
        for run in ev.runs:
            node = self.graph.node(run.call)
            assert isinstance(node, ModelNode)
            requests = [r for s in usable for r in model_requests(node, render, s)]
            answers = self.cached(node.model, node.kind, requests)
            texts[run.model] = [a.get("text") if a is not None else None for a in answers]
            per_call[run.model] = self.output_estimate(ev.name, node.model, node.kind)[0]
            lines.append(self.line(ev.name, run.model, node.model, node.kind, None, len(samples), requests, answers))
        for run in ev.runs:
            for judge_id in run.judges:
                jnode = self.graph.node(judge_id)
                assert isinstance(jnode, JudgeNode)
                lines.append(self.judge_line(ev.name, jnode, usable, texts, per_call, len(samples)))
        return lines

    def judge_line(self, ev: str, node: JudgeNode, usable: list[Sample], texts: dict[str, list[str | None]],
                   per_call: dict[str, float], n: int) -> PlanLine:  # fmt: skip
        """Judge calls: votes × orders per judged sample. A sample whose reply is cached is judged with its real
        prompt (so its cache status is exact); otherwise the prompt is built around an empty reply, the reply's
        estimated length is added to its tokens, and the call counts as fresh."""
        cfg = node.judge.config()
        mine, theirs = texts.get(node.model, []), texts.get(node.other_model or "", [])
        known = {i for i in range(len(usable)) if mine[i] is not None and (node.other_model is None
                                                                         or theirs[i] is not None)}  # fmt: skip
        replies = {i: mine[i] or "" for i in range(len(usable))}
        others = {i: theirs[i] or "" for i in range(len(usable))} if node.other_model else {}
        prompts, slots, _errors = judge_prompts(cfg, node, usable, replies, others)
        requests = judge_requests(node, cfg, prompts, vote_draws(slots))
        answers = self.cached(node.judge_model, "generate", requests)
        answers = [a if slots[k][0] in known else None for k, a in enumerate(answers)]
        unknown = per_call.get(node.model, 0.0) + (per_call.get(node.other_model, 0.0) if node.other_model else 0.0)
        extra = [0.0 if i in known else unknown for i, _, _ in slots]
        return self.line(ev, node.model, node.judge_model, "judge", cfg.name, n, requests, answers, extra)


def _gates(graph: Graph, lines: Sequence[PlanLine], history: dict[tuple[str, str], _Past]) -> list[str]:
    """W360 with past run variance: an assert whose threshold lies within the 95% CI half-width expected at this
    run's n — the last run's half-width scaled by √(n_then / n_now) — around the last run's value."""
    sizes = {(ln.eval, ln.model): ln.samples for ln in lines if ln.kind != "judge"}
    out = []
    for node in graph.nodes.values():
        if not isinstance(node, AssertNode):
            continue
        past = history.get((node.eval, node.model))
        m = past.metrics.get(node.metric) if past is not None else None
        n_now = sizes.get((node.eval, node.model))
        if m is None or m.value is None or m.ci_low is None or m.ci_high is None or not m.n or not n_now:
            continue
        half = (m.ci_high - m.ci_low) / 2 * math.sqrt(m.n / n_now)
        if abs(m.value - node.threshold) < half:
            out.append(f"warning[W360]: {node.eval} · {node.model}: `{node.text}` flips by chance: the last run "
                       f"measured {m.value:.3g}, and at n = {n_now} its 95% CI is about ±{half:.3g}")  # fmt: skip
    return out


def estimate(graph: Graph, store: Store | None, *, use_cache: bool = True) -> Estimate:
    """The plan's figures for every eval × model of `graph`; `store` (None: none yet) gives the response cache
    and past runs. Raises EstimateError when a dataset cannot be read."""
    est = _Estimator(graph, store, use_cache)
    lines = [line for ev in graph.evals for line in est.eval(ev)]
    return Estimate(tuple(lines), _totals(lines), tuple(_gates(graph, lines, est.history)))
