"""Run a judge node: judge prompts per sample, judge calls through the cache (votes, swapped orders, one retry
of unparseable replies) or, for likelihood verdicts, one scoring call per sample; verdicts → per-sample scores,
per-sample judge errors, records and a summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..compile.spec import JudgeDef
from ..compile.templating import TemplateError
from ..judges.config import JudgeConfig, JudgeError
from ..judges.likelihood import argmax_reply, options, uses_likelihood, verdict_from
from ..judges.prompts import build_pairwise_messages, build_single_messages, response_format
from ..judges.verdicts import PairVerdict, Verdict, parse_pairwise, parse_single
from ..judges.votes import aggregate_pair_votes, aggregate_votes, combine_swapped, human_verdict
from ..plan.graph import JudgeNode
from ..providers.records import ChoiceRequest, GenerateRequest, Generation
from ..results import MetricSummary, finite
from ..stats.agreement import agreement
from .model_calls import ModelCalls
from .samples import Sample
from .scoring import Output, estimate_of, usable

Slot = tuple[int, int, bool]  # (sample, vote, swapped)


@dataclass
class JudgeScores:
    """One judge of one eval × model: per-sample scores (None = unscored or not judged), samples whose judging
    failed (index → reason: sample errors), stored records, and the summary."""

    name: str
    scores: list[float | None]
    summary: MetricSummary
    records: list[dict[str, Any] | None]
    errors: dict[int, str] = field(default_factory=dict)


def _variables(judge: JudgeDef, sample: Sample) -> dict[str, Any]:
    """What the rubric/reference templates see: the sample's fields and template parameters — never the judged
    output, which must stay inside its delimited block."""
    return {**judge.rubric.params, **sample.row, "row": sample.row}


def judge_prompts(
    cfg: JudgeConfig, node: JudgeNode, samples: Sequence[Sample], texts: dict[int, str], other: dict[int, str],
    plain: bool = False,
) -> tuple[list[list[dict[str, str]]], list[Slot], dict[int, str]]:
    """Judge messages for every vote (and swapped order) of every judgeable sample; samples whose rubric or
    reference cannot be rendered are errors."""
    prompts: list[list[dict[str, str]]] = []
    slots: list[Slot] = []
    errors: dict[int, str] = {}
    for i, text in texts.items():
        s = samples[i]
        variables = _variables(node.judge, s)
        try:
            for vote in range(cfg.votes):
                if cfg.mode == "single":
                    prompts.append(build_single_messages(cfg, question=s.question, response=text,
                                                         variables=variables, plain=plain))  # fmt: skip
                    slots.append((i, vote, False))
                    continue
                orders = [(text, other[i], False)] + ([(other[i], text, True)] if cfg.swap else [])
                for a, b, swapped in orders:
                    prompts.append(build_pairwise_messages(cfg, question=s.question, response_a=a, response_b=b,
                                                           variables=variables))  # fmt: skip
                    slots.append((i, vote, swapped))
        except (TemplateError, JudgeError) as exc:
            errors[i] = f"judge {cfg.name}: rubric or reference: {exc}"
            while slots and slots[-1][0] == i:
                slots.pop()
                prompts.pop()
    return prompts, slots, errors


def judge_requests(node: JudgeNode, cfg: JudgeConfig, prompts: list[list[dict[str, str]]],
                   draws: list[str]) -> list[GenerateRequest]:  # fmt: skip
    """The judge model's requests: one per prompt, each with its draw (vote and order) and the verdict schema."""
    schema = response_format(cfg)
    params = node.judge_model.generation
    return [
        GenerateRequest(messages=tuple(m), params=params, response_format=schema, draw=d)
        for m, d in zip(prompts, draws, strict=True)
    ]


def vote_draws(slots: list[Slot]) -> list[str]:
    return [f"vote:{v}:{int(sw)}" for _, v, sw in slots]


async def _ask(calls: ModelCalls, node: JudgeNode, cfg: JudgeConfig, prompts: list[list[dict[str, str]]],
               draws: list[str], label: str) -> list[Generation]:  # fmt: skip
    requests = judge_requests(node, cfg, prompts, draws)
    task = calls.progress.start(label, len(requests))
    replies, _ = await calls.ask(node.judge_model, "generate", requests, task, counted=False)
    calls.progress.finish(task)
    return replies


def _combine(cfg: JudgeConfig, items: list[tuple[bool, Verdict | PairVerdict]]) -> Verdict | PairVerdict:
    if cfg.mode == "single":
        return aggregate_votes(cfg, [v for _, v in items])  # type: ignore[misc]
    firsts = aggregate_pair_votes([v for sw, v in items if not sw])  # type: ignore[misc]
    if not cfg.swap:
        return firsts
    return combine_swapped(firsts, aggregate_pair_votes([v for sw, v in items if sw]))  # type: ignore[misc]


async def run_judge(
    calls: ModelCalls,
    node: JudgeNode,
    samples: Sequence[Sample],
    outputs: Sequence[Output],
    other: Sequence[Output] | None,
    *,
    seed: int = 0,
    n_boot: int = 1000,
) -> JudgeScores:
    cfg = node.judge.config()
    judgeable = [
        i for i, (s, o) in enumerate(zip(samples, outputs, strict=True))
        if usable(s, o) and (other is None or usable(s, other[i]))
    ]  # fmt: skip
    texts = {i: outputs[i].text for i in judgeable}  # type: ignore[union-attr]
    if uses_likelihood(cfg, node.judge_model.provider):
        return await _run_likelihood(calls, node, cfg, samples, texts, seed, n_boot)
    others = {i: other[i].text for i in judgeable} if other is not None else {}  # type: ignore[union-attr]
    prompts, slots, errors = judge_prompts(cfg, node, samples, texts, others)
    label = f"{node.eval} · {node.model} · judge {cfg.name}"
    replies = await _ask(calls, node, cfg, prompts, vote_draws(slots), label)
    parse = parse_single if cfg.mode == "single" else parse_pairwise

    def judged(k: int) -> list[str]:  # the response(s) a reply must not repeat
        i = slots[k][0]
        return [texts[i], others[i]] if others else [texts[i]]

    parsed: list[Verdict | PairVerdict] = [parse(cfg, r.text, judged(k)) if r.error is None
                                           else _failed(cfg, r.error) for k, r in enumerate(replies)]  # fmt: skip
    # One retry for each unparseable verdict (a fresh draw), then it stays unscored.
    retry = [k for k, (v, r) in enumerate(zip(parsed, replies, strict=True)) if not v.scored and r.error is None]
    if retry:
        draws = [f"retry:{slots[k][1]}:{int(slots[k][2])}" for k in retry]
        again = await _ask(calls, node, cfg, [prompts[k] for k in retry], draws, label + " (retry)")
        for k, r in zip(retry, again, strict=True):
            if r.error is None and (v := parse(cfg, r.text, judged(k))).scored:
                parsed[k], replies[k] = v, r
    per_sample: dict[int, list[tuple[bool, Verdict | PairVerdict, Generation, list[dict[str, str]]]]] = {}
    for (i, _vote, swapped), v, r, p in zip(slots, parsed, replies, prompts, strict=True):
        per_sample.setdefault(i, []).append((swapped, v, r, p))
    scores: list[float | None] = [None] * len(samples)
    records: list[dict[str, Any] | None] = [None] * len(samples)
    verdicts: list[Verdict | PairVerdict | None] = [None] * len(samples)
    for i, items in per_sample.items():
        failed = [r.error for _, _, r, _ in items if r.error is not None]
        if failed:  # a judge call that failed after the provider's retries: an error, not a low score
            errors[i] = f"judge {cfg.name}: call failed: {failed[0]}"
            continue
        final = _combine(cfg, [(sw, v) for sw, v, _, _ in items])
        verdicts[i], scores[i] = final, final.score
        records[i] = _record(final, items)
    return JudgeScores(cfg.name, scores, _summary(cfg, node, samples, per_sample, scores, verdicts, errors,
                                                  seed, n_boot), records, errors)  # fmt: skip


async def _run_likelihood(calls: ModelCalls, node: JudgeNode, cfg: JudgeConfig, samples: Sequence[Sample],
                          texts: dict[int, str], seed: int, n_boot: int) -> JudgeScores:  # fmt: skip
    """Score every allowed verdict as the judge's reply after its prompt (one deterministic call per sample)."""
    cfg = replace(cfg, votes=1)
    prompts, slots, errors = judge_prompts(cfg, node, samples, texts, {}, plain=True)
    replies_allowed = tuple(reply for reply, _ in options(cfg))
    chat = node.judge_model.generation.chat_template
    requests = [ChoiceRequest(context="", continuations=replies_allowed, messages=tuple(p), chat_template=chat)
                for p in prompts]  # fmt: skip
    task = calls.progress.start(f"{node.eval} · {node.model} · judge {cfg.name} (likelihood)", len(requests))
    results, _ = await calls.ask(node.judge_model, "score_choices", requests, task, counted=False)
    calls.progress.finish(task)
    scores: list[float | None] = [None] * len(samples)
    records: list[dict[str, Any] | None] = [None] * len(samples)
    verdicts: list[Verdict | PairVerdict | None] = [None] * len(samples)
    per_sample: dict[int, list[Any]] = {}
    counts: dict[str, int] = dict.fromkeys(replies_allowed, 0)
    for (i, _, _), prompt, result in zip(slots, prompts, results, strict=True):
        per_sample[i] = [result]
        if result.error is not None:
            errors[i] = f"judge {cfg.name}: call failed: {result.error}"
            continue
        found = verdict_from(cfg, result.logliks)
        if found.verdict.score is None:
            errors[i] = f"judge {cfg.name}: {found.verdict.error}"
            continue
        likeliest = argmax_reply(found)
        counts[likeliest or ""] = counts.get(likeliest or "", 0) + 1
        verdicts[i], scores[i] = found.verdict, found.verdict.score
        records[i] = {
            "verdict": {"score": found.verdict.score, "label": likeliest, "winner": None, "error": None,
                        "distribution": found.distribution},
            "calls": [{"prompt": prompt, "reply": likeliest, "error": None, "swapped": False,
                       "logliks": dict(zip(replies_allowed, result.logliks, strict=True))}],
        }  # fmt: skip
    summary = _summary(cfg, node, samples, per_sample, scores, verdicts, errors, seed, n_boot)
    return JudgeScores(cfg.name, scores, replace(summary, outcomes=counts), records, errors)


def _record(final: Verdict | PairVerdict, items: list[tuple[bool, Any, Generation, Any]]) -> dict[str, Any]:
    return {
        "verdict": {
            "score": final.score,
            "label": getattr(final, "label", None),
            "winner": getattr(final, "winner", None),
            "error": final.error,
        },  # fmt: skip
        "calls": [
            {
                "prompt": p,
                "reply": r.text,
                "error": r.error,
                "swapped": sw,
                "parsed": {"score": v.score, "error": v.error, "reasoning": v.reasoning},
            }  # fmt: skip
            for sw, v, r, p in items
        ],
    }


def _summary(
    cfg: JudgeConfig,
    node: JudgeNode,
    samples: Sequence[Sample],
    per_sample: dict[int, list[Any]],
    scores: list[float | None],
    verdicts: list[Verdict | PairVerdict | None],
    errors: dict[int, str],
    seed: int,
    n_boot: int,
) -> MetricSummary:
    judged = [i for i in per_sample if i not in errors]
    estimate, unscored = estimate_of([scores[i] for i in judged], seed=seed, n_boot=n_boot)
    outcomes = None
    if cfg.mode == "pairwise":
        won = [scores[i] for i in judged if scores[i] is not None]
        outcomes = {"win": won.count(1.0), "tie": won.count(0.5), "loss": won.count(0.0)}
    human = None
    if cfg.human is not None:
        labels = [human_verdict(cfg, _variables(node.judge, samples[i])) if i in judged else None
                  for i in range(len(samples))]  # fmt: skip
        scale = cfg.mode == "single" and not cfg.choices
        human = {
            k: finite(v) if isinstance(v, float) else v for k, v in agreement(verdicts, labels, scale=scale).items()
        }
    return MetricSummary.from_estimate(
        estimate,
        unscored=unscored,
        family="judge",
        kind="judge",
        higher_is_better=True,
        range=cfg.range,
        unscored_rate=unscored / len(judged) if judged else None,
        outcomes=outcomes,
        human_agreement=human,
    )


def _failed(cfg: JudgeConfig, error: str) -> Verdict | PairVerdict:
    reason = f"judge call failed: {error}"
    return Verdict(score=None, error=reason) if cfg.mode == "single" else PairVerdict(winner=None, error=reason)
